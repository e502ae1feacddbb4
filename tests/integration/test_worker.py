"""`puente worker` as a process: it runs what is enqueued, on the embedded SQLite queue and on
Redis, its heartbeat makes `/healthz` answer 200, and stopping it (SIGTERM or Ctrl-C) lets
the task running finish and makes `/healthz` name the worker.

Redis is the local one (127.0.0.1:6379); each test has a queue name of its own and removes
its keys afterwards. PostgreSQL likewise: a fresh database per test.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from puente.cli import cli
from puente.config import PROJECT_ROOT, Settings
from puente.db import Database
from puente.jobs import heartbeat
from puente.jobs.models import WorkerHeartbeat
from puente.jobs.queue import JobQueue
from puente.jobs.tasks import PERIODIC_JOBS
from puente.jobs.worker import Heartbeat
from puente.migrate import upgrade
from puente.runner import settings_env
from puente.services import Services
from tests.conftest import make_settings
from tests.fakes import FakeRasa
from tests.integration import worker_tasks
from tests.integration.conftest import Line
from webhooks import create_app

PUENTE = str(Path(sys.executable).parent / "puente")
#: Seconds a worker may take to start here (a busy 2-core machine: imports take a while).
START_TIMEOUT = 30.0


@dataclass
class Setup:
    """A database and a queue, as one deployment's settings."""

    settings: Settings
    var_dir: Path

    def env(self) -> dict[str, str]:
        """What `make run` would give a worker (and nothing from .env)."""
        return {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/"),
            **settings_env(self.settings),
            "PUENTE_ENV_FILE": os.devnull,
            "PYTHONUNBUFFERED": "1",
        }


@pytest.fixture(params=["sqlite-database-sqlite-queue", "postgresql-database-redis-queue"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    """The embedded default (SQLite file and SQLite queue) and a distributed one (PostgreSQL, Redis)."""
    var_dir = tmp_path / "var"
    if request.param.startswith("sqlite"):
        database_url, queue_url = f"sqlite:///{tmp_path / 'puente.db'}", ""
    else:
        database_url = request.getfixturevalue("postgres_url")
        queue_url = request.getfixturevalue("redis_queue_url")
    upgrade(database_url)
    return Setup(make_settings(database_url, queue_url=queue_url, state_dir=str(var_dir)), var_dir)


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout)


def start_worker(setup: Setup, log: Path, launch: list[str] | None = None) -> WorkerProcess:
    """`puente worker` (or `launch`), waited for until it has beaten."""
    argv = launch or [PUENTE, "worker", "--threads", "2"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=setup.env(), stdout=out, stderr=subprocess.STDOUT
        )
    worker = WorkerProcess(process, log)
    hostname, _ = heartbeat.worker_identity()
    deadline = time.monotonic() + START_TIMEOUT
    while not heartbeat.seen(setup.settings.database_url, hostname, process.pid):
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop(signal.SIGKILL)
            raise AssertionError(f"the worker did not beat within {START_TIMEOUT:.0f} s:\n{worker.output()}")
        time.sleep(0.2)
    return worker


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """The workers a test starts, killed at its end if it did not stop them."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.stop(signal.SIGKILL)


def test_a_task_runs_in_the_worker_and_its_heartbeat_makes_healthz_answer(
    setup: Setup, fake_rasa: FakeRasa, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    settings = setup.settings.with_overrides(rasa_url=fake_rasa.url, actions_url=fake_rasa.url)
    app = create_app(settings)
    client = app.test_client()
    try:
        before = client.get("/healthz")
        assert before.status_code == 503 and before.get_json()["down"] == ["worker"]
        assert before.get_json()["services"]["worker"] == "no heartbeat"

        worker = start_worker(setup, tmp_path / "worker.log")
        workers.append(worker)
        queue = JobQueue(setup.settings)
        try:
            hostname, _ = heartbeat.worker_identity()
            assert queue.enqueue("ping", 7).get(blocking=True, timeout=20) == (7, f"{hostname}:{worker.pid}")
        finally:
            queue.close()
        up = client.get("/healthz")
        assert up.status_code == 200, up.get_json()
        assert up.get_json()["services"]["worker"] == "ok"

        assert worker.stop(signal.SIGTERM) == 0
        down = client.get("/healthz")
        assert down.status_code == 503 and down.get_json()["down"] == ["worker"]
    finally:
        app.extensions["puente"].database.dispose()
    said = worker.output()
    assert "Received SIGTERM" in said and "Consumer exiting" in said
    assert "Traceback" not in said and " ERROR " not in said and " WARNING " not in said
    if not setup.settings.queue_url:
        assert (setup.var_dir / "queue.db").is_file()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_worker_lets_the_running_task_finish(
    signum: signal.Signals, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'puente.db'}"
    upgrade(database_url)
    setup = Setup(make_settings(database_url, state_dir=str(tmp_path / "var")), tmp_path / "var")
    launch = [sys.executable, "-c", worker_tasks.LAUNCH, "worker"]
    worker = start_worker(setup, tmp_path / "worker.log", launch)
    workers.append(worker)
    queue = JobQueue(setup.settings)
    try:
        result = queue.enqueue("test_nap", 5)
        deadline = time.monotonic() + 20
        while not worker_tasks.started_marker(setup.var_dir, 5).exists():
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.05)
        stopping = time.monotonic()
        assert worker.stop(signum) == 0
        # It waited for the nap, and its result was stored before the process ended.
        assert time.monotonic() - stopping < worker_tasks.NAP_SECONDS + 5
        assert result.get() == 5
    finally:
        queue.close()
    said = worker.output()
    assert "Shutting down gracefully" in said and " WARNING " not in said and "Traceback" not in said
    assert not heartbeat.seen(database_url, heartbeat.worker_identity()[0], worker.pid)


def test_a_worker_silent_for_30_seconds_is_down(line: Line) -> None:
    database = line.app.extensions["puente"].database
    heartbeat.beat(database, "worker-1", 11, datetime.now(UTC), now=datetime.now(UTC) - timedelta(seconds=31))
    health = line.client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["down"] == ["worker"]
    assert health.get_json()["services"]["worker"] == "last heartbeat 31 s ago"
    heartbeat.beat(database, "worker-2", 12, datetime.now(UTC))  # another worker, on another machine
    assert line.client.get("/healthz").status_code == 200


def test_the_periodic_job_forgets_workers_gone_for_an_hour(database: Database, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    heartbeat.beat(database, "gone", 1, now - timedelta(hours=2), now=now - timedelta(minutes=61))
    heartbeat.beat(database, "silent", 2, now - timedelta(hours=2), now=now - timedelta(minutes=59))
    heartbeat.beat(database, "alive", 3, now - timedelta(hours=2), now=now)
    settings = make_settings(database.url, state_dir=str(tmp_path))
    services = Services(settings)
    queue = JobQueue(settings, context=lambda: services)
    try:
        queue.add_periodic(PERIODIC_JOBS)
        due = queue.huey.read_periodic(datetime(2026, 11, 28, 10, 30, tzinfo=UTC))
        [job] = [task for task in due if task.name == "periodic_prune_worker_heartbeats"]
        queue.huey.execute(job)  # as a worker thread does
    finally:
        queue.close()
        services.database.dispose()
    with database.session() as session:
        assert set(session.scalars(select(WorkerHeartbeat.hostname))) == {"silent", "alive"}


def test_the_heartbeat_is_skipped_while_the_worker_cannot_work_and_said_once(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    state: dict[str, object] = {"healthy": False}

    def healthy() -> bool:
        if isinstance(state["healthy"], Exception):
            raise state["healthy"]
        return bool(state["healthy"])

    beating = Heartbeat(database, healthy)
    caplog.set_level(logging.INFO, logger="puente.jobs.worker")
    assert not beating.beat_once() and not beating.beat_once()
    state["healthy"] = ConnectionError("Error 111 connecting to redis:6379")
    assert not beating.beat_once()
    assert not heartbeat.seen(database.url, beating.hostname, beating.pid)
    state["healthy"] = True
    assert beating.beat_once()
    assert heartbeat.seen(database.url, beating.hostname, beating.pid)
    assert [r.getMessage() for r in caplog.records] == [
        "heartbeat not recorded: a consumer thread is down",
        "heartbeat not recorded: the queue did not answer (ConnectionError)",
        "heartbeat recorded again",
    ]
    beating.stop()
    assert not heartbeat.seen(database.url, beating.hostname, beating.pid)


def test_worker_check_answers_for_this_host(database: Database) -> None:
    env = {"DATABASE_URL": database.url, "PUENTE_ENV_FILE": os.devnull}
    runner = CliRunner()
    assert runner.invoke(cli, ["worker", "--check"], env=env).exit_code == 1
    hostname, _ = heartbeat.worker_identity()
    heartbeat.beat(database, hostname, 1, datetime.now(UTC), now=datetime.now(UTC) - timedelta(seconds=40))
    assert runner.invoke(cli, ["worker", "--check"], env=env).exit_code == 1
    heartbeat.beat(database, hostname, 2, datetime.now(UTC))
    checked = runner.invoke(cli, ["worker", "--check"], env=env)
    assert checked.exit_code == 0 and f"alive on {hostname}" in checked.output


def test_a_queue_url_it_cannot_use_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "PUENTE_ENV_FILE": os.devnull,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'puente.db'}",
           "QUEUE_URL": "amqp://puente:s3cret@mq.internal:5672/"}
    done = subprocess.run([PUENTE, "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("puente: QUEUE_URL='amqp://puente:***@mq.internal:5672/'")
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr
