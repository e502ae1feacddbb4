"""Retention (`puente purge`): conversation data older than RETENTION_DAYS goes; opt-outs,
suppressions, subscriptions and consent records stay. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from puente import contacts
from puente.alerts.erase import suppress
from puente.alerts.models import ConsentRecord, Subscription, Suppression
from puente.alerts.retention import TABLES, purge
from puente.cli import cli
from puente.db import Database
from puente.messaging.paging import PendingPages
from puente.models import Contact, ContactChannel, InboundMessage
from puente.privacy import Vault
from puente.questions import OpenQuestion
from tests.integration.conftest import utc

VAULT = Vault(b"k" * 48)
NOW = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
DAYS = 30
LONG_AGO, LATELY = NOW - timedelta(days=45), NOW - timedelta(days=3)
# Fictional numbers (555-01xx), one per kind of person.
TEXTED_ONCE_LONG_AGO = "+12135550106"
TEXTS_LATELY = "+12135550107"
OPTED_OUT = "+12135550108"
SUBSCRIBED = "+12135550109"
LEFT_EVERY_TOPIC = "+12135550110"
ASKED_A_QUESTION = "+12135550113"
STOPPED_DURING_AN_OUTAGE = "+12135550114"
ERASED = "+12135550115"

# Rasa 3.6's SQLTrackerStore table, as Rasa creates it in the shared database.
EVENTS_TABLE = (
    "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
    "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
    "action_name VARCHAR(255), data TEXT)"
)


@dataclass
class World:
    ids: dict[str, int]
    pseudonyms: dict[str, str]


def person(session: Session, phone: str, last: datetime, **fields: object) -> Contact:
    contact = Contact(phone_hash=VAULT.phone_hash(phone), phone_encrypted=VAULT.encrypt(phone),
                      key_id=VAULT.key_id, pseudonym="p" + phone[-4:] * 8, language="es", channel="sms",
                      created_at=last, last_inbound_at=last, **fields)
    session.add(contact)
    session.flush()
    return contact


def build(database: Database, *, rasa: bool = True) -> World:
    soon = NOW + timedelta(minutes=30)
    with database.session() as session:
        once = person(session, TEXTED_ONCE_LONG_AGO, LONG_AGO)
        lately = person(session, TEXTS_LATELY, LATELY)
        opted_out = person(session, OPTED_OUT, LONG_AGO, opted_out_at=LONG_AGO)
        subscribed = person(session, SUBSCRIBED, LONG_AGO)
        left = person(session, LEFT_EVERY_TOPIC, LONG_AGO)
        asked = person(session, ASKED_A_QUESTION, LONG_AGO)
        contacts.opt_out_by_hash(session, VAULT.phone_hash(STOPPED_DURING_AN_OUTAGE), "es", LONG_AGO)
        suppress(session, VAULT, ERASED)
        people = {TEXTED_ONCE_LONG_AGO: once, TEXTS_LATELY: lately, OPTED_OUT: opted_out,
                  SUBSCRIBED: subscribed, LEFT_EVERY_TOPIC: left, ASKED_A_QUESTION: asked}
        # The message log: each person's texts, and a few from people since erased (no contact).
        log: list[tuple[int | None, datetime]] = [
            (c.id, LONG_AGO) for c in people.values()] + [(lately.id, LATELY), (None, LONG_AGO),
                                                          (None, LONG_AGO), (None, LATELY)]
        for contact_id, at in log:
            session.add(InboundMessage(message_sid_hash=os.urandom(32).hex(), contact_id=contact_id,
                                       channel="sms", route="rasa", received_at=at))
        for contact, channel, at in [(once, "sms", LONG_AGO), (lately, "sms", LATELY),
                                     (lately, "whatsapp", LONG_AGO), (opted_out, "sms", LONG_AGO)]:
            session.add(ContactChannel(contact_id=contact.id, channel=channel, last_inbound_at=at))
        session.add(PendingPages(contact_id=once.id, pages=["…"], language="es", expires_at=LONG_AGO))
        session.add(PendingPages(contact_id=lately.id, pages=["…"], language="es", expires_at=soon))
        session.add(OpenQuestion(contact_id=once.id, kind="confirm_stop", payload={}, language="es",
                                 asked_at=LONG_AGO, expires_at=LONG_AGO + timedelta(minutes=10)))
        session.add(OpenQuestion(contact_id=asked.id, kind="signup_topics", payload={}, language="es",
                                 asked_at=NOW - timedelta(minutes=5), expires_at=soon))
        session.add(Subscription(contact_id=subscribed.id, topic="hearings", jurisdiction_id="ca-fresno",
                                 channel="sms", language="es", created_at=LONG_AGO, updated_at=LONG_AGO))
        for contact, action in [(subscribed, "subscribe"), (left, "subscribe"), (left, "leave")]:
            session.add(ConsentRecord(contact_id=contact.id, action=action, recorded_at=LONG_AGO,
                                      channel="sms", source="text", language="es", text="…",
                                      topics=["hearings"]))
        if rasa:
            session.execute(text(EVENTS_TABLE))
            events = [(once, LONG_AGO), (once, LONG_AGO), (once, LATELY),  # a clock that was wrong
                      (lately, LONG_AGO), (lately, LATELY), (lately, LATELY), (subscribed, LONG_AGO)]
            for n, (contact, at) in enumerate(events, start=1):
                session.execute(text(
                    "INSERT INTO events (id, sender_id, type_name, timestamp, data) "
                    "VALUES (:id, :sender, 'user', :at, '{\"text\": \"hola\"}')"),
                    {"id": n, "sender": contact.pseudonym, "at": at.timestamp()})
        return World({p: c.id for p, c in people.items()}, {p: c.pseudonym for p, c in people.items()})


def counts(database: Database) -> dict[str, int]:
    with database.session() as session:
        tables = [*TABLES, "subscriptions", "consent_records", "suppressions"]
        has_events = database.engine.dialect.has_table(session.connection(), "events")
        return {name: session.scalar(text(f"SELECT count(*) FROM {name}")) or 0
                for name in tables if name != "events" or has_events}


EXPECTED = {"inbound_messages": 8, "events": 5, "pending_pages": 1, "open_questions": 1,
            "contact_channels": 3, "contacts": 1}


def test_a_dry_run_counts_what_a_purge_deletes_and_changes_nothing(database: Database) -> None:
    build(database)
    before = counts(database)
    report = purge(database, NOW, DAYS, dry_run=True)
    assert report.dry_run and report.tracker and report.cutoff == NOW - timedelta(days=DAYS)
    assert report.deleted == EXPECTED
    assert counts(database) == before


def test_a_purge_deletes_old_conversation_data_and_people_nothing_keeps(database: Database) -> None:
    world = build(database)
    before = counts(database)
    report = purge(database, NOW, DAYS, batch_size=2)  # several batches in the big tables
    assert report.deleted == EXPECTED and not report.dry_run
    after = counts(database)
    assert {name: before[name] - after[name] for name in after} == {
        **EXPECTED, "subscriptions": 0, "consent_records": 0, "suppressions": 0}

    with database.session() as session:
        kept = {VAULT.decrypt(c.phone_encrypted) if c.phone_encrypted else "by hash": c.id
                for c in session.scalars(select(Contact))}
        # The person who texted once, long ago, is gone with everything of theirs.
        assert set(kept) == {
            TEXTS_LATELY, OPTED_OUT, SUBSCRIBED, LEFT_EVERY_TOPIC, ASKED_A_QUESTION, "by hash"}
        gone = world.ids[TEXTED_ONCE_LONG_AGO]
        for model in (ContactChannel, PendingPages, OpenQuestion, InboundMessage):
            left = session.scalar(select(func.count()).select_from(model).where(model.contact_id == gone))
            assert left == 0, model
        # What is left of the message log is recent; so is what is left of the conversations.
        assert all(utc(m.received_at) == LATELY for m in session.scalars(select(InboundMessage)))
        senders = session.execute(text("SELECT sender_id, timestamp FROM events")).all()
        assert sorted(senders) == sorted([(world.pseudonyms[TEXTS_LATELY], LATELY.timestamp())] * 2)
        # The person who asked a question and the person who texts lately keep theirs.
        assert session.get(OpenQuestion, world.ids[ASKED_A_QUESTION]) is not None
        assert session.get(PendingPages, world.ids[TEXTS_LATELY]) is not None
        assert {(c.contact_id, c.channel) for c in session.scalars(select(ContactChannel))} == {
            (world.ids[TEXTS_LATELY], "sms")}
        # Opt-outs, suppressions, subscriptions and consent records are never purged.
        assert session.scalars(select(Suppression)).one().phone_hash == VAULT.phone_hash(ERASED)
        assert session.scalar(select(func.count()).select_from(Subscription)) == 1
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 3

    again = purge(database, NOW, DAYS)
    assert again.total == 0


def test_without_rasas_table_the_rest_is_purged(database: Database) -> None:
    build(database, rasa=False)
    report = purge(database, NOW, DAYS)
    assert not report.tracker
    assert report.deleted == {**EXPECTED, "events": 0}


def test_in_the_callers_transaction_nothing_is_deleted_until_it_commits(database: Database) -> None:
    build(database)
    before = counts(database)
    with pytest.raises(RuntimeError), database.session() as session:
        assert purge(session, NOW, DAYS).deleted == EXPECTED
        raise RuntimeError("the caller changes its mind")
    assert counts(database) == before
    with database.session() as session:
        purge(session, NOW, DAYS)
    assert counts(database)["contacts"] == before["contacts"] - 1


def test_the_retention_period_decides_what_is_old(database: Database) -> None:
    build(database)
    assert purge(database, NOW, 60, dry_run=True).total == 2  # only the expired question and page
    assert purge(database, NOW, 2, dry_run=True).deleted["inbound_messages"] == 10


def test_the_command_prints_counts_per_table(
    database_url: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(database)
    for name, value in {"DATABASE_URL": database_url, "PUENTE_ENV_FILE": os.devnull,
                        "RETENTION_DAYS": str(DAYS)}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    dry = runner.invoke(cli, ["purge", "--now", "2026-12-31T12:00:00+00:00", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert ("Would delete conversation data from before 2026-12-01T12:00:00+00:00 (RETENTION_DAYS=30)"
            in dry.output)
    assert "  inbound_messages: 8\n" in dry.output and "  events (Rasa's tracker): 5\n" in dry.output
    assert "Dry run: nothing was deleted." in dry.output
    done = runner.invoke(cli, ["purge", "--now", "2026-12-31T12:00:00", "--batch-size", "3"])  # UTC
    assert done.exit_code == 0, done.output
    shown = {name: f"{name} (Rasa's tracker)" if name == "events" else name for name in EXPECTED}
    for name, count in EXPECTED.items():
        assert f"  {shown[name]}: {count}\n" in done.output
    assert runner.invoke(cli, ["purge", "--now", "yesterday"]).exit_code == 2


def test_the_worker_purges_on_its_schedule(database: Database) -> None:
    """The worker's periodic job runs the same purge, with RETENTION_DAYS, at the clock's now."""
    from puente.jobs.tasks import PERIODIC_JOBS, purge_old_conversations
    from puente.services import Services
    from tests.conftest import make_settings

    assert "purge_old_conversations" in [job.name for job in PERIODIC_JOBS]
    build(database)
    before = counts(database)
    services = Services(make_settings(database.url, retention_days=1))
    try:
        purge_old_conversations(services)  # the real clock, a day: LONG_AGO is old, LATELY is not
    finally:
        services.database.dispose()
    after = counts(database)
    assert after["inbound_messages"] < before["inbound_messages"]
    assert (after["subscriptions"], after["consent_records"], after["suppressions"]) == (
        before["subscriptions"], before["consent_records"], before["suppressions"])


def test_events_of_no_contact_go_after_a_grace_period(database: Database) -> None:
    """A turn Rasa saved after its person was erased (or a `rasa shell` session) is not kept for
    RETENTION_DAYS: once ten minutes old, events of a sender no contact holds are purged."""
    world = build(database)
    with database.session() as session:
        for n, (sender, at) in enumerate([("p-erased-mid-turn", NOW - timedelta(minutes=11)),
                                          ("p-erased-just-now", NOW - timedelta(minutes=2))], start=100):
            session.execute(text("INSERT INTO events (id, sender_id, type_name, timestamp, data) "
                                 "VALUES (:id, :sender, 'user', :at, '{\"text\": \"hola\"}')"),
                            {"id": n, "sender": sender, "at": at.timestamp()})
    report = purge(database, NOW, DAYS)
    assert report.deleted["events"] == EXPECTED["events"] + 1
    with database.session() as session:
        senders = set(session.scalars(text("SELECT sender_id FROM events")).all())
    assert "p-erased-mid-turn" not in senders and "p-erased-just-now" in senders
    assert world.pseudonyms[TEXTS_LATELY] in senders  # a contact's recent events stay
