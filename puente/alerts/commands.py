"""`puente subscribers import FILE.csv`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from puente.alerts.importer import COLUMNS, ImportFileError, ImportReport, Problem, SubscriberImport
from puente.config import load_settings
from puente.db import DATABASE_ERRORS
from puente.i18n import registry
from puente.services import Services


@click.group()
def subscribers() -> None:
    """People who get alerts."""


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Add the people FILE.csv lists, with the consent each gave.

    Columns: phone,language,jurisdiction,topics,channel,consent_at,consent_source.
    Refused rows are named (by row and column, never the number) and counted; the
    rest are imported. Running the same file again changes nothing.
    """
    settings = load_settings()
    services = Services(settings)
    vault = services.vault
    database = services.database

    def refused(row: int, problems: list[Problem]) -> None:
        click.echo(f"puente: {file}: row {row}: {'; '.join(str(p) for p in problems)}", err=True)

    def progress(rows: int, fraction: float | None) -> None:
        done = f" ({fraction:.0%} of the file)" if fraction is not None else ""
        click.echo(f"subscribers: {rows} rows read{done}", err=True)

    job = SubscriberImport(database, vault, languages=registry().codes, on_refused=refused, progress=progress)
    try:
        # STOPs kept while the database was down come first: a list must not outrun an opt-out.
        applied = services.apply_spooled_optouts(30.0)
        if applied:
            click.echo(f"subscribers: applied {applied} opt-outs kept while the database was down", err=True)
        report = job.run(file)
    except ImportFileError as error:
        click.echo(f"puente: {file}: {error}", err=True)
        _stopped(job.report)
        sys.exit(1)
    except DATABASE_ERRORS as error:
        click.echo(f"puente: the database is unavailable ({type(error).__name__})", err=True)
        _stopped(job.report)
        sys.exit(1)
    finally:
        database.dispose()
    for line in report.lines():
        click.echo(line)


def _stopped(report: ImportReport) -> None:
    if report.rows == 0:
        click.echo(f"Nothing was imported. Columns: {','.join(COLUMNS)}", err=True)
        return
    click.echo("The import stopped there; what it had done is below. Running it again is safe.", err=True)
    for line in report.lines():
        click.echo(line)
