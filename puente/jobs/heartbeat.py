"""Worker heartbeats: each `puente worker` records every few seconds that it is alive.

The row is keyed by host and process id, in the database every process shares, so
`/healthz` on any machine knows with one query whether some worker is alive, and
`make run` knows when the worker it started is up. Times are each machine's UTC clock:
machines that share a database keep their clocks in sync (NTP), as servers do.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from puente.db import DATABASE_ERRORS, Database, as_utc
from puente.jobs.models import WorkerHeartbeat

#: Seconds between a worker's heartbeats.
HEARTBEAT_INTERVAL = 5.0
#: A worker whose last heartbeat is older than this (seconds) counts as down.
STALE_AFTER = 30.0
#: Rows of workers silent this long are removed (a SIGKILLed worker leaves its row behind).
PRUNE_AFTER = timedelta(hours=1)


def worker_identity() -> tuple[str, int]:
    """This process, as its heartbeat row names it: (host name, process id)."""
    return socket.gethostname(), os.getpid()


def beat(
    database: Database, hostname: str, pid: int, started_at: datetime, now: datetime | None = None
) -> None:
    """Record that the worker (`hostname`, `pid`) is alive now."""
    now = now or datetime.now(UTC)
    with database.session() as session:
        row = session.get(WorkerHeartbeat, (hostname, pid))
        if row is None:
            session.add(WorkerHeartbeat(hostname=hostname, pid=pid, started_at=started_at, last_seen=now))
        else:
            row.last_seen = now


def forget(database: Database, hostname: str, pid: int) -> None:
    """Remove a worker's row: it is stopping, and should not count as alive a moment longer."""
    with database.session() as session:
        session.execute(
            delete(WorkerHeartbeat).where(WorkerHeartbeat.hostname == hostname, WorkerHeartbeat.pid == pid)
        )


def prune(database: Database, now: datetime | None = None) -> int:
    """Remove the rows of workers silent for `PRUNE_AFTER`; returns how many."""
    cutoff = (now or datetime.now(UTC)) - PRUNE_AFTER
    with database.session() as session:
        result = session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


def latest_age(database: Database, timeout: float, now: datetime | None = None) -> float | None:
    """Seconds since any worker last beat (None: no worker ever did, or all were pruned).

    Raises a database error when the database does not answer within `timeout`.
    """
    with database.session(timeout) as session:
        last = session.scalar(select(func.max(WorkerHeartbeat.last_seen)))
    if last is None:
        return None
    return max(0.0, ((now or datetime.now(UTC)) - as_utc(last)).total_seconds())


def problem(database: Database, timeout: float) -> str | None:
    """What `/healthz` says of the workers: None when one beat within `STALE_AFTER` seconds.

    Raises a database error when the database does not answer.
    """
    age = latest_age(database, timeout)
    if age is None:
        return "no heartbeat"
    if age > STALE_AFTER:
        return f"last heartbeat {age:.0f} s ago"
    return None


def seen(database_url: str, hostname: str, pid: int | None = None, within: float = STALE_AFTER) -> bool:
    """Whether a worker on `hostname` (the one with process id `pid`, if given) beat within
    `within` seconds; False when the database does not answer.

    What `make run` waits for before it calls the worker up, and the worker container's
    health check (in a container, the host is the container).
    """
    query = select(func.max(WorkerHeartbeat.last_seen)).where(WorkerHeartbeat.hostname == hostname)
    if pid is not None:
        query = query.where(WorkerHeartbeat.pid == pid)
    database = Database(database_url)
    try:
        with database.session() as session:
            last = session.scalar(query)
    except DATABASE_ERRORS:
        return False
    finally:
        database.dispose()
    return last is not None and (datetime.now(UTC) - as_utc(last)).total_seconds() <= within
