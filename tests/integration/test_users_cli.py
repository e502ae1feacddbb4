"""`puente users add EMAIL --role ROLE --password-stdin`, `users list`, `users remove`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from puente.accounts.models import AuditEntry, User
from puente.cli import cli
from puente.db import Database


@pytest.fixture
def env(database: Database) -> dict[str, str]:
    return {"DATABASE_URL": database.url, "PUENTE_ENV_FILE": "/dev/null"}


def test_users_are_added_listed_and_removed_and_the_last_admin_stays(
    database: Database, env: dict[str, str]
) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["users", "add", "Ana@Example.org", "--role", "admin", "--password-stdin"],
        input="a long admin password\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "Added ana@example.org (admin)" in added.output
    assert "a long admin password" not in added.output
    runner.invoke(
        cli,
        ["users", "add", "bo@example.org", "--role", "viewer", "--password-stdin"],
        input="another long password\n",
        env=env,
    )
    listed = runner.invoke(cli, ["users", "list"], env=env)
    assert "ana@example.org\tadmin" in listed.output and "bo@example.org\tviewer" in listed.output
    for args, text, why in (
        (
            ["users", "add", "cy@example.org", "--role", "owner", "--password-stdin"],
            "long enough pw!",
            "owner",
        ),
        (
            ["users", "add", "cy@example.org", "--role", "viewer", "--password-stdin"],
            "short",
            "shorter than 12",
        ),
        (
            ["users", "add", "ana@example.org", "--role", "viewer", "--password-stdin"],
            "long enough pw!",
            "already has an account",
        ),
        (["users", "remove", "ana@example.org"], "", "last admin"),
    ):
        refused = runner.invoke(cli, args, input=text + "\n", env=env)
        assert refused.exit_code != 0 and why in refused.output, refused.output
    assert runner.invoke(cli, ["users", "remove", "bo@example.org"], env=env).exit_code == 0
    with database.session() as session:
        [ana] = session.scalars(select(User))
        assert ana.email == "ana@example.org" and ana.password_hash.startswith("$argon2id$")
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["user_added", "user_added", "user_removed"]
