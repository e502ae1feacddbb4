"""The Alembic migrations build exactly the tables the models describe, idempotently."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from puente.db import make_engine
from puente.migrate import alembic_config, upgrade


def test_migrations_match_the_models_and_run_twice_beside_rasas_tables(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.begin() as connection:
        # Rasa's tracker store, as Rasa creates it in the shared database.
        connection.execute(text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"
        ))
        connection.execute(text("CREATE INDEX ix_events_sender_id ON events (sender_id)"))
    engine.dispose()
    upgrade(database_url)  # set-up runs it on every `make run`
    # What `alembic revision --autogenerate` would see, through migrations/env.py: nothing
    # to add for Puente's models, and nothing of Rasa's to drop.
    command.check(alembic_config(database_url))


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
