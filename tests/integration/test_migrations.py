"""The Alembic migrations build exactly the tables the models describe, idempotently."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from puente import models  # noqa: F401 - registers the tables
from puente.db import Base, make_engine
from puente.migrate import upgrade

RASA_TABLES = {"events"}  # Rasa's tracker store shares the database; not ours to migrate


def test_migrations_match_the_models_and_run_twice(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # set-up runs it on every `make run`
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name in RASA_TABLES)]
    assert diff == []


def test_going_back_to_0001_refuses_to_drop_opt_outs_known_only_by_hash(database_url: str) -> None:
    from datetime import UTC, datetime

    import pytest
    from alembic import command

    from puente import contacts
    from puente.db import Database
    from puente.migrate import alembic_config

    upgrade(database_url)
    database = Database(database_url)
    with database.session() as session:
        contacts.opt_out_by_hash(session, "0" * 64, "es", datetime(2026, 11, 28, tzinfo=UTC))
    database.dispose()
    with pytest.raises(RuntimeError, match="opt-outs known only by hash"):
        command.downgrade(alembic_config(database_url), "0001")
