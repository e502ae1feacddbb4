"""The job queue built from QUEUE_URL, what a task may be given, and what a failing task leaves.

A worker running the tasks, on SQLite and on Redis, is in tests/integration/test_worker.py.
"""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from huey import RedisHuey, SqliteHuey
from huey.exceptions import TaskException

from puente.config import PROJECT_ROOT, ConfigError
from puente.jobs.queue import (
    QUEUE_NAME,
    REDIS_SOCKET_TIMEOUT,
    TASKS,
    JobQueue,
    QueueKind,
    TaskSpec,
    check_ids,
    make_huey,
    queue_target,
)
from puente.jobs.tasks import PERIODIC_JOBS
from tests.conftest import TEST_PHONES, make_settings


def settings_for(queue_url: str = "", state_dir: Path | None = None) -> Any:
    return make_settings("sqlite://", queue_url=queue_url, state_dir=str(state_dir) if state_dir else "")


def test_the_default_is_an_sqlite_file_in_the_var_folder() -> None:
    target = queue_target(settings_for())
    assert target.kind is QueueKind.SQLITE
    assert target.path == PROJECT_ROOT / "var" / "queue.db"
    assert target.name == QUEUE_NAME


def test_the_sqlite_file_follows_puente_var_dir_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    queue = JobQueue(settings_for(state_dir=tmp_path / "state"))
    try:
        assert isinstance(queue.huey, SqliteHuey)
        path = tmp_path / "state" / "queue.db"
        assert queue.target.path == path and queue.huey.storage.filename == str(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        queue.enqueue("ping", 1)
        assert queue.pending() == 1
    finally:
        queue.close()


def test_a_redis_url_gives_a_redis_queue_with_timeouts_and_its_own_name() -> None:
    target = queue_target(settings_for("redis://:s3cret@redis.internal:6380/2?name=staging&ssl_cert_reqs=none"))
    assert (target.kind, target.name) == (QueueKind.REDIS, "staging")
    # `name` is Puente's own: Redis gets the rest.
    assert target.url == "redis://:s3cret@redis.internal:6380/2?ssl_cert_reqs=none"
    assert "s3cret" not in str(target) and "***" in str(target)
    huey = make_huey(target)  # connects on first use only
    assert isinstance(huey, RedisHuey) and huey.storage.queue_key == "huey.redis.staging"
    options = huey.storage.pool.connection_kwargs
    assert (options["host"], options["port"], options["db"]) == ("redis.internal", 6380, 2)
    assert options["socket_timeout"] == REDIS_SOCKET_TIMEOUT and options["socket_connect_timeout"]
    assert queue_target(settings_for("rediss://redis.internal:6380/0")).name == QUEUE_NAME


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("amqp://puente:s3cret@mq.internal:5672/", "is not a queue Puente can use"),
        ("sqlite:///var/queue.db", "is not a queue Puente can use"),
        ("127.0.0.1:6379", "is not a queue Puente can use"),
        ("redis:///0", "names no Redis host"),
        ("redis://:s3cret@localhost:6379/0?name=has-dash", "may hold only letters, digits and _"),
    ],
)
def test_a_queue_url_puente_cannot_use_is_a_config_error_naming_it_without_the_password(
    url: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as raised:
        queue_target(settings_for(url))
    assert "QUEUE_URL=" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_tasks_take_ids_only() -> None:
    check_ids((1, 20260101, "kern-county", "fresno_unified", "broadcast-2026-11"))
    refused: list[object] = [
        *TEST_PHONES,
        *(phone[2:] for phone in TEST_PHONES),  # national digits
        "whatsapp:+13105550177",
        "213-555-0142",
        "p2135550142",
        "hola, ¿me ayudas?",  # a message body
        "Kern",  # not a slug
        True,
        1.5,
        None,
        b"kern",
    ]
    for arg in refused:
        with pytest.raises(TypeError, match="not an id"):
            check_ids((7, arg))
    with pytest.raises(TypeError, match="not an id"):
        check_ids((12135550123,))  # a phone number as an int


def test_enqueue_refuses_what_is_not_an_id_before_anything_is_stored(tmp_path: Path) -> None:
    queue = JobQueue(settings_for(state_dir=tmp_path))
    try:
        with pytest.raises(TypeError):
            queue.enqueue("ping", TEST_PHONES[0])
        assert queue.pending() == 0
        assert TEST_PHONES[0][2:].encode() not in (tmp_path / "queue.db").read_bytes()
    finally:
        queue.close()


def failing_task(_services: object, contact_id: int) -> None:
    raise ValueError(f"cannot send to {TEST_PHONES[0]} (contact {contact_id})")


def test_a_failing_task_leaves_its_error_type_and_place_but_never_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(TASKS, "test_fails", TaskSpec("test_fails", failing_task))
    queue = JobQueue(settings_for(state_dir=tmp_path), context=lambda: object())  # type: ignore[arg-type, return-value]
    try:
        result = queue.enqueue("test_fails", 42)
        caplog.set_level(logging.INFO)
        queue.huey.execute(queue.huey.dequeue())  # as a worker thread does
        with pytest.raises(TaskException) as raised:
            result.get()
        stored = raised.value.metadata
        assert stored["error"].startswith("TaskFailed('ValueError at test_queue.py:")
        logged = "\n".join(caplog.text.splitlines())
        assert "ValueError at test_queue.py" in logged
        for where in (stored["error"], stored["traceback"], logged):
            assert TEST_PHONES[0][2:] not in where and "cannot send" not in where
    finally:
        queue.close()
    assert TEST_PHONES[0][2:].encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("queue.db*"))


def test_a_task_refuses_to_run_outside_the_worker(tmp_path: Path) -> None:
    queue = JobQueue(settings_for(state_dir=tmp_path))
    try:
        result = queue.enqueue("ping", 3)
        queue.huey.execute(queue.huey.dequeue())
        with pytest.raises(TaskException, match="runs in `puente worker`, not here"):
            result.get()
    finally:
        queue.close()


def test_the_periodic_jobs_are_registered_with_their_schedule(tmp_path: Path) -> None:
    queue = JobQueue(settings_for(state_dir=tmp_path))
    try:
        assert queue.huey.read_periodic(datetime(2026, 11, 28, 10, 20, tzinfo=UTC)) == []
        queue.add_periodic(PERIODIC_JOBS)
        due = queue.huey.read_periodic(datetime(2026, 11, 28, 10, 20, tzinfo=UTC))
        # The broadcasts' tick every minute; the heartbeat pruning every ten.
        assert [task.name for task in due] == ["periodic_broadcasts_tick", "periodic_prune_worker_heartbeats"]
        later = queue.huey.read_periodic(datetime(2026, 11, 28, 10, 21, tzinfo=UTC))
        assert [task.name for task in later] == ["periodic_broadcasts_tick"]
    finally:
        queue.close()
