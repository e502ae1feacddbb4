"""Broadcasts through the real sending code, on SQLite and PostgreSQL, against a fake Twilio on
loopback. The worker's tasks are called in process here, with a clock the test moves; the real
worker runs them in tests/e2e/test_broadcasts_e2e.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import delete, func, select

from puente import contacts
from puente.alerts import subscriptions
from puente.alerts.erase import erase
from puente.broadcasts import reminders, retention, sending, service
from puente.broadcasts.models import Broadcast, Delivery, EarlyStatus, OutboxMessage, Rsvp
from puente.broadcasts.sender import Outcome, Outgoing, Result
from puente.broadcasts.service import Request
from puente.db import Database
from puente.directory.models import Hearing
from puente.directory.store import import_directory
from puente.migrate import upgrade
from puente.models import Contact, ContactChannel
from puente.privacy import Address
from puente.services import Services
from tests.conftest import make_settings
from tests.fake_twilio import FailurePlan, FakeTwilio, serve_fake_twilio

# Fictional numbers (555-01xx), one per person.
ANA, BAO, CHEN, DIEGO, EVA, FE = (
    "+12135550103",
    "+14085550130",
    "+14155550144",
    "+15105550148",
    "+15595550149",
    "+16615550150",
)
FROM = "+12135550155"
WA_FROM = "+12135550156"
#: A Tuesday at noon in California: outside quiet hours.
NOON = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    services: Services
    fake: FakeTwilio
    clock: Clock

    @property
    def db(self) -> Database:
        return self.services.database

    def person(
        self,
        phone: str,
        language: str,
        place: str = "ca-san-jose",
        topics: tuple[str, ...] = ("hearings",),
        channel: str = "sms",
        wrote_at: datetime | None = None,
    ) -> int:
        with self.db.session() as session:
            contact, _ = contacts.get_or_create_contact(
                session, self.services.vault, Address(channel, phone), language
            )
            subscriptions.apply(
                session,
                contact,
                subscriptions.Plan(topics, place, channel, language),
                action="import",
                source="test list",
                text=None,
                at=self.clock(),
            )
            if wrote_at is not None:
                session.merge(
                    ContactChannel(contact_id=contact.id, channel=channel, last_inbound_at=wrote_at)
                )
            else:
                for row in session.scalars(
                    select(ContactChannel).where(ContactChannel.contact_id == contact.id)
                ):
                    session.delete(row)
            return contact.id

    def broadcast(self, **fields: Any) -> int:
        request = Request(**{"topic": "hearings", "message": "Hearing Tuesday 9 am", **fields})
        with self.db.session() as session:
            created, _ = service.create(session, request, self.clock())
            return created.id

    def run(self, broadcast_id: int, *, advance: bool = True) -> None:
        """What the worker's tasks do for one broadcast, until nothing is left to do now."""
        if service.begin(self.db, broadcast_id, self.clock()):
            service.resolve(self.services, broadcast_id, self.clock())
        for _ in range(200):
            batch = sending.send_batch(self.services, broadcast_id)
            if batch.more:
                continue
            states = self.states(broadcast_id)
            if advance and (batch.uncertain or states.get("sending")):
                self._until_soonest(broadcast_id, "sending", Delivery.lease_until)  # a lease ends
                continue
            if advance and states.get("queued"):  # a retry's backoff, or quiet hours: time passes
                self._until_soonest(broadcast_id, "queued", Delivery.not_before)
                continue
            return
        raise AssertionError(f"the broadcast never settled: {self.states(broadcast_id)}")

    def _until_soonest(self, broadcast_id: int, state: str, column: Any) -> None:
        """Time passes until the soonest `column` of the broadcast's deliveries in `state`."""
        with self.db.session() as session:
            soonest = session.scalar(
                select(func.min(column)).where(Delivery.broadcast_id == broadcast_id, Delivery.state == state)
            )
        assert soonest is not None
        self.clock.now = max(self.clock.now, soonest.replace(tzinfo=UTC)) + timedelta(milliseconds=1)

    def states(self, broadcast_id: int) -> dict[str, int]:
        with self.db.session() as session:
            return {k: v for k, v in service.report(session, broadcast_id).states.items() if v}

    def deliveries(self, broadcast_id: int) -> list[Delivery]:
        with self.db.session() as session:
            return list(session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast_id)))

    def sent_to(self, phone: str) -> list[str]:
        return [m.body or m.content_sid or "" for m in self.fake.messages_to(phone)]


def make_harness(
    database_url: str, tmp_path: Path, fake: FakeTwilio, clock: Clock, **overrides: Any
) -> Harness:
    """Twilio's clock is the test's: its list of messages agrees with the times Puente records."""
    upgrade(database_url)
    values: dict[str, Any] = {
        "state_dir": str(tmp_path / "var"),
        "twilio_account_sid": fake.account_sid,
        "twilio_auth_token": fake.auth_token,
        "twilio_api_base_url": fake.url,
        "twilio_from_number": FROM,
        "twilio_whatsapp_from": WA_FROM,
        "twilio_send_rate": 0.0,
        **overrides,
    }
    settings = make_settings(database_url, **values)
    services = Services(settings, clock=clock)
    with services.database.session() as session:
        import_directory(session, yaml.safe_load(settings.sample_directory.read_text()))
    return Harness(services, fake, clock)


@pytest.fixture
def harness_for(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []
    clock = Clock(NOON)
    with serve_fake_twilio(FakeTwilio(clock=clock)) as fake:

        def build(**overrides: Any) -> Harness:
            h = make_harness(database_url, tmp_path, fake, clock, **overrides)
            made.append(h)
            return h

        yield build
    for h in made:
        h.services.close()


@pytest.fixture
def harness(harness_for: Callable[..., Harness]) -> Harness:
    return harness_for()


def test_each_subscriber_gets_one_message_in_their_language_over_their_channel(harness: Harness) -> None:
    harness.person(ANA, "es")
    harness.person(BAO, "vi", channel="whatsapp", wrote_at=NOON - timedelta(hours=2))
    harness.person(CHEN, "zh_Hant")
    harness.person(DIEGO, "ko")  # no Korean text: the English one, noted
    harness.person(EVA, "es", place="ca-fresno")  # another place: not in the audience
    harness.person(FE, "en", topics=("clinics",))  # another topic
    bid = harness.broadcast(
        jurisdiction_id="ca-santa-clara-county",
        translations={"es": "Audiencia el martes", "vi": "Phiên điều trần thứ Ba", "zh": "周二听证会"},
    )
    harness.run(bid)
    assert harness.states(bid) == {"sent": 4}
    assert harness.sent_to(ANA) == ["Audiencia el martes\nResponde PARAR para salir."]
    [bao] = harness.fake.messages_to(f"whatsapp:{BAO}")
    assert (
        bao.body is not None
        and bao.body.startswith("Phiên điều trần thứ Ba")
        and bao.from_ == f"whatsapp:{WA_FROM}"
    )
    [chen] = harness.sent_to(CHEN)
    assert chen.startswith("週二聽證會")  # zh, converted for a Traditional reader
    [diego] = harness.sent_to(DIEGO)
    assert diego.startswith("Hearing Tuesday 9 am")
    assert harness.sent_to(EVA) == [] and harness.sent_to(FE) == []
    with harness.db.session() as session:
        notes = dict(
            session.execute(select(Delivery.language, Delivery.note).where(Delivery.broadcast_id == bid))
            .tuples()
            .all()
        )
    assert notes == {"es": None, "vi": None, "zh_Hant": None, "ko": "en_fallback"}
    # Running its tasks again sends nothing more.
    harness.run(bid)
    assert len(harness.fake.messages) == 4


def test_nobody_opted_out_erased_or_unsubscribed_is_sent_to_even_after_queueing(harness: Harness) -> None:
    ana = harness.person(ANA, "es")
    harness.person(BAO, "en")
    harness.person(CHEN, "en")
    stopped = harness.person(DIEGO, "en")
    with harness.db.session() as session:
        contact = session.get(Contact, stopped)
        assert contact is not None
        contacts.set_opted_out(contact, True)
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    assert harness.states(bid) == {"queued": 3}  # the opted-out person is not even queued
    # After queueing: Ana erases herself, Bao opts out, Chen leaves the topic.
    with harness.db.session() as session:
        contact = session.get(Contact, ana)
        assert contact is not None
        erase(session, harness.services.vault, contact, ANA)
        bao = contacts.find_contact(session, harness.services.vault, BAO)
        assert bao is not None
        contacts.set_opted_out(bao, True)
        chen = contacts.find_contact(session, harness.services.vault, CHEN)
        assert chen is not None
        subscriptions.leave(session, chen, ("hearings",), "sms", "en")
    harness.run(bid)
    assert harness.fake.messages == []
    with harness.db.session() as session:
        reasons = sorted(
            str(r) for r in session.scalars(select(Delivery.reason).where(Delivery.broadcast_id == bid))
        )
    assert reasons == ["erased", "opted_out", "unsubscribed"]


def test_rate_limits_and_server_errors_still_give_everyone_exactly_one_message(harness: Harness) -> None:
    phones = [f"+1209555{n:04d}" for n in range(160, 180)]
    for phone in phones:
        harness.person(phone, "en")
    harness.fake.plan = FailurePlan(rate_limit_every=3, error_every=5, error_after_create_every=7)
    bid = harness.broadcast()
    harness.run(bid)
    assert harness.states(bid) == {"sent": 20}
    assert {phone: len(harness.sent_to(phone)) for phone in phones} == dict.fromkeys(phones, 1)
    stats = harness.fake.stats()
    assert stats["by_outcome"]["rate_limit"] > 0 and stats["by_outcome"]["error_after_create"] > 0
    # Twilio's own list confirmed the 500s that had created a message: none was sent again.
    with harness.db.session() as session:
        confirmed = session.scalars(select(Delivery.reason).where(Delivery.reason == "confirmed")).all()
    assert len(confirmed) == stats["by_outcome"]["error_after_create"]


def test_permanent_errors_are_recorded_and_21610_opts_the_person_out(harness: Harness) -> None:
    harness.person(ANA, "en")
    gone = harness.person(BAO, "en")
    harness.person(CHEN, "en")
    harness.fake.number_errors.update({BAO: 21610, CHEN: 21211})
    bid = harness.broadcast()
    harness.run(bid)
    with harness.db.session() as session:
        rows = {
            d.error_code: d.reason
            for d in session.scalars(select(Delivery).where(Delivery.state == "failed"))
        }
        assert rows == {21610: "opted_out", 21211: "invalid_number"}
        contact = session.get(Contact, gone)
        assert contact is not None and contact.opted_out_at is not None and contact.opted_out_via == "twilio"


def test_quiet_hours_defer_until_they_end_and_urgent_goes_through_recorded(harness: Harness) -> None:
    harness.person(ANA, "es")
    harness.clock.now = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)  # 22:30 in San José
    bid = harness.broadcast()
    harness.run(bid, advance=False)
    assert harness.fake.messages == []
    [waiting] = harness.deliveries(bid)
    assert waiting.state == "queued" and waiting.reason == "quiet_hours"
    assert waiting.not_before is not None and waiting.not_before.replace(tzinfo=UTC) == datetime(
        2026, 12, 2, 16, 0, tzinfo=UTC
    )
    harness.clock.now = datetime(2026, 12, 2, 16, 0, 1, tzinfo=UTC)  # 08:00:01
    harness.run(bid)
    assert len(harness.sent_to(ANA)) == 1
    # An urgent mobilization goes at once, and says it overrode quiet hours.
    harness.person(BAO, "en", topics=("mobilization",))
    harness.clock.now = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 23:00
    urgent = harness.broadcast(topic="mobilization", message="ICE at the courthouse now", urgent=True)
    harness.run(urgent)
    assert len(harness.sent_to(BAO)) == 1
    assert [d.note for d in harness.deliveries(urgent)] == ["urgent_override"]


def test_whatsapp_outside_its_window_takes_a_template_or_is_skipped(
    harness_for: Callable[..., Harness], tmp_path: Path
) -> None:
    templates = tmp_path / "templates.yml"
    templates.write_text(
        "version: 1\ntemplates:\n"
        "  - {purpose: broadcast, language: es, content_sid: HX" + "1" * 32 + ", variables: {'1': text}}\n"
    )
    harness = harness_for(whatsapp_templates_file=str(templates))
    harness.person(ANA, "es", channel="whatsapp", wrote_at=NOON - timedelta(days=3))
    harness.person(BAO, "vi", channel="whatsapp", wrote_at=NOON - timedelta(days=3))
    harness.person(CHEN, "es", channel="whatsapp", wrote_at=NOON - timedelta(hours=1))
    request = Request(topic="hearings", message="Hearing Tuesday", translations={"es": "Audiencia el martes"})
    with harness.db.session() as session:
        plan = service.plan(
            session,
            harness.services.languages,
            harness.services.broadcast_context,
            request,
            harness.clock(),
            0.0083,
        )
    assert plan.recipients == 3 and plan.no_template == 1
    bid = harness.broadcast(translations={"es": "Audiencia el martes"})
    harness.run(bid)
    [ana] = harness.fake.messages_to(f"whatsapp:{ANA}")
    assert ana.content_sid == "HX" + "1" * 32 and ana.content_variables == {"1": "Audiencia el martes"}
    assert harness.fake.messages_to(f"whatsapp:{BAO}") == []
    [chen] = harness.fake.messages_to(f"whatsapp:{CHEN}")
    assert chen.body is not None and chen.body.startswith("Audiencia el martes")
    with harness.db.session() as session:
        skipped = session.scalars(select(Delivery.reason).where(Delivery.state == "skipped")).all()
    assert skipped == ["no_template"]


def test_a_worker_that_died_mid_batch_leaves_nothing_lost_and_nothing_twice(harness: Harness) -> None:
    phones = [f"+1559555{n:04d}" for n in range(183, 189)]
    for phone in phones:
        harness.person(phone, "en")
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    # A worker (a process that no longer exists) claimed every delivery and got two out.
    with harness.db.session() as session:
        rows = list(
            session.scalars(select(Delivery).where(Delivery.broadcast_id == bid).order_by(Delivery.id))
        )
        for d in rows:
            d.state, d.claimed_by, d.claimed_at = "sending", "gone-host:999999:dead", harness.clock()
            d.lease_until = harness.clock()  # its batch's lease is over: nothing of it can still start
    from puente.broadcasts.sender import Outgoing
    from puente.broadcasts.texts import broadcast_message

    body = broadcast_message(
        harness.services.languages, {"en": "Hearing Tuesday 9 am"}, "en", rsvp=False
    ).body
    for phone in phones[:2]:
        assert harness.services.broadcast_context.sender.send(Outgoing("sms", phone, body=body)).sid
    # Its batch's lease is over: the claims are settled at once.
    counts = sending.reconcile(harness.services, harness.clock())
    assert counts == {"confirmed": 2, "requeued": 4}
    harness.run(bid)
    assert {phone: len(harness.sent_to(phone)) for phone in phones} == dict.fromkeys(phones, 1)
    assert harness.states(bid) == {"sent": 6}


def test_two_reconciles_of_a_dead_workers_claim_never_send_twice(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two reconciles at once (the e2e suite's restarted worker ran its start-up tick and the
    periodic one together, and sent a message twice): one requeues the dead worker's claim, a
    batch claims and sends it, and the other, which had read the claim before, must not requeue
    it again. On PostgreSQL the second skips the rows the first holds; on SQLite it finds them
    claimed again when it writes."""
    phones = [f"+1559555{n:04d}" for n in range(183, 186)]
    for phone in phones:
        harness.person(phone, "en")
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    with harness.db.session() as session:
        for d in session.scalars(select(Delivery).where(Delivery.broadcast_id == bid)):
            d.state, d.claimed_by, d.claimed_at = "sending", "gone-host:999999:dead", harness.clock()
            d.lease_until = harness.clock()  # its batch's lease is over: nothing of it can still start
    harness.clock.now += sending.UNCERTAIN_GRACE
    sender = harness.services.broadcast_context.sender
    ask_twilio = sender.find
    meanwhile: list[bool] = []

    def find(message: Any, since: datetime) -> str | None:
        found = ask_twilio(message, since)  # nothing went: it will requeue...
        if not meanwhile:  # ...but first another reconcile runs, and a batch sends what it requeued
            meanwhile.append(True)
            sending.reconcile(harness.services, harness.clock())
            sending.send_batch(harness.services, bid)
        return found

    monkeypatch.setattr(sender, "find", find)
    sending.reconcile(harness.services, harness.clock())
    monkeypatch.undo()
    went = len(harness.fake.messages)  # PostgreSQL: none (skipped); SQLite: all three
    assert harness.states(bid).get("queued", 0) == len(phones) - went  # what went is not queued again
    harness.run(bid)
    assert {phone: len(harness.sent_to(phone)) for phone in phones} == dict.fromkeys(phones, 1)
    assert harness.states(bid) == {"sent": 3}


def test_status_callbacks_move_deliveries_on_and_never_back(harness: Harness) -> None:
    harness.person(ANA, "en")
    harness.person(BAO, "en")
    bid = harness.broadcast()
    harness.run(bid)
    sids = {d.contact_id: d.message_sid for d in harness.deliveries(bid)}
    first, second = sorted(sid for sid in sids.values() if sid)
    with harness.db.session() as session:
        assert sending.record_status(session, first, "delivered", None, harness.clock())
        assert sending.record_status(session, first, "sent", None, harness.clock())  # late: ignored
        assert sending.record_status(session, second, "undelivered", 30003, harness.clock())
        # A callback that outran its send's record waits for it.
        assert not sending.record_status(session, "SM" + "f" * 32, "delivered", None, harness.clock())
    states = {d.message_sid: (d.state, d.reason, d.error_code) for d in harness.deliveries(bid)}
    assert states[first] == ("delivered", None, None)
    assert states[second] == ("failed", "unreachable", 30003)


@pytest.fixture
def pg_harness(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Harness, int, int]]:
    """PostgreSQL, one person, one broadcast resolved: (harness, broadcast, its delivery)."""
    clock = Clock(NOON)
    with serve_fake_twilio(FakeTwilio(clock=clock)) as fake:
        harness = make_harness(postgres_url, tmp_path, fake, clock)
        try:
            harness.person(ANA, "en")
            bid = harness.broadcast()
            assert service.begin(harness.db, bid, clock())
            service.resolve(harness.services, bid, clock())
            [delivery] = harness.deliveries(bid)
            yield harness, bid, delivery.id
        finally:
            harness.services.database.dispose()


def _record_send(harness: Harness, delivery_id: int, sid: str) -> Iterator[None]:
    """The worker recording a send, as `_record` does: the delivery `sent` with its MessageSid,
    then the early statuses kept for it applied; committed when the generator ends."""
    with harness.db.session() as recording:
        row = recording.get(Delivery, delivery_id)
        assert row is not None
        row.state, row.message_sid = "sent", sid
        recording.flush()
        sending.apply_early_statuses(recording, [sid])
        yield


def test_a_status_callback_racing_the_record_of_its_send_is_not_left_behind(
    pg_harness: tuple[Harness, int, int],
) -> None:
    """PostgreSQL's transactions each see what was committed before they look (the e2e suite
    lost a `delivered` this way): the record of a send looks for early statuses, the status
    webhook for the delivery, and each misses the other's uncommitted row. Each side looks
    again once its own transaction is committed, and the later look applies it."""
    harness, bid, delivery_id = pg_harness
    sid = "SM" + "a" * 32
    recording = _record_send(harness, delivery_id, sid)
    next(recording)  # recorded, no early status yet; not committed
    with harness.db.session() as callback:  # meanwhile the callback: no such delivery yet
        assert not sending.record_status(callback, sid, "delivered", None, harness.clock())
    next(recording, None)
    [left] = harness.deliveries(bid)
    assert left.state == "sent"  # the race, as both committed it
    sending.apply_early_statuses_committed(harness.db, [sid])  # either side's second look
    [applied] = harness.deliveries(bid)
    assert applied.state == "delivered"
    with harness.db.session() as session:
        assert session.scalar(select(func.count()).select_from(EarlyStatus)) == 0


def test_a_later_status_changed_while_an_earlier_one_is_applied_is_not_forgotten(
    pg_harness: tuple[Harness, int, int],
) -> None:
    """`sent` came early; `delivered` updates it while the record of the send applies `sent` and
    forgets it: only the status it applied is forgotten, so `delivered` stays to be applied."""
    harness, bid, delivery_id = pg_harness
    sid = "SM" + "b" * 32
    with harness.db.session() as session:
        assert not sending.record_status(session, sid, "sent", None, harness.clock())
    recorded = threading.Event()

    def record() -> None:
        for _ in _record_send(harness, delivery_id, sid):  # waits for the callback's row lock
            pass
        recorded.set()

    with harness.db.session() as callback:
        assert not sending.record_status(callback, sid, "delivered", None, harness.clock())
        callback.flush()  # the early status's row, updated: locked until this commits
        worker = threading.Thread(target=record)
        worker.start()
        assert not recorded.wait(1.0)  # it read `sent` and now waits to forget it
    worker.join(10)
    assert recorded.is_set()
    [left] = harness.deliveries(bid)
    assert left.state == "sent"
    sending.apply_early_statuses_committed(harness.db, [sid])
    [applied] = harness.deliveries(bid)
    assert applied.state == "delivered"


def test_without_credentials_messages_go_to_the_outbox_encrypted(harness_for: Callable[..., Harness]) -> None:
    harness = harness_for(twilio_account_sid="")
    harness.person(ANA, "es")
    bid = harness.broadcast(translations={"es": "Audiencia"})
    harness.run(bid)
    assert harness.fake.messages == []
    assert harness.states(bid) == {"sent": 1}
    with harness.db.session() as session:
        [kept] = session.scalars(select(OutboxMessage)).all()
        assert kept.to_last_digits == ANA[-4:] and ANA.encode() not in kept.to_encrypted
        assert harness.services.vault.decrypt(kept.to_encrypted) == ANA
        assert kept.body is not None and kept.body.startswith("Audiencia")


def test_reminders_go_once_per_offset_skip_the_overdue_and_never_after_the_start(harness: Harness) -> None:
    ana = harness.person(ANA, "es", place="ca-fresno")
    harness.person(BAO, "en", place="ca-fresno")
    starts = datetime(2026, 12, 15, 17, 0, tzinfo=UTC)  # 9:00 in Fresno
    with harness.db.session() as session:
        session.execute(delete(Hearing))  # the sample's own hearings are other tests' business
        session.add(
            Hearing(
                id="fresno-hearing",
                jurisdiction_id="ca-fresno",
                body="City Council",
                title={"en": "Welcoming city vote", "es": "Votación de ciudad acogedora"},
                starts_at=starts,
                location="2600 Fresno St",
                topics=["hearings"],
                status="scheduled",
                reminders=["P7D", "P1D", "PT2H"],
            )
        )

    def run_at(moment: datetime) -> list[int]:
        harness.clock.now = moment
        with harness.db.session() as session:
            made = reminders.run(session, moment)
        for bid in [*made.created, *made.notices]:
            harness.run(bid)
        return [*made.created, *made.notices]

    assert run_at(starts - timedelta(days=8)) == []
    [week] = run_at(starts - timedelta(days=6))  # P7D is due
    assert run_at(starts - timedelta(days=6)) == []  # a second run sends nothing
    [spanish] = harness.sent_to(ANA)
    assert spanish.startswith(
        "Recordatorio: Votación de ciudad acogedora (City Council), martes, 15 de diciembre de 2026, 9:00"
    )
    # Nobody ran the reminders between P1D and PT2H: at 1 h before, only PT2H goes.
    [late] = run_at(starts - timedelta(hours=1))
    with harness.db.session() as session:
        offsets = [b.reminder for b in session.scalars(select(Broadcast).order_by(Broadcast.id))]
    assert offsets == ["P7D", "PT2H"] and week != late
    assert len(harness.sent_to(ANA)) == 2
    # After the start nothing goes, even a reminder created before it.
    assert run_at(starts + timedelta(minutes=1)) == []
    assert reminders.due_offset(_hearing(harness), starts) is None
    # The hearing moves: those reminded get one notice; the new time gets its own reminders.
    with harness.db.session() as session:
        hearing = session.get(Hearing, "fresno-hearing")
        assert hearing is not None
        hearing.starts_at = starts + timedelta(days=14)
    [notice] = run_at(starts - timedelta(minutes=30))  # the new start's P7D is not due yet
    assert harness.sent_to(ANA)[-1].startswith("Cambio: Votación de ciudad acogedora (City Council) pasó de")
    assert len(harness.sent_to(ANA)) == 3 and len(harness.sent_to(BAO)) == 3
    assert run_at(starts - timedelta(minutes=20)) == []  # one notice, once
    assert ana and notice


def _hearing(harness: Harness) -> Hearing:
    with harness.db.session() as session:
        hearing = session.get(Hearing, "fresno-hearing")
        assert hearing is not None
        return hearing


def test_rsvp_yes_and_no_count_and_the_latest_answer_wins(harness: Harness) -> None:
    from puente.conversation import InboundText, handle_inbound
    from puente.simulator import new_message_sid

    ana = harness.person(ANA, "es", topics=("mobilization",))
    bid = harness.broadcast(
        topic="mobilization", message="Rally at City Hall", translations={"es": "Marcha"}, rsvp_hours=48
    )
    harness.run(bid)
    [body] = harness.sent_to(ANA)
    assert "¿Puedes venir? Responde SÍ o NO." in body and "CANCEL" not in body.upper()

    def reply(text: str) -> list[str]:
        outcome = handle_inbound(harness.services, InboundText(new_message_sid(), ANA, text))
        return outcome.replies

    assert reply("sí") == ["¡Gracias! Te contamos entre quienes vienen. Responde NO si eso cambia."]
    assert reply("no")[0].startswith("Gracias por avisarnos")
    with harness.db.session() as session:
        [answer] = session.scalars(select(Rsvp)).all()
        assert (answer.contact_id, answer.answer) == (ana, "no")
        assert service.report(session, bid).rsvps == {"yes": 0, "no": 1}


def test_the_tick_starts_what_is_due_and_gives_an_idle_broadcast_one_more_chain(harness: Harness) -> None:
    from puente.broadcasts.tasks import CHAIN_IDLE, broadcast_start, tick

    with harness.db.session() as session:
        session.execute(delete(Hearing))  # no reminders due: only this broadcast is the tick's
    harness.person(ANA, "es")
    bid = harness.broadcast(at=NOON + timedelta(minutes=10))
    jobs = harness.services.jobs
    try:
        assert tick(harness.services) == {"broadcast_start": 0, "broadcast_send": 0}
        harness.clock.now = NOON + timedelta(minutes=11)
        assert tick(harness.services) == {"broadcast_start": 1, "broadcast_send": 0}
        before = jobs.pending()
        broadcast_start(harness.services, bid)
        assert jobs.pending() == before + 2  # its two send chains
        assert tick(harness.services) == {"broadcast_start": 0, "broadcast_send": 0}  # they are fresh
        harness.clock.now += CHAIN_IDLE + timedelta(seconds=1)  # ... and claimed nothing since
        assert tick(harness.services) == {"broadcast_start": 0, "broadcast_send": 1}
        harness.run(bid)
        assert harness.states(bid) == {"sent": 1}
        assert tick(harness.services) == {"broadcast_start": 0, "broadcast_send": 0}
    finally:
        jobs.close()


def test_a_refused_connection_never_reached_twilio_so_the_delivery_waits_and_goes_once(
    harness: Harness,
) -> None:
    harness.person(ANA, "es")
    bid = harness.broadcast()
    server = harness.fake.server
    assert server is not None
    server.stop()  # Twilio unreachable: connections are refused
    try:
        assert service.begin(harness.db, bid, harness.clock())
        service.resolve(harness.services, bid, harness.clock())
        batch = sending.send_batch(harness.services, bid)
        assert batch.outcomes == {"retry": 1}
        [waiting] = harness.deliveries(bid)
        assert (waiting.state, waiting.reason) == ("queued", "connection_refused")
    finally:
        server.start()
    harness.run(bid)
    assert len(harness.sent_to(ANA)) == 1 and harness.states(bid) == {"sent": 1}


def test_a_reminder_sent_just_before_its_worker_died_is_confirmed_not_sent_again(
    harness_for: Callable[..., Harness],
) -> None:
    """The crash between Twilio's answer and the record: the message went, the row says `sending`.
    Twilio's list is asked for that very text (with its calendar link), found, and not resent."""
    harness = harness_for(public_base_url="https://puente.example.org")
    harness.person(ANA, "es", place="ca-fresno")
    starts = NOON + timedelta(hours=20)
    with harness.db.session() as session:
        session.execute(delete(Hearing))
        session.add(
            Hearing(
                id="fresno-vote",
                jurisdiction_id="ca-fresno",
                body="City Council",
                title={"en": "Welcoming city vote"},
                starts_at=starts,
                location="City Hall",
                topics=["hearings"],
                status="scheduled",
                reminders=["P1D"],
            )
        )
    with harness.db.session() as session:
        [bid] = reminders.run(session, harness.clock()).created
    harness.run(bid)
    [sent] = harness.sent_to(ANA)
    assert "https://puente.example.org/hearings/fresno-vote.ics?lang=es" in sent
    with harness.db.session() as session:  # as if the worker died before recording it
        [row] = session.scalars(select(Delivery).where(Delivery.broadcast_id == bid)).all()
        row.state, row.message_sid, row.claimed_by = "sending", None, "gone-host:999999:dead"
        row.claimed_at = row.lease_until = harness.clock()
    harness.clock.now += sending.UNCERTAIN_GRACE
    assert sending.reconcile(harness.services, harness.clock()) == {"confirmed": 1}
    harness.run(bid)
    assert len(harness.sent_to(ANA)) == 1
    assert [(d.state, d.reason) for d in harness.deliveries(bid)] == [("sent", "confirmed")]


def test_a_retry_is_picked_up_after_its_backoff_not_at_the_next_minutes_tick(harness: Harness) -> None:
    from puente.broadcasts.tasks import broadcast_send

    harness.person(ANA, "es")
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    harness.fake.plan = FailurePlan(rate_limit_every=1)  # every attempt: 429
    jobs = harness.services.jobs
    try:
        broadcast_send(harness.services, bid)
        [waiting] = harness.deliveries(bid)
        assert (waiting.state, waiting.reason) == ("queued", "rate_limited")
        # The chain comes back by itself once the backoff (at most a minute) has passed.
        [task] = jobs.huey.pending()  # queued with its time to run (the consumer schedules it)
        assert task.name == "broadcast_send" and task.args == (bid,)
        assert task.eta is not None and task.eta > datetime.now(UTC).replace(tzinfo=None)
    finally:
        jobs.close()


# --- races and failure paths a review found: each failed before its fix -----------------------


def test_a_batch_claimed_by_a_process_without_a_heartbeat_is_left_to_it_while_its_lease_holds(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`puente reminders run` / any non-worker process on another host (compose: the webhooks
    container) claims a batch; a worker's reconcile finds no heartbeat for it and requeues
    its in-flight rows immediately; both send."""
    phones = [f"+1559555{n:04d}" for n in range(190, 194)]
    for p in phones:
        harness.person(p, "en")
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    sender = harness.services.broadcast_context.sender
    real_send_many = sender.send_many
    real_tag = sending.worker_tag
    done: list[bool] = []

    def cli_send_many(messages: Any, slots: Any, deadline: Any = None) -> Any:
        # While the CLI's batch is in flight (paced), the worker's chain runs one batch.
        if not done:
            done.append(True)
            monkeypatch.setattr(sending, "worker_tag", real_tag)
            sending.send_batch(harness.services, bid)  # the worker: reconcile + claim + send
        return real_send_many(messages, slots, deadline)

    monkeypatch.setattr(sending, "worker_tag", lambda: "webhooks-container:4242")
    monkeypatch.setattr(sender, "send_many", cli_send_many)
    sending.send_batch(harness.services, bid)  # the CLI's batch (same clock: no grace has passed)
    assert {p: len(harness.sent_to(p)) for p in phones} == dict.fromkeys(phones, 1)
    assert harness.states(bid) == {"sent": 4}


def test_another_message_to_the_number_never_confirms_a_delivery_it_is_unknown(harness: Harness) -> None:
    """A WhatsApp delivery whose request never reached Twilio is 'confirmed' by any other
    message to that number in the last minute (e.g. the bot's reply): the person never gets it."""
    harness.person(BAO, "en", channel="whatsapp", wrote_at=NOON - timedelta(minutes=5))
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    sender = harness.services.broadcast_context.sender
    # Puente's conversational reply to Bao, 10 s before the broadcast's attempt.
    assert sender.send(Outgoing("whatsapp", BAO, body="Here are the clinics near you: ...")).sid
    with harness.db.session() as session:
        [d] = session.scalars(select(Delivery).where(Delivery.broadcast_id == bid)).all()
        d.state, d.claimed_by, d.claimed_at = "sending", "gone-host:999999:dead", harness.clock()
        d.lease_until = harness.clock()
    # Puente's message to Bao is not this delivery's text: whether it went cannot be told, so it
    # is `unknown`, listed for the coordinator; not confirmed, and never sent a second time.
    assert sending.reconcile(harness.services, harness.clock()) == {"unknown": 1}
    harness.run(bid)
    assert [m.body for m in harness.fake.messages_to(f"whatsapp:{BAO}")] == [
        "Here are the clinics near you: ..."
    ]
    assert [(d.state, d.reason) for d in harness.deliveries(bid)] == [("unknown", "ambiguous")]


def test_an_uncertain_send_early_in_a_slow_batch_is_found_not_sent_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup window starts at the *record* time minus 60 s, not when the attempt began:
    in a batch that took > 60 s (slow Twilio, 8 in flight) an early timed-out-but-created
    message is not found and is sent again."""
    harness.person(ANA, "en")
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    sender = harness.services.broadcast_context.sender
    real = sender.send_many

    def slow(messages: Any, slots: Any, deadline: Any = None) -> Any:
        real(messages, slots, deadline)  # Twilio creates it...
        harness.clock.now += timedelta(seconds=90)  # ...the rest of a slow batch takes 90 s...
        return [Result(Outcome.UNCERTAIN, reason="timeout") for _ in messages]  # ...its answer was lost

    monkeypatch.setattr(sender, "send_many", slow)
    sending.send_batch(harness.services, bid)
    monkeypatch.undo()
    harness.run(bid)
    assert len(harness.sent_to(ANA)) == 1 and harness.states(bid) == {"sent": 1}


def test_a_cancel_during_a_batch_leaves_nothing_queued_or_linked_past_retention(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fake_twilio import FailurePlan

    harness.person(ANA, "en")
    bid = harness.broadcast()
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    harness.fake.plan = FailurePlan(rate_limit_every=1)
    sender = harness.services.broadcast_context.sender
    real = sender.send_many

    def cancel_then_send(messages: Any, slots: Any, deadline: Any = None) -> Any:
        with harness.db.session() as session:
            service.cancel(session, bid, harness.clock())
        return real(messages, slots, deadline)

    monkeypatch.setattr(sender, "send_many", cancel_then_send)
    sending.send_batch(harness.services, bid)
    monkeypatch.undo()
    from puente.broadcasts.tasks import tick

    tick(harness.services)  # the minute's tick
    harness.services.jobs.close()
    harness.clock.now += timedelta(days=400)
    retention.purge(harness.db, harness.clock(), 90)
    with harness.db.session() as session:
        b = session.get(Broadcast, bid)
        [d] = session.scalars(select(Delivery).where(Delivery.broadcast_id == bid)).all()
        assert b is not None and b.status == "cancelled"
        assert (d.state, d.reason, d.contact_id) == ("skipped", "cancelled", None)


def test_an_rsvp_alert_never_replaces_a_pending_stop_confirmation(
    harness_for: Callable[..., Harness],
) -> None:
    """Vietnamese reader types "dung" (unsure DỪNG): Puente asks to confirm. An RSVP alert goes
    out meanwhile; its open question replaces the STOP confirmation. The person's "có" (yes,
    confirming the stop) is recorded as an RSVP YES, and they stay subscribed."""
    from puente.broadcasts.models import Rsvp
    from puente.conversation import InboundText, handle_inbound
    from puente.models import Contact
    from puente.simulator import new_message_sid

    # The conversation keeps real time: so does this test (and no quiet hours, whatever the hour).
    harness = harness_for(quiet_hours="off")
    harness.clock.now = datetime.now(UTC)
    cid = harness.person(ANA, "vi", topics=("mobilization",))

    def reply(text: str) -> list[str]:
        return handle_inbound(harness.services, InboundText(new_message_sid(), ANA, text)).replies

    assert reply("dung")[0].startswith("Bạn có muốn")  # did you mean DỪNG? (an open question)
    bid = harness.broadcast(topic="mobilization", message="Rally", rsvp_hours=48)
    harness.run(bid)
    yes = harness.services.languages.get("vi").keywords["yes"][0]
    reply(yes)
    with harness.db.session() as session:
        c = session.get(Contact, cid)
        rsvps = [(r.broadcast_id, r.answer) for r in session.scalars(select(Rsvp))]
        assert c is not None and c.opted_out_at is not None and rsvps == []


def test_an_erasure_during_an_rsvp_batch_leaves_the_batchs_record_whole(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One person in a batch erases themselves while it is in flight: `_record` asks the RSVP
    question for their (deleted) contact id; the FK fails the whole record transaction, four
    times (2+4+6 s of sleeps), then send_batch raises: every row of the batch stays `sending`."""
    from puente.alerts.erase import erase
    from puente.models import Contact

    phones = [f"+1559555{n:04d}" for n in range(195, 199)]
    ids = [harness.person(p, "en", topics=("mobilization",)) for p in phones]
    bid = harness.broadcast(topic="mobilization", message="Rally", rsvp_hours=48)
    assert service.begin(harness.db, bid, harness.clock())
    service.resolve(harness.services, bid, harness.clock())
    sender = harness.services.broadcast_context.sender
    real = sender.send_many

    def erase_meanwhile(messages: Any, slots: Any, deadline: Any = None) -> Any:
        out = real(messages, slots, deadline)
        with harness.db.session() as session:
            contact = session.get(Contact, ids[0])
            assert contact is not None
            erase(session, harness.services.vault, contact, phones[0])
        return out

    monkeypatch.setattr(sender, "send_many", erase_meanwhile)
    sending.send_batch(harness.services, bid)  # no retry, no error: its record is whole
    assert harness.states(bid) == {"sent": 4}
