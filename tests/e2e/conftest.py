"""The whole text line, for real: the trained Rasa server, the action server, gunicorn, the
worker, and a fake Twilio (its own process, on loopback) that the worker sends through and
that posts status callbacks back to the webhook."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from puente.config import PROJECT_ROOT, Settings
from puente.db import Database
from puente.directory.store import import_directory, load_file
from puente.jobs.queue import QueueKind, queue_target
from puente.migrate import upgrade
from puente.runner import MODEL_PATH, RASA_BIN, READY_TIMEOUTS, Stack, process_specs
from puente.simulator import Delivery, deliver, inbound_form, new_message_sid
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
)
from tests.fake_twilio import FakeTwilioProcess, run_fake_twilio_process

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# The stack's senders: fictional numbers (555-01xx) no test person has.
TWILIO_FROM = "+19095550197"
TWILIO_WHATSAPP_FROM = "+19095550198"
#: Segments a second: a broadcast of a few dozen takes a couple of seconds.
SEND_RATE = 20.0


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
    #: The fake Twilio the worker sends through (`.control` steers and inspects it).
    twilio: FakeTwilioProcess

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

    def kill(self, name: str, timeout: float = 10.0) -> None:
        """SIGKILL `name`'s process group, as a crash would (nothing of it cleans up), and reap it."""
        os.killpg(self.stack.processes[name].pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while self.stack.exit_code(name) is None:
            assert time.monotonic() < deadline, f"{name} outlived SIGKILL"
            time.sleep(0.02)

    @property
    def redis_queue(self) -> str | None:
        """The Redis queue's name (Huey's key prefix), or None on the embedded SQLite queue."""
        target = queue_target(self.settings)
        return target.name if target.kind is QueueKind.REDIS else None


def redis_queue_keys(name: str) -> list[str]:
    """Every key Huey keeps in Redis for the queue `name`."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = [*client.scan_iter(match=f"huey.*.{name}"), *client.scan_iter(match=f"huey.notify.{name}.*")]
        return sorted(k.decode() for k in keys)
    finally:
        client.close()


def redis_queue_dump(name: str) -> bytes:
    """What Redis holds for the queue `name`: every key's name and value, whatever its type."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    values: list[object] = []
    try:
        for key in redis_queue_keys(name):
            found = client.type(key)
            kind = found.decode() if isinstance(found, bytes) else found
            values.append(key)
            if kind == "string":
                values.append(client.get(key))
            elif kind == "list":
                values.extend(client.lrange(key, 0, -1))
            elif kind == "set":
                values.extend(client.smembers(key))
            elif kind == "zset":
                values.extend(client.zrange(key, 0, -1))
            elif kind == "hash":
                for field, value in client.hgetall(key).items():
                    values.extend((field, value))
            else:
                raise AssertionError(f"{key}: a Redis {kind} the scan cannot read")
    finally:
        client.close()
    return b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in values if v is not None)


def forget_redis_queue(name: str) -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        for key in redis_queue_keys(name):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def text_line(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TextLine]:
    """The whole stack, once embedded (SQLite database, SQLite queue) and once distributed
    (PostgreSQL, Redis queue), with the sample directory loaded and a fake Twilio to send
    through. One stack per backend for every e2e module: pytest runs each backend's tests
    together, module by module (test_text_line, which stops services at its end, last)."""
    assert MODEL_PATH.is_file(), f"no trained model at {MODEL_PATH}: run `make train` (make test does)"
    assert RASA_BIN.is_file(), f"no Rasa at {RASA_BIN}: run `make setup`"
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    (workdir / "logs").mkdir()
    if request.param == "sqlite":
        database_url, queue_url = f"sqlite:///{workdir / 'puente.db'}", ""
    else:
        database_url = create_postgres_database(POSTGRES_ADMIN_URL)
        # A queue name of this run's own on the shared Redis, its keys removed afterwards.
        queue_url = f"{REDIS_URL}?name=puente_e2e_{secrets.token_hex(6)}"
    port, rasa_port, actions_port = free_port(), free_port(), free_port()
    account_sid, auth_token = "AC" + secrets.token_hex(16), "test-token-" + secrets.token_hex(8)
    with ExitStack() as cleanup:
        if request.param == "postgresql":
            cleanup.callback(drop_postgres_database, POSTGRES_ADMIN_URL, database_url)
        # Callbacks on, signed with the stack's auth token: they reach POST /twilio/status.
        twilio = cleanup.enter_context(
            run_fake_twilio_process(account_sid, auth_token, extra_args=["--callbacks"])
        )
        settings = make_settings(
            database_url,
            port=port,
            rasa_port=rasa_port,
            actions_port=actions_port,
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            actions_url=f"http://127.0.0.1:{actions_port}",
            queue_url=queue_url,
            # Its own var folder: the embedded queue's file (scanned at the end) and the opt-out spool.
            state_dir=str(workdir / "var"),
            twilio_account_sid=account_sid,
            twilio_auth_token=auth_token,
            twilio_api_base_url=twilio.url,
            twilio_from_number=TWILIO_FROM,
            twilio_whatsapp_from=TWILIO_WHATSAPP_FROM,
            twilio_send_rate=SEND_RATE,
            quiet_hours="off",  # nothing depends on the time of day (test_broadcasts_e2e turns them on)
            # The webhook's own address: status callbacks come back to it, and inbound signatures
            # are checked against it (the tests sign with the same URL).
            public_base_url=f"http://127.0.0.1:{port}",
        )
        upgrade(database_url)
        sample = Database(database_url)
        with sample.session(None) as session:
            import_directory(session, load_file(PROJECT_ROOT / "data" / "directory.yaml"))
        sample.dispose()
        specs = process_specs(settings)
        for spec in specs:
            if spec.name != "rasa":
                # This checkout's code, also where another checkout's venv (a git worktree's) holds
                # the editable install: `.venv/bin/puente` would import that checkout's `puente`.
                spec.env["PYTHONPATH"] = str(PROJECT_ROOT)
        if queue_url:
            cleanup.callback(forget_redis_queue, queue_target(settings).name)  # once the stack is stopped
        stack = Stack(specs, log_dir=workdir / "logs")
        cleanup.callback(stack.stop_all)
        stack.start_all()
        yield TextLine(request.param, settings, stack, workdir, requests.Session(), twilio)
