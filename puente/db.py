"""Database engine and sessions. Nothing connects at import time.

Twilio waits 15 s for a reply and Rasa may take 10 s of it, so the database gets
a few seconds and every way it can hang is bounded:

- connecting: libpq's `connect_timeout` (a refused connection fails at once, an
  unanswered one after CONNECT_TIMEOUT);
- waiting for a free pooled connection: POOL_TIMEOUT;
- everything a session does once it holds a connection (the ping on checkout, its
  statements, its commit): the session's deadline. A watchdog cuts the connection's
  socket (PostgreSQL) or interrupts SQLite when it passes, so even a server that
  accepts a connection and then never answers costs no more than the deadline.
  PostgreSQL's own statement_timeout and lock_timeout end the same waits server-side,
  and SQLite's busy_timeout ends a wait for a lock.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from puente.config import PROJECT_ROOT

#: Seconds libpq may take to connect (its minimum: lower values count as 2).
CONNECT_TIMEOUT = 2
#: Seconds to wait for a pooled connection when all are in use.
POOL_TIMEOUT = 0.5
#: A session's default deadline, in seconds.
SESSION_TIMEOUT = 3.0
#: How long a failing session may outlast its deadline: the two waits a watchdog
#: cannot cut (a pooled connection, a new connection) each end on their own timeout.
OVERRUN = POOL_TIMEOUT + CONNECT_TIMEOUT
#: Server-side backstops (milliseconds): a runaway statement, a row lock held by
#: someone else, a client that went away inside a transaction.
STATEMENT_TIMEOUT_MS = 5000
LOCK_TIMEOUT_MS = 2000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 10000
#: How long SQLite waits for another writer's lock: within a session's deadline,
#: because SQLite's interrupt does not end that wait.
SQLITE_BUSY_TIMEOUT_MS = 2000

#: What a failing database raises: SQLAlchemy's errors, and the drivers' own when
#: one escapes unwrapped.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, psycopg.Error)


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC time: SQLite hands back naive ones, stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Puente table."""


class DatabaseTimeout(SQLAlchemyError):
    """The database did not finish within the time it was given."""


def resolve_url(url: str) -> str:
    """Make a relative SQLite path relative to the project root, and create its folder."""
    parsed = make_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database
        and parsed.database != ":memory:"
        and not parsed.query.get("uri")  # file:…?mode=ro: SQLite reads the path itself
    ):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return parsed.set(database=str(path)).render_as_string(hide_password=False)
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the webhooks, the action server and Rasa's tracker store share the
    # file: readers never block the writer, and a writer waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last
    # commits, never an application crash. Saves an fsync on every message.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _postgres_connect_args(url: URL) -> dict[str, Any]:
    """libpq parameters that bound every wait; a value given in the URL wins."""
    server = (
        f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
    )
    given = url.query.get("options")
    args: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT,
        # A peer that vanishes (a dropped network, a dead host) is noticed by the
        # kernel even on an idle pooled connection.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 10_000,
        "options": f"{server} {given}" if isinstance(given, str) else server,
    }
    return {name: value for name, value in args.items() if name == "options" or name not in url.query}


# --- the watchdog ---------------------------------------------------------------


def _abort(dbapi_connection: Any) -> None:
    """End whatever `dbapi_connection` is waiting for, from another thread."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.interrupt()
        return
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return
    try:
        fd = pgconn.socket
    except psycopg.Error:
        return  # already closed
    # Shut the socket down under libpq: its wait ends at once with "server closed
    # the connection", and SQLAlchemy discards the connection.
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Watch:
    """The connections one session uses, aborted when its deadline passes."""

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._done = False
        self.expired = False
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def add(self, dbapi_connection: Any) -> None:
        with self._lock:
            if not any(c is dbapi_connection for c in self._connections):
                self._connections.append(dbapi_connection)
            if self.expired:
                _abort(dbapi_connection)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for connection in self._connections:
                _abort(connection)

    def close(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


# The watch of the session this thread is in, if any.
_current = threading.local()


def _watch_of_this_thread() -> _Watch | None:
    watch: _Watch | None = getattr(_current, "watch", None)
    return watch


def _watch_listeners(engine: Engine) -> None:
    """Give each connection a session uses to its watch, and ping pooled ones under it.

    SQLAlchemy's own pre-ping runs before any event that names the connection, where
    no watchdog could cut it; this ping runs after the connection is watched.
    """
    dialect = engine.dialect

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        record.info["fresh"] = True
        watch = _watch_of_this_thread()
        if watch is not None:
            watch.add(dbapi_connection)

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        watch = _watch_of_this_thread()
        if watch is not None:
            watch.add(dbapi_connection)
        if record.info.pop("fresh", False):
            return  # just connected: nothing to ping
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if watch is not None and watch.expired:
                raise DatabaseTimeout("the database did not answer in time") from None
            # A stale connection (the server restarted): the pool opens a new one.
            raise DisconnectionError(type(error).__name__) from None

    def before_execute(*_args: Any) -> None:
        watch = _watch_of_this_thread()
        if watch is not None and watch.expired:
            raise DatabaseTimeout("the database did not answer in time")

    # First among the connect listeners, so a hang in SQLAlchemy's first-connect
    # queries is watched too.
    event.listen(engine, "connect", on_connect, insert=True)
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "before_cursor_execute", before_execute)


def make_engine(url: str) -> Engine:
    """An engine for `url` (any SQLAlchemy URL; SQLite and PostgreSQL are tested)."""
    url = resolve_url(url)
    parsed = make_url(url)
    options: dict[str, Any] = {
        # Error messages name the statement but never its values.
        "hide_parameters": True,
    }
    if parsed.get_backend_name() == "postgresql":
        options["connect_args"] = _postgres_connect_args(parsed)
    if not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")):
        options["pool_timeout"] = POOL_TIMEOUT  # an in-memory SQLite has no such pool
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _watch_listeners(engine)
    return engine


class Database:
    """An engine and its session factory, created on first use."""

    def __init__(self, url: str) -> None:
        self.url = url

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.url)

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self, timeout: float | None = SESSION_TIMEOUT) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error.

        Its database work must end within `timeout` seconds (None: no limit), or it
        fails with a database error: see the module's docstring for how.
        """
        if timeout is not None and timeout <= 0:
            raise DatabaseTimeout("no time left for the database")
        watch = _Watch(timeout) if timeout is not None else None
        outer = _watch_of_this_thread()
        _current.watch = watch
        try:
            with self._sessions() as session, session.begin():
                yield session
                if watch is not None and watch.expired:
                    raise DatabaseTimeout("the database did not answer in time")
        finally:
            _current.watch = outer
            if watch is not None:
                watch.close()

    def check(self, timeout: float) -> None:
        """Raise a database error unless the database answers, and would take a write, in time."""
        with self.session(timeout) as session:
            connection = session.connection()
            if connection.dialect.name == "sqlite":
                # A read succeeds on a locked or read-only file; taking the write lock does not.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                connection.exec_driver_sql("ROLLBACK")
            else:
                connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        if "engine" in self.__dict__:  # never connect just to disconnect
            self.engine.dispose()
