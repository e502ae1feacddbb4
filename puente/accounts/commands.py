"""`puente users add EMAIL --role ROLE --password-stdin`, `puente users list`, `puente users remove EMAIL`."""

from __future__ import annotations

import sys

import click

from puente.accounts import service
from puente.accounts.roles import Role
from puente.config import load_settings
from puente.db import DATABASE_ERRORS, Database
from puente.models import utcnow


@click.group()
def users() -> None:
    """Dashboard accounts (admin manages users; coordinator edits and sends; viewer reads)."""


def _database() -> Database:
    return Database(load_settings().database_url)


@users.command("add")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="What the user may do."
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (else it is asked for, twice, unseen).",
)
def add_command(email: str, role: str, password_stdin: bool) -> None:
    """Create a dashboard user. The password never goes on the command line (shell history, ps)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    database = _database()
    try:
        with database.session(timeout=30) as session:
            user = service.add_user(session, email, role, password, utcnow())
            click.echo(f"Added {user.email} ({user.role}).")
    except service.AccountError as error:
        raise click.ClickException(str(error)) from None
    except DATABASE_ERRORS as error:
        raise click.ClickException(f"the database is unavailable ({type(error).__name__})") from None
    finally:
        database.dispose()


@users.command("list")
def list_command() -> None:
    """Every account: e-mail, role, last login."""
    database = _database()
    try:
        with database.session(timeout=30) as session:
            found = service.list_users(session)
            for user in found:
                last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "never"
                click.echo(f"{user.email}\t{user.role}\tlast login {last}")
            if not found:
                click.echo("No users yet: `puente users add EMAIL --role admin --password-stdin`.")
    except DATABASE_ERRORS as error:
        raise click.ClickException(f"the database is unavailable ({type(error).__name__})") from None
    finally:
        database.dispose()


@users.command("remove")
@click.argument("email")
def remove_command(email: str) -> None:
    """Remove an account (never the last admin). Its audit entries stay."""
    database = _database()
    try:
        with database.session(timeout=30) as session:
            service.remove_user(session, email, utcnow())
        click.echo(f"Removed {service.normalize_email(email)}.")
    except service.AccountError as error:
        raise click.ClickException(str(error)) from None
    except DATABASE_ERRORS as error:
        raise click.ClickException(f"the database is unavailable ({type(error).__name__})") from None
    finally:
        database.dispose()
