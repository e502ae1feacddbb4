"""Apply the Alembic migrations in `migrations/` to a database."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from puente.config import PROJECT_ROOT, data_dir


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(data_dir(PROJECT_ROOT, "migrations")))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision` (idempotent)."""
    command.upgrade(alembic_config(database_url), revision)
