"""The job queue: Huey, embedded or distributed with the same code.

`QUEUE_URL` empty (the default): an SQLite file, `queue.db` in the var folder, that every
process on the machine shares; no server to run. `redis://HOST:PORT/DB` (or `rediss://`
for TLS): Redis, for workers on several machines; `?name=NAME` keeps several
deployments (or tests) apart on one Redis (default: `puente`).

What is enqueued is stored as it waits (in the file, or in Redis), so a task takes ids
only, never a phone number or a message body: `JobQueue.enqueue` refuses anything
else, and a failing task's error is logged and stored as its type and place only (an
exception's message may quote what it was working on).

Building a queue touches its storage (the SQLite file is created); nothing happens at
import time.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from huey import RedisHuey, SqliteHuey
from huey.exceptions import RETRYING_EXCEPTIONS, CancelExecution, TaskTimeout
from redis import ConnectionPool

from puente.config import ConfigError, Settings, mask_url

if TYPE_CHECKING:
    from puente.services import Services

logger = logging.getLogger(__name__)

#: The queue's name: Huey's key prefix in Redis, its partition of the SQLite file.
QUEUE_NAME = "puente"
#: The embedded queue's file, in the var folder (PUENTE_VAR_DIR).
QUEUE_FILE = "queue.db"
#: Seconds a writer waits for the SQLite file's lock (another process enqueueing).
SQLITE_TIMEOUT = 5.0
#: Seconds a Redis call may take: more than Huey's blocking read (1 s) waits for a task.
REDIS_SOCKET_TIMEOUT = 5.0
REDIS_CONNECT_TIMEOUT = 2.0

#: Every module that defines tasks: the worker and every producer register the same ones.
TASK_MODULES = ("puente.jobs.tasks", "puente.broadcasts.tasks")


class QueueKind(StrEnum):
    SQLITE = "sqlite"
    REDIS = "redis"


@dataclass(frozen=True)
class QueueTarget:
    """Where the queue lives, as read from the settings (nothing connected yet)."""

    kind: QueueKind
    name: str
    #: The SQLite file (embedded queue).
    path: Path | None = None
    #: The Redis URL, without Puente's own `name` parameter (Redis queue).
    url: str = ""

    def __str__(self) -> str:
        """For logs and messages: never a password."""
        where = str(self.path) if self.kind is QueueKind.SQLITE else mask_url(self.url)
        return f"{self.kind} queue {self.name!r} at {where}"


_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def queue_target(settings: Settings) -> QueueTarget:
    """Where `settings` put the queue; a ConfigError naming QUEUE_URL when it cannot be used."""
    url = settings.queue_url.strip()
    if not url:
        return QueueTarget(QueueKind.SQLITE, QUEUE_NAME, path=settings.var_dir / QUEUE_FILE)
    shown = mask_url(url)
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(
            f"QUEUE_URL={shown!r} is not a queue Puente can use: leave it empty for the embedded "
            f"queue (an SQLite file in {settings.var_dir}), or give redis://HOST:PORT/DB "
            "(rediss:// for TLS)"
        )
    if not parts.hostname:
        raise ConfigError(f"QUEUE_URL={shown!r} names no Redis host: redis://HOST:PORT/DB")
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [value for key, value in query if key == "name"]
    name = names[-1] if names else QUEUE_NAME
    if not _NAME.fullmatch(name):
        raise ConfigError(f"QUEUE_URL={shown!r}: the queue name {name!r} may hold only letters, digits and _")
    rest = urlencode([(key, value) for key, value in query if key != "name"])
    return QueueTarget(QueueKind.REDIS, name, url=urlunsplit(parts._replace(query=rest)))


def make_huey(target: QueueTarget) -> Any:
    """The Huey instance for `target` (SqliteHuey or RedisHuey); the SQLite file is created
    readable by its owner alone."""
    if target.kind is QueueKind.SQLITE:
        assert target.path is not None
        target.path.parent.mkdir(parents=True, exist_ok=True)
        # SQLite gives its -wal and -shm files the database file's permissions.
        os.close(os.open(target.path, os.O_RDWR | os.O_CREAT, 0o600))
        return SqliteHuey(target.name, filename=str(target.path), timeout=SQLITE_TIMEOUT)
    pool = ConnectionPool.from_url(
        target.url,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
        health_check_interval=30,
    )
    return RedisHuey(target.name, connection_pool=pool)


# --- tasks ------------------------------------------------------------------------

TaskFunction = Callable[..., Any]
F = TypeVar("F", bound=TaskFunction)


@dataclass(frozen=True)
class TaskSpec:
    """A task: `func(services, *ids)`, run by a worker thread, retried `retries` times."""

    name: str
    func: TaskFunction
    retries: int = 0
    retry_delay: float = 0.0


#: Every task, by name (filled in by `@task` in the modules of TASK_MODULES).
TASKS: dict[str, TaskSpec] = {}


def task(name: str, *, retries: int = 0, retry_delay: float = 0.0) -> Callable[[F], F]:
    """Register `func(services, *ids)` as the queue task `name`."""

    def register(func: F) -> F:
        if name in TASKS and TASKS[name].func is not func:
            raise ValueError(f"two tasks are named {name!r}")
        TASKS[name] = TaskSpec(name, func, retries, retry_delay)
        return func

    return register


@dataclass(frozen=True)
class PeriodicJob:
    """Work the worker does on a schedule: `run(services)` whenever `schedule(now)` is true.

    `schedule` is checked once a minute with the time in UTC: a `huey.crontab(...)`.
    """

    name: str
    schedule: Callable[[datetime], bool]
    run: Callable[[Services], object]


class TaskFailed(Exception):
    """A task raised: what is kept of it is the exception's type and where it was raised."""


#: A task argument that is a string: a slug (lowercase letters first, then letters, digits,
#: - and _) with at most 6 digits, so that it can never hold a phone number.
_SLUG = re.compile(r"[a-z][a-z0-9_-]{0,99}")
MAX_DIGITS_IN_ID = 6
#: Ids are below this (9 digits); a phone number written as an int has 10 or more.
MAX_INT_ID = 10**9


def check_ids(args: tuple[object, ...]) -> None:
    """Refuse task arguments that are not ids: what is enqueued is stored as it waits."""
    for position, arg in enumerate(args, start=1):
        if isinstance(arg, int) and not isinstance(arg, bool) and 0 <= arg < MAX_INT_ID:
            continue  # a row's id; a phone number given as an int (10+ digits) is not
        if (
            isinstance(arg, str)
            and _SLUG.fullmatch(arg)
            and sum(c.isdigit() for c in arg) <= MAX_DIGITS_IN_ID
        ):
            continue
        raise TypeError(
            f"task argument {position} is not an id (an int or a slug with at most "
            f"{MAX_DIGITS_IN_ID} digits): tasks take ids, never a number or a message"
        )


def _where(error: BaseException) -> str:
    """The file, line and function an exception was raised in (no values, no message)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"


# Huey's own exceptions steer it (retry later, cancel, time out): they pass through as raised.
_HUEY_CONTROL = (*RETRYING_EXCEPTIONS, CancelExecution, TaskTimeout)


def import_task_modules() -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)


class JobQueue:
    """Puente's tasks on one Huey instance: enqueued from any process, run by `puente worker`.

    `context` gives a task the services it runs with; only the worker gives one.
    """

    def __init__(self, settings: Settings, context: Callable[[], Services] | None = None) -> None:
        import_task_modules()
        self.target = queue_target(settings)
        self.huey = make_huey(self.target)
        self._context = context
        self._tasks: dict[str, Any] = {
            spec.name: self.huey.task(name=spec.name, retries=spec.retries, retry_delay=spec.retry_delay)(
                self._runner(spec.name, spec.func)
            )
            for spec in TASKS.values()
        }

    def add_periodic(self, jobs: tuple[PeriodicJob, ...]) -> None:
        """Register the worker's periodic jobs (`puente worker` does, unless --no-periodic)."""
        for job in jobs:
            self.huey.periodic_task(job.schedule, name=f"periodic_{job.name}")(
                self._runner(f"periodic {job.name}", job.run)
            )

    def _runner(self, name: str, func: TaskFunction) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            if self._context is None:
                raise RuntimeError(f"task {name} runs in `puente worker`, not here")
            try:
                return func(self._context(), *args)
            except _HUEY_CONTROL:
                raise
            except Exception as error:  # noqa: BLE001 - re-raised, as its type and place only
                where = _where(error)
                logger.warning("task %s failed: %s at %s", name, type(error).__name__, where)
                raise TaskFailed(f"{type(error).__name__} at {where}") from None

        return run

    def enqueue(self, name: str, *ids: int | str, delay: float | None = None) -> Any:
        """Queue task `name` with `ids` (after `delay` seconds); Huey's Result for it."""
        check_ids(ids)
        wrapper = self._tasks[name]
        if delay is not None:
            return wrapper.schedule(args=ids, delay=delay)
        return wrapper(*ids)

    def pending(self) -> int:
        """How many tasks wait (raises when the queue's storage does not answer)."""
        return int(self.huey.pending_count())

    def close(self) -> None:
        """Close the storage's connections."""
        storage = self.huey.storage
        if self.target.kind is QueueKind.SQLITE:
            storage.close()
        else:
            storage.pool.disconnect()
