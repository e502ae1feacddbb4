"""A failing database silences no one: the fallback in the person's language, in time, and no STOP lost.

Failures: PostgreSQL refusing connections, PostgreSQL accepting them and never
answering (both through a TCP proxy on loopback), a locked SQLite file and a
read-only one. The webhook runs in Flask's test client with a fake Rasa.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from puente.assistant import AssistantUnavailable, RasaClient
from puente.migrate import upgrade
from puente.models import Contact, InboundMessage
from puente.services import Services
from tests.conftest import PHONE_EN, PHONE_ES, PHONE_WA, make_settings
from tests.fakes import FakeRasa, serve_fake_rasa
from tests.integration.conftest import Line, utc
from tests.integration.proxy import Mode, TcpProxy, proxy_to
from tests.integration.test_inbound import FALLBACK, HELP_REPLY, STOP_REPLY, tr
from webhooks import create_app

QUESTION_ES = "hola ¿qué puedes hacer?"
#: Twilio waits 15 s; a reply without the database must come well before.
IN_TIME = 12.0


@dataclass
class Outage:
    """A line whose database can be made to fail, and brought back."""

    line: Line  # the line before the outage
    begin: Callable[[], Line]  # makes the database fail; the line to text during the outage
    end: Callable[[], Line]  # brings it back; the line to text afterwards
    expected_seconds: float  # how long a reply may take during this outage


def new_line(database_url: str, fake: FakeRasa, var_dir: Path, lines: list[Line]) -> Line:
    """An app on `database_url`; after the first, with the same secret key (the same deployment)."""
    if lines:
        settings = lines[0].settings.with_overrides(database_url=database_url)
    else:
        settings = make_settings(
            database_url, rasa_url=fake.url, actions_url=fake.url, state_dir=str(var_dir)
        )
    app = create_app(settings)
    line = Line(app, app.test_client(), settings, fake, [app])
    lines.append(line)
    return line


@pytest.fixture
def lines() -> Iterator[list[Line]]:
    """Every line a test starts, disposed of at its end."""
    started: list[Line] = []
    yield started
    for line in started:
        for app in line._apps:
            app.extensions["puente"].database.dispose()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


def postgres_outage(request: pytest.FixtureRequest, mode: Mode, make: Callable[[str], Line]) -> Outage:
    postgres_url: str = request.getfixturevalue("postgres_url")
    proxy: TcpProxy = request.getfixturevalue("proxy")
    upgrade(postgres_url)
    line = make(make_url(postgres_url).set(host="127.0.0.1", port=proxy.port).render_as_string(False))

    def begin() -> Line:
        proxy.set_mode(mode)
        return line

    def end() -> Line:
        proxy.set_mode(Mode.FORWARD)
        return line

    # Refused: at once. Hanging: the pooled connection's ping is cut at the 3 s budget.
    return Outage(line, begin, end, 1.0 if mode is Mode.REFUSE else 4.0)


def sqlite_locked_outage(request: pytest.FixtureRequest, make: Callable[[str], Line]) -> Outage:
    sqlite_url: str = request.getfixturevalue("sqlite_url")
    upgrade(sqlite_url)
    line = make(sqlite_url)
    holder = sqlite3.connect(str(make_url(sqlite_url).database), isolation_level=None)
    request.addfinalizer(holder.close)

    def begin() -> Line:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        return line

    def end() -> Line:
        holder.execute("ROLLBACK")
        return line

    # SQLite's busy timeout (2 s) ends each wait for the lock.
    return Outage(line, begin, end, 3.0)


def sqlite_read_only_outage(request: pytest.FixtureRequest, make: Callable[[str], Line]) -> Outage:
    sqlite_url: str = request.getfixturevalue("sqlite_url")
    upgrade(sqlite_url)
    line = make(sqlite_url)
    # As root a file's mode cannot stop a write; SQLite's read-only open can.
    read_only = f"sqlite:///file:{make_url(sqlite_url).database}?mode=ro&uri=true"

    def begin() -> Line:
        return make(read_only)

    def end() -> Line:
        return make(sqlite_url)  # the operator fixes the file and restarts: start-up drains

    return Outage(line, begin, end, 1.0)


@pytest.fixture(params=["postgresql-refused", "postgresql-hanging", "sqlite-locked", "sqlite-read-only"])
def outage(request: pytest.FixtureRequest, fake_rasa: FakeRasa, var_dir: Path, lines: list[Line]) -> Outage:
    def make(url: str) -> Line:
        return new_line(url, fake_rasa, var_dir, lines)

    kind: str = request.param
    if kind == "postgresql-refused":
        return postgres_outage(request, Mode.REFUSE, make)
    if kind == "postgresql-hanging":
        return postgres_outage(request, Mode.HANG, make)
    if kind == "sqlite-locked":
        return sqlite_locked_outage(request, make)
    return sqlite_read_only_outage(request, make)


def timed_text(line: Line, body: str, sender: str) -> tuple[list[str], float]:
    started = time.monotonic()
    status, replies = line.text(body, sender)
    elapsed = time.monotonic() - started
    assert status == 200
    print(f"{body!r}: {elapsed:.2f} s")  # shown with -s: the measured reply times
    return replies, elapsed


def contact_of(line: Line, phone: str) -> Contact:
    core: Services = line.app.extensions["puente"]
    with core.database.session() as session:
        query = select(Contact).where(Contact.phone_hash == core.vault.phone_hash(phone))
        return session.scalars(query).one()


def assert_logs_clean(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    """Nothing logged carries a number or a body; nothing logged a traceback."""
    for record in caplog.records:
        text = record.getMessage()
        for secret in secrets:
            assert secret not in text, f"{record.name} logged {secret!r}"
        assert record.exc_info is None or record.levelno < logging.ERROR, f"{record.name}: {text}"
        assert "Traceback" not in text


def test_the_person_gets_an_answer_in_their_language_in_time_and_their_stop_holds(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert outage.line.text("hola", PHONE_ES)[1] == ["fake reply in es"]  # a known contact, in Spanish
    asked = len(outage.line.rasa.requests)

    line = outage.begin()
    replies, elapsed = timed_text(line, QUESTION_ES, PHONE_EN)
    assert replies == [tr("es", FALLBACK)]  # the language of the message: nobody could be read
    assert elapsed < min(outage.expected_seconds, IN_TIME)

    before = datetime.now(UTC)
    replies, elapsed = timed_text(line, "PARAR", PHONE_ES)
    assert replies == [tr("es", STOP_REPLY)]  # answered at once, kept in the spool
    assert elapsed < min(outage.expected_seconds, IN_TIME)
    replies, _ = timed_text(line, "Parar.", PHONE_WA)  # someone Puente has never met
    assert replies == [tr("es", STOP_REPLY)]
    replies, _ = timed_text(line, "AYUDA", PHONE_EN)  # HELP needs nothing stored: always answered
    assert replies == [tr("es", HELP_REPLY)]
    after = datetime.now(UTC)
    spooled = line.app.extensions["puente"].optout_spool.pending()
    assert len(spooled) == 2
    for path in spooled:
        assert PHONE_ES[2:] not in path.read_text() and PHONE_WA[2:] not in path.read_text()
    assert len(line.rasa.requests) == asked  # Rasa is not asked while the database is down

    started = time.monotonic()
    health = line.client.get("/healthz")
    print(f"/healthz: {time.monotonic() - started:.2f} s")
    assert time.monotonic() - started < 5.0
    assert health.status_code == 503 and "database" in health.get_json()["down"]
    assert health.get_json()["spooled_optouts"] == 2

    back = outage.end()
    # The next message finds the spool applied first: the STOP holds (no reply after a STOP).
    assert back.text("hola", PHONE_ES)[1] == []
    assert back.text("hola", PHONE_WA)[1] == []
    assert len(back.rasa.requests) == asked
    for phone in (PHONE_ES, PHONE_WA):
        opted_out_at = utc(contact_of(back, phone).opted_out_at)
        assert opted_out_at is not None and before <= opted_out_at <= after  # the time they wrote
    wa = contact_of(back, PHONE_WA)
    assert wa.phone_encrypted is not None and wa.channel == "sms"  # their number, once they wrote again
    assert back.app.extensions["puente"].optout_spool.pending() == []
    back.worker_beats()
    health = back.client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["spooled_optouts"] == 0

    assert_logs_clean(caplog, PHONE_ES[2:], PHONE_EN[2:], PHONE_WA[2:], QUESTION_ES, "PARAR", "AYUDA")


@pytest.fixture
def sqlite_line(sqlite_url: str, fake_rasa: FakeRasa, var_dir: Path, lines: list[Line]) -> Line:
    upgrade(sqlite_url)
    return new_line(sqlite_url, fake_rasa, var_dir, lines)


def lock(sqlite_url: str) -> sqlite3.Connection:
    holder = sqlite3.connect(str(make_url(sqlite_url).database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_healthz_applies_the_spool_once_the_database_answers(sqlite_line: Line, sqlite_url: str) -> None:
    holder = lock(sqlite_url)
    assert sqlite_line.text("PARAR", PHONE_ES)[1] == [tr("es", STOP_REPLY)]
    holder.close()
    sqlite_line.worker_beats()
    health = sqlite_line.client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["spooled_optouts"] == 0
    contact = contact_of(sqlite_line, PHONE_ES)
    assert contact.opted_out_at is not None and contact.language == "es"


def test_start_up_applies_the_spool(sqlite_line: Line, sqlite_url: str) -> None:
    holder = lock(sqlite_url)
    assert sqlite_line.text("STOP", PHONE_EN)[1] == [STOP_REPLY]
    holder.close()
    restarted = sqlite_line.restarted()
    assert restarted.app.extensions["puente"].optout_spool.pending() == []
    assert contact_of(restarted, PHONE_EN).opted_out_at is not None


def test_a_stop_that_cannot_be_kept_is_not_claimed(
    sqlite_url: str, fake_rasa: FakeRasa, tmp_path: Path, lines: list[Line], caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(sqlite_url)
    (tmp_path / "not-a-folder").write_text("")
    line = new_line(sqlite_url, fake_rasa, tmp_path / "not-a-folder", lines)
    holder = lock(sqlite_url)
    try:
        # Without the spool the STOP would be lost: the person is asked to try again.
        assert line.text("PARAR", PHONE_ES)[1] == [tr("es", FALLBACK)]
    finally:
        holder.close()
    assert any("could not be kept" in r.getMessage() for r in caplog.records)


def test_a_message_after_recovery_is_recorded_as_usual(sqlite_line: Line, sqlite_url: str) -> None:
    holder = lock(sqlite_url)
    assert sqlite_line.text("hello", PHONE_EN)[1] == [FALLBACK]
    holder.close()
    assert sqlite_line.text("hello", PHONE_EN)[1] == ["fake reply in en"]
    with sqlite_line.app.extensions["puente"].database.session() as session:
        assert session.scalars(select(InboundMessage.route)).all() == ["rasa"]


def test_rasa_is_given_only_the_time_left() -> None:
    with serve_fake_rasa(FakeRasa(mode="hang", hang_seconds=5)) as fake:
        client = RasaClient(fake.url, fake.url, timeout=10.0)
        started = time.monotonic()
        with pytest.raises(AssistantUnavailable):
            client.respond("p1", "hola", {}, timeout=0.5)
        assert time.monotonic() - started < 2.0


def test_healthz_waits_for_a_stuck_spool_only_as_long_as_its_other_checks(
    sqlite_line: Line, sqlite_url: str
) -> None:
    holder = lock(sqlite_url)
    assert sqlite_line.text("PARAR", PHONE_ES)[1] == [tr("es", STOP_REPLY)]
    holder.close()
    sqlite_line.worker_beats()
    spool = sqlite_line.app.extensions["puente"].optout_spool
    fd = os.open(spool.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another worker's drain, stuck
    try:
        started = time.monotonic()
        health = sqlite_line.client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        os.close(fd)
    assert elapsed < 2.5, f"/healthz took {elapsed:.1f} s"  # inside compose's 5 s probe, with Rasa's 4 s
    assert health.status_code == 503 and health.get_json()["down"] == ["database"]
    assert sqlite_line.client.get("/healthz").status_code == 200
    assert contact_of(sqlite_line, PHONE_ES).opted_out_at is not None
