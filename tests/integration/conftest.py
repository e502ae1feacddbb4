"""An app on a real database (SQLite and PostgreSQL), with a fake Rasa on loopback."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from puente.config import Settings
from puente.db import Database
from puente.jobs import heartbeat
from puente.migrate import upgrade
from puente.simulator import inbound_form, new_message_sid, sign
from tests.conftest import make_settings
from tests.fakes import FakeRasa, serve_fake_rasa
from webhooks import create_app

WEBHOOK_URL = "http://localhost/twilio/messages"
# CI has Redis here, as it has PostgreSQL: a test that needs it fails without it.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Line:
    """A webhook under test, and how to text it as Twilio would."""

    app: Flask
    client: FlaskClient
    settings: Settings
    rasa: FakeRasa
    _apps: list[Flask]

    def restarted(self, **overrides: object) -> Line:
        """Another app process on the same database (a restart, or other settings)."""
        settings = self.settings.with_overrides(**overrides)
        app = create_app(settings)
        self._apps.append(app)
        return Line(app, app.test_client(), settings, self.rasa, self._apps)

    def worker_beats(self) -> None:
        """A worker's heartbeat, now: `/healthz` counts a worker alive for 30 s after it."""
        heartbeat.beat(self.app.extensions["puente"].database, "test-worker", 1, datetime.now(UTC))

    def text(
        self,
        body: str,
        sender: str,
        *,
        sid: str | None = None,
        whatsapp: bool = False,
        signature: str | None = None,
    ) -> tuple[int, list[str]]:
        from puente.simulator import parse_twiml

        form = inbound_form(body, sender=sender, message_sid=sid or new_message_sid(), whatsapp=whatsapp)
        header = (
            signature if signature is not None else sign(WEBHOOK_URL, form, self.settings.twilio_auth_token)
        )
        response = self.client.post("/twilio/messages", data=form, headers={"X-Twilio-Signature": header})
        replies = parse_twiml(response.get_data(as_text=True)) if response.status_code == 200 else []
        return response.status_code, replies


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with serve_fake_rasa(FakeRasa()) as fake:
        yield fake


@pytest.fixture
def redis_queue_url() -> Iterator[str]:
    """A Redis queue of this test's own (`?name=`, Huey's key prefix), emptied afterwards."""
    name = "puente_test_" + secrets.token_hex(6)
    yield f"{REDIS_URL}?name={name}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    for key in client.scan_iter(match=f"huey.*.{name}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    """Local state for one test: its opt-out spool is its own."""
    return tmp_path / "var"


@pytest.fixture
def line(database_url: str, fake_rasa: FakeRasa, var_dir: Path) -> Iterator[Line]:
    settings = make_settings(
        database_url, rasa_url=fake_rasa.url, actions_url=fake_rasa.url, state_dir=str(var_dir)
    )
    upgrade(database_url)
    app = create_app(settings)
    apps = [app]
    yield Line(app, app.test_client(), settings, fake_rasa, apps)
    for each in apps:
        each.extensions["puente"].database.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database (SQLite and PostgreSQL, through `database_url`)."""
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back UTC times without their zone."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
