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
