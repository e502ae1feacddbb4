"""Every way the database can hang ends in time: refused, unanswered, hung mid-connection, locked.

PostgreSQL sits behind a TCP proxy on loopback that can refuse connections or
accept them and never answer (tests/integration/proxy.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from puente.db import DATABASE_ERRORS, Database, DatabaseTimeout
from puente.migrate import upgrade
from puente.models import Contact, utcnow
from tests.integration.proxy import Mode, TcpProxy, proxy_to


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


@pytest.fixture
def proxied(postgres_url: str, proxy: TcpProxy) -> Iterator[Database]:
    """A Database on the test's PostgreSQL database, through the proxy."""
    url = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    database = Database(url.render_as_string(hide_password=False))
    yield database
    database.dispose()


def select_one(database: Database, timeout: float = 3.0) -> float:
    """Seconds a `SELECT 1` session took; raises what the database raised."""
    started = time.monotonic()
    with database.session(timeout) as session:
        session.execute(text("SELECT 1"))
    return time.monotonic() - started


def in_time(work: Callable[[], object], limit: float) -> tuple[float, BaseException | None]:
    """Run `work` in a thread: (seconds it took, what it raised). Fails, not hangs, past `limit`."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome.append(error)
        else:
            outcome.append(None)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit + 5)
    elapsed = time.monotonic() - started
    print(f"{elapsed:.2f} s")  # shown with -s: the measured times
    if not outcome:
        pytest.fail(f"still waiting for the database after {elapsed:.1f} s")
    assert elapsed < limit, f"ended only after {elapsed:.2f} s"
    return elapsed, outcome[0]


def fails_within(database: Database, limit: float, timeout: float = 3.0) -> float:
    elapsed, error = in_time(lambda: select_one(database, timeout), limit)
    assert isinstance(error, DATABASE_ERRORS), f"expected a database error, got {error!r}"
    return elapsed


def test_a_refused_connection_fails_at_once(proxied: Database, proxy: TcpProxy) -> None:
    proxy.set_mode(Mode.REFUSE)
    fails_within(proxied, 0.5)


def test_a_server_that_accepts_and_never_answers_fails_at_the_connect_timeout(
    proxied: Database, proxy: TcpProxy
) -> None:
    proxy.set_mode(Mode.HANG)
    assert 1.5 < fails_within(proxied, 2.8)


def test_a_server_that_hangs_under_an_open_connection_fails_at_the_session_deadline(
    proxied: Database, proxy: TcpProxy
) -> None:
    select_one(proxied)  # a pooled connection, open through the proxy
    proxy.set_mode(Mode.HANG)
    # The ping on checkout would wait forever: the watchdog cuts it at the deadline.
    assert 0.9 < fails_within(proxied, 1.6, timeout=1.0)
    proxy.set_mode(Mode.FORWARD)
    assert select_one(proxied) < 1.0  # and the next session gets a fresh connection


def test_a_statement_that_hangs_fails_at_the_session_deadline(proxied: Database, proxy: TcpProxy) -> None:
    def hang_midway() -> None:
        with proxied.session(1.0) as session:
            session.execute(text("SELECT 1"))
            proxy.set_mode(Mode.HANG)
            session.execute(text("SELECT 2"))

    _elapsed, error = in_time(hang_midway, 1.6)
    assert isinstance(error, DATABASE_ERRORS)


def test_a_pooled_connection_to_a_restarted_server_is_replaced_quietly(
    proxied: Database, proxy: TcpProxy
) -> None:
    select_one(proxied)
    proxy.set_mode(Mode.REFUSE)  # the server goes away, and its connections with it
    proxy.set_mode(Mode.FORWARD)
    select_one(proxied)  # the stale pooled connection fails its ping: a new one is opened


def test_postgres_sessions_carry_server_side_timeouts(postgres_url: str) -> None:
    database = Database(postgres_url)
    with database.session() as session:
        assert session.scalar(text("SHOW statement_timeout")) == "5s"
        assert session.scalar(text("SHOW lock_timeout")) == "2s"
        assert session.scalar(text("SHOW idle_in_transaction_session_timeout")) == "10s"
    database.dispose()


def test_a_locked_sqlite_file_fails_within_the_busy_timeout(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    holder = sqlite3.connect(tmp_path / "puente.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    database = Database(sqlite_url)

    def write() -> None:
        with database.session() as session:
            session.execute(
                insert(Contact).values(
                    phone_hash="h", phone_encrypted=b"x", pseudonym="p", language="en",
                    language_source="detected", channel="sms", created_at=utcnow(),
                )
            )

    try:
        elapsed, error = in_time(write, 2.8)
        assert isinstance(error, DATABASE_ERRORS) and elapsed > 1.5
        # The health check takes the write lock: it sees the lock too.
        _elapsed, error = in_time(lambda: database.check(3.0), 2.8)
        assert isinstance(error, DATABASE_ERRORS)
    finally:
        holder.close()
        database.dispose()
    database.check(3.0)


def test_a_session_past_its_deadline_runs_no_more_statements(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    with pytest.raises(DatabaseTimeout), database.session(0.2) as session:
        session.execute(text("SELECT 1"))
        time.sleep(0.3)
        session.execute(text("SELECT 2"))
    with pytest.raises(DatabaseTimeout), database.session(0.2) as session:
        session.execute(text("SELECT 1"))
        time.sleep(0.3)  # nothing more to run: the commit is refused instead
    database.dispose()


def test_database_errors_never_carry_the_values(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    database = Database(sqlite_url)
    row = {
        "phone_hash": "a-hash-that-must-not-be-logged", "phone_encrypted": b"x", "pseudonym": "p",
        "language": "en", "language_source": "detected", "channel": "sms", "created_at": utcnow(),
    }
    with database.session() as session:
        session.execute(insert(Contact).values(**row))
    with pytest.raises(DATABASE_ERRORS) as raised, database.session() as session:
        session.execute(insert(Contact).values(**row))
    assert "a-hash-that-must-not-be-logged" not in str(raised.value)
    database.dispose()
