"""The URL shapes docker-compose.yml gives the services, against the real PostgreSQL and Redis here."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from puente.config import PROJECT_ROOT
from puente.jobs.queue import JobQueue, QueueKind
from puente.runner import tracker_store_url
from tests.conftest import POSTGRES_ADMIN_URL, make_settings
from tests.unit.test_compose import env_of

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"


def test_the_url_forms_work_against_a_real_postgresql() -> None:
    """Both drivers the compose file names (app: psycopg 3; Rasa: psycopg2) connect."""
    local = make_url(POSTGRES_ADMIN_URL)
    compose = make_url(env_of("webhooks")["DATABASE_URL"])
    url = compose.set(host=local.host, port=local.port, username=local.username, password=local.password,
                      database=local.database)
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    # Rasa's side: its own SQLAlchemy 1.4 and psycopg2, in its own venv, with the URL
    # puente.runner derives for the tracker store.
    tracker_url = tracker_store_url(url.render_as_string(hide_password=False))
    assert make_url(tracker_url).drivername == "postgresql+psycopg2"
    script = (
        "import sys, sqlalchemy; e = sqlalchemy.create_engine(sys.argv[1]);"
        "print(e.connect().execute(sqlalchemy.text('SELECT 1')).scalar())"
    )
    env = {"PATH": os.environ["PATH"], "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    answer = subprocess.run([str(RASA_PYTHON), "-c", script, tracker_url], capture_output=True, text=True,
                            check=True, env=env)
    assert answer.stdout.strip() == "1"


def test_the_queue_url_form_works_against_a_real_redis(redis_queue_url: str, tmp_path: Path) -> None:
    """The worker's and webhooks' QUEUE_URL, pointed at the Redis here (with a test's own queue name)."""
    compose = urlsplit(env_of("worker")["QUEUE_URL"])
    local = urlsplit(redis_queue_url)
    url = urlunsplit(compose._replace(netloc=local.netloc, query=local.query))
    queue = JobQueue(make_settings("sqlite://", queue_url=url, state_dir=str(tmp_path)))
    try:
        assert queue.target.kind is QueueKind.REDIS
        queue.enqueue("ping", 1)
        assert queue.pending() == 1
    finally:
        queue.close()


def test_redis_url_names_the_redis_service_and_redis_answers_there() -> None:
    queue = make_url(env_of("webhooks")["QUEUE_URL"])
    assert (queue.drivername, queue.host, queue.port) == ("redis", "redis", 6379)
    with socket.create_connection(("127.0.0.1", queue.port), timeout=5) as connection:
        connection.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert connection.recv(16) == b"+PONG\r\n"
