"""`puente directory import FILE [--prune]` and `puente directory export`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from puente.config import load_settings
from puente.db import DATABASE_ERRORS, Database
from puente.directory.schema import DirectoryError
from puente.directory.store import export_directory, import_directory, load_file


@click.group()
def directory() -> None:
    """The directory of places, policies, coalitions, clinics and hearings."""


@directory.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prune", is_flag=True, help="Remove the records the file does not list.")
def import_command(file: Path, prune: bool) -> None:
    """Load FILE (YAML or JSON, version 1): all or nothing, idempotent by id."""
    settings = load_settings()
    database = Database(settings.database_url)

    def progress(done: int, total: int) -> None:
        click.echo(f"directory: {done}/{total} records checked", err=True)

    try:
        # No deadline: a large directory takes as long as it takes, with progress shown.
        with database.session(None) as session:
            report = import_directory(session, load_file(file), prune=prune, progress=progress)
    except DirectoryError as error:
        click.echo(f"puente: {file}: {error}", err=True)
        sys.exit(1)
    except DATABASE_ERRORS as error:
        click.echo(f"puente: the database is unavailable ({type(error).__name__}); nothing was changed",
                   err=True)
        sys.exit(1)
    finally:
        database.dispose()
    for line in report.lines():
        click.echo(line)
    if report.changed_anything:
        click.echo(f"directory revision {report.revision}: running services answer from it within seconds.")
    else:
        click.echo("Nothing changed.")


@directory.command("export")
def export_command() -> None:
    """Write the whole directory to standard output, in the format `import` reads."""
    settings = load_settings()
    database = Database(settings.database_url)
    try:
        with database.session(None) as session:
            click.echo(export_directory(session), nl=False)
    except DATABASE_ERRORS as error:
        click.echo(f"puente: the database is unavailable ({type(error).__name__})", err=True)
        sys.exit(1)
    finally:
        database.dispose()
