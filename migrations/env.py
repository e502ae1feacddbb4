"""Alembic environment: the URL comes from the caller or from Puente's settings."""

from __future__ import annotations

from alembic import context

from puente.config import load_settings
from puente.db import Base, make_engine
from puente.migrate import import_models, include_object

import_models()

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or load_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                include_object=include_object,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()  # a failed migration too: no connection is left open


run_migrations_online()
