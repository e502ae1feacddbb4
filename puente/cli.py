"""The `puente` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from puente.config import ConfigError, Settings, ensure_env_file, env_file_path, load_settings
from puente.db import DATABASE_ERRORS
from puente.jobs import DEFAULT_THREADS


@click.group()
def cli() -> None:
    """Puente: the text line for immigrant-rights coalitions."""


@cli.group()
def env() -> None:
    """Local settings in .env."""


@env.command("init")
def env_init() -> None:
    """Generate the local secrets .env lacks (idempotent)."""
    path = env_file_path()
    added = ensure_env_file(path)
    if added:
        click.echo(f"Wrote {', '.join(added)} to {path} (local development values; keep the file private).")
    else:
        click.echo(f"{path}: secrets already set.")
    if not load_settings().support_contact.strip():
        click.echo(f"Set PUENTE_SUPPORT_CONTACT in {path}: who runs the line and how to reach a person, "
                   "said in every HELP answer (carriers require it).")


@cli.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to DATABASE_URL (idempotent)."""
    from puente.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    click.echo("Database is up to date.")


@cli.group()
def keys() -> None:
    """The secret key behind phone-number encryption and hashing."""


@keys.command("rotate")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Rows per transaction.")
@click.option("--max-batches", type=click.IntRange(min=1), default=None,
              help="Stop after this many batches; run again to continue.")
def keys_rotate(batch_size: int, max_batches: int | None) -> None:
    """Move every stored number to PUENTE_SECRET_KEY, from PUENTE_OLD_SECRET_KEY (resumable).

    See README, "Rotating the secret key".
    """
    from puente.keys import rotate
    from puente.services import Services

    settings = load_settings()
    services = Services(settings)
    vault = services.vault
    if vault.previous is None:
        click.echo("puente: PUENTE_OLD_SECRET_KEY is not set (or is the current key): rows under "
                   "another key will count as unreadable; the others only get their key id.", err=True)
        click.echo(f"Key {vault.key_id}: stamping rows it reads.")
    else:
        click.echo(f"Rotating numbers from key {vault.previous.key_id} to key {vault.key_id}.")
    try:
        # STOPs spooled during an outage, before the rows they name move to the new key.
        applied = services.apply_spooled_optouts(30.0)
        if applied:
            click.echo(f"Applied {applied} opt-outs kept while the database was down.")
        report = rotate(services.database, vault, batch_size=batch_size, max_batches=max_batches,
                        progress=lambda table: click.echo(f"  {table.line()} (batch {table.batches})"))
    except DATABASE_ERRORS as error:
        # One line: the error's own text would quote its SQL parameters (hashes, ciphertexts).
        click.echo(f"puente: the database failed ({type(error).__name__}); what was committed stays "
                   "rotated: run `puente keys rotate` again to continue.", err=True)
        sys.exit(1)
    finally:
        services.database.dispose()
    for table in report.tables:
        click.echo(table.line())
    if not report.finished:
        click.echo(f"Stopped after {max_batches} batches: run `puente keys rotate` again to continue.")
    if report.hash_only:
        click.echo(f"{report.hash_only} opted-out contacts are known only by the hash of their number: they "
                   "cannot be re-hashed. They stay found while PUENTE_OLD_SECRET_KEY is set and move "
                   "to the new key when they text. Keep PUENTE_OLD_SECRET_KEY set until a later run "
                   "finds none: removing it now would lose their opt-out.")
    if report.unreadable:
        click.echo(f"puente: {report.unreadable} numbers are unreadable with both keys: left as they are.",
                   err=True)
        sys.exit(1)
    if report.finished and not report.hash_only:
        click.echo("Done: every readable number is under the new key. PUENTE_OLD_SECRET_KEY can go.")


@cli.command("purge")
@click.option("--now", "now_text", default=None, metavar="ISO",
              help="Purge as of this moment (ISO 8601; UTC when it has no offset). Default: the clock.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Rows per transaction in the big tables.")
def purge_command(now_text: str | None, dry_run: bool, batch_size: int) -> None:
    """Delete conversation data older than RETENTION_DAYS (README, "Data map")."""
    from datetime import UTC, datetime

    from puente.alerts.erase import TRACKER_TABLE
    from puente.alerts.retention import purge
    from puente.db import Database

    settings = load_settings()
    try:
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 time", param_hint="--now") from None
    from puente.broadcasts import retention as broadcast_retention

    database = Database(settings.database_url)
    try:
        report = purge(database, now, settings.retention_days, dry_run=dry_run, batch_size=batch_size)
        sent = broadcast_retention.purge(database, now, settings.retention_days, dry_run=dry_run,
                                         batch_size=batch_size)
    finally:
        database.dispose()
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb} conversation data from before {report.cutoff.isoformat(timespec='seconds')} "
               f"(RETENTION_DAYS={settings.retention_days}):")
    for name, count in report.deleted.items():
        if name != TRACKER_TABLE:
            click.echo(f"  {name}: {count}")
        else:
            click.echo(f"  {name} (Rasa's tracker): {count if report.tracker else 'no such table yet'}")
    if report.unlinked:
        click.echo(f"  inbound_messages unlinked from deleted contacts: {report.unlinked}")
    for name, count in sent.counts.items():
        click.echo(f"  {name}: {count}")
    if dry_run:
        click.echo("Dry run: nothing was deleted.")


@cli.command()
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where each process's log goes, as NAME.log (default: var/log).",
)
def run(log_dir: Path | None) -> None:
    """Run webhooks, rasa, actions and the worker in the foreground (what `make run` does).

    A process that stops is restarted; Ctrl-C or SIGTERM stops them all.
    """
    from puente.logs import configure_logging
    from puente.runner import run_foreground

    settings = load_settings()
    configure_logging(settings.log_level)
    if settings.development:
        _load_sample_directory(settings)
    sys.exit(run_foreground(settings, echo=lambda line: click.echo(line), log_dir=log_dir))


@cli.command()
@click.option("--threads", type=click.IntRange(1, 64), default=DEFAULT_THREADS, show_default=True,
              help="Worker threads running tasks.")
@click.option("--no-periodic", is_flag=True,
              help="Leave the periodic jobs to another worker (when you run several).")
@click.option("--check", is_flag=True,
              help="Do not run: exit 0 if a worker on this host beat within 30 s (for health checks).")
def worker(threads: int, no_periodic: bool, check: bool) -> None:
    """Run the queue consumer (what `make run` starts beside webhooks); SIGTERM or Ctrl-C stops it
    after the tasks running finish."""
    from puente.jobs import heartbeat

    settings = load_settings()
    if check:
        hostname, _ = heartbeat.worker_identity()
        if heartbeat.seen(settings.database_url, hostname):
            click.echo(f"worker: alive on {hostname}")
            return
        click.echo(f"worker: no heartbeat from {hostname} within {heartbeat.STALE_AFTER:.0f} s", err=True)
        sys.exit(1)
    from puente.jobs.worker import run_worker

    run_worker(settings, threads=threads, periodic=not no_periodic)


def _load_sample_directory(settings: Settings) -> None:
    """Development: the sample directory, into a database whose directory is empty."""
    from puente.db import Database
    from puente.directory.store import load_sample_if_empty

    database = Database(settings.database_url)
    try:
        with database.session(None) as session:
            report = load_sample_if_empty(session, settings.sample_directory)
    finally:
        database.dispose()
    if report is not None:
        added = sum(c.added for c in report.counts.values())
        click.echo(f"puente: development: loaded the sample directory ({added} records, fictional "
                   f"organizations) from {settings.sample_directory}")


@cli.command()
@click.option("--url", help="Webhook URL (default: http://HOST:PORT/twilio/messages).")
@click.option("--from", "sender", default=None, help="The number you play (default: a fictional 555-0100).")
@click.option("--whatsapp", is_flag=True, help="Send as WhatsApp (From: whatsapp:+1…).")
@click.option("--message", "-m", "messages", multiple=True, help="Send these and exit (repeatable).")
def chat(url: str | None, sender: str | None, whatsapp: bool, messages: tuple[str, ...]) -> None:
    """Text the running webhook as Twilio would, and print its replies."""
    import requests

    from puente.simulator import DEFAULT_FROM, deliver, inbound_form

    settings = load_settings()
    if not settings.twilio_auth_token:
        raise click.ClickException("TWILIO_AUTH_TOKEN is not set: `make setup` creates a local one in .env")
    url = url or f"http://{settings.host}:{settings.port}/twilio/messages"
    sender = sender or DEFAULT_FROM
    http = requests.Session()
    interactive = not messages and sys.stdin.isatty()
    if interactive:
        click.echo(f"Texting {url} as {'whatsapp:' if whatsapp else ''}{sender}. Ctrl-D quits.")
    texts = iter(messages) if messages else (line.rstrip("\n") for line in sys.stdin)
    while True:
        try:
            text = input("> ") if interactive else next(texts)
        except (EOFError, StopIteration):
            break
        if not text.strip():
            continue
        if not interactive:
            click.echo(f"> {text}")
        form = inbound_form(text, sender=sender, whatsapp=whatsapp)
        try:
            delivery = deliver(url, form, settings.twilio_auth_token, http)
        except requests.RequestException as error:
            raise click.ClickException(
                f"the webhook at {url} did not answer ({type(error).__name__}): is `make run` running?"
            ) from None
        if delivery.status != 200:
            raise click.ClickException(f"the webhook answered HTTP {delivery.status}")
        for reply in delivery.replies:
            click.echo(f"< {reply}")


def _register_capabilities() -> None:
    from puente.accounts.commands import users
    from puente.alerts.commands import subscribers
    from puente.broadcasts.commands import broadcast, reminders
    from puente.directory.commands import directory

    cli.add_command(directory)
    cli.add_command(subscribers)
    cli.add_command(broadcast)
    cli.add_command(reminders)
    cli.add_command(users)


_register_capabilities()


def main() -> None:
    """The console script: settings errors become one line, not a traceback."""
    try:
        cli()
    except ConfigError as error:
        click.echo(f"puente: {error}", err=True)
        sys.exit(2)
