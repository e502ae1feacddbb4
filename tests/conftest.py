"""Shared fixtures: settings on a temporary database, real SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from puente.config import Settings

# CI has PostgreSQL here (trust auth). A test that needs it fails without it: it never skips.
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Fictional numbers (555-01xx) used as people in tests.
PHONE_ES = "+12135550142"
PHONE_EN = "+14155550123"
PHONE_WA = "+13105550177"
TEST_PHONES = (PHONE_ES, PHONE_EN, PHONE_WA)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": secrets.token_urlsafe(48),
        "twilio_auth_token": "test-token-" + secrets.token_hex(8),
        "rasa_url": "http://127.0.0.1:9",  # nothing listens: tests that need Rasa say so
        "actions_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'puente.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the PostgreSQL server the tests create databases on."""
    return POSTGRES_ADMIN_URL


def create_postgres_database(admin_url: str) -> str:
    """A new, empty database on the server; returns its URL."""
    name = "puente_test_" + secrets.token_hex(6)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    url = create_postgres_database(postgres_server)
    yield url
    drop_postgres_database(postgres_server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url
