"""Apply the Alembic migrations in `migrations/` to a database."""

from __future__ import annotations

import importlib
from typing import Any

from alembic import command
from alembic.config import Config

from puente.config import PROJECT_ROOT, data_dir

#: Every module that defines tables: each capability has its own.
MODEL_MODULES = (
    "puente.models", "puente.questions", "puente.messaging.paging", "puente.directory.models",
    "puente.alerts.models", "puente.jobs.models", "puente.broadcasts.models",
    "puente.accounts.models",
)


def import_models() -> None:
    """Register every table on `Base.metadata` (what the migrations are compared with)."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(data_dir(PROJECT_ROOT, "migrations")))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision` (idempotent)."""
    command.upgrade(alembic_config(database_url), revision)


#: Rasa's tracker store shares Puente's database: its tables are Rasa's to manage.
RASA_TABLES = frozenset({"events"})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's filter: leave Rasa's tables (and their indexes) out of every comparison.

    Without it the first `alembic revision --autogenerate` would drop Rasa's `events`.
    """
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table not in RASA_TABLES
