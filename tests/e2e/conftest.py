"""The whole text line, for real: the trained Rasa server, the action server, gunicorn."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from puente.config import PROJECT_ROOT, Settings
from puente.db import Database
from puente.directory.store import import_directory, load_file
from puente.migrate import upgrade
from puente.runner import MODEL_PATH, RASA_BIN, READY_TIMEOUTS, Stack, process_specs
from puente.simulator import Delivery, deliver, inbound_form, new_message_sid
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class TextLine:
    backend: str  # "sqlite" or "postgresql": Puente's tables and Rasa's tracker store
    settings: Settings
    stack: Stack
    workdir: Path
    http: requests.Session

    @property
    def webhook_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}/twilio/messages"

    def text(self, body: str, sender: str, *, whatsapp: bool = False, sid: str | None = None) -> Delivery:
        form = inbound_form(body, sender=sender, whatsapp=whatsapp, message_sid=sid or new_message_sid())
        return deliver(self.webhook_url, form, self.settings.twilio_auth_token, self.http)

    def health(self) -> requests.Response:
        return self.http.get(f"http://{self.settings.host}:{self.settings.port}/healthz", timeout=10)

    def restart(self, name: str) -> None:
        self.stack.start(name)
        self.stack.wait_ready(name, READY_TIMEOUTS[name])


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def text_line(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TextLine]:
    """The whole stack, once on the embedded SQLite default and once on PostgreSQL, with the sample
    directory loaded. One stack per backend for every e2e module: pytest runs each backend's
    tests together, module by module (test_text_line, which stops services at its end, last)."""
    assert MODEL_PATH.is_file(), f"no trained model at {MODEL_PATH}: run `make train` (make test does)"
    assert RASA_BIN.is_file(), f"no Rasa at {RASA_BIN}: run `make setup`"
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    (workdir / "logs").mkdir()
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir / 'puente.db'}"
    else:
        database_url = create_postgres_database(POSTGRES_ADMIN_URL)
    port, rasa_port, actions_port = free_port(), free_port(), free_port()
    settings = make_settings(
        database_url,
        port=port,
        rasa_port=rasa_port,
        actions_port=actions_port,
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        # Its own var folder: the embedded queue's file (scanned at the end) and the opt-out spool.
        state_dir=str(workdir / "var"),
    )
    upgrade(database_url)
    sample = Database(database_url)
    with sample.session(None) as session:
        import_directory(session, load_file(PROJECT_ROOT / "data" / "directory.yaml"))
    sample.dispose()
    stack = Stack(process_specs(settings), log_dir=workdir / "logs")
    try:
        stack.start_all()
        yield TextLine(request.param, settings, stack, workdir, requests.Session())
    finally:
        stack.stop_all()
        if request.param == "postgresql":
            drop_postgres_database(POSTGRES_ADMIN_URL, database_url)
