"""Sending a broadcast, one batch at a time, so that nobody gets it twice.

A batch is claimed in one transaction: up to `batch_size` queued deliveries whose time
has come move to `sending`, stamped with this batch's claim. The same transaction
checks each again (opted out, erased, suppressed, still subscribed, quiet hours, the
hearing not started, WhatsApp's 24-hour window) and skips or defers what may not go.
Only then are the messages sent, paced and a few at a time, and every result is
written in one more transaction. So the state in the database always says what may
have happened: a delivery is `sending` from before its request leaves until its result
is recorded.

A delivery left `sending` — its answer was lost (a timeout, a 5xx), or its worker died —
is reconciled: Twilio's list of messages to that number is asked whether it went. Found:
`sent`, with its MessageSid. Not found: queued again (it never reached Twilio). Twilio
cannot be asked: `unknown`, listed for the coordinator, never resent.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from puente import questions
from puente.broadcasts import audience, texts
from puente.broadcasts.ics import hearing_link
from puente.broadcasts.models import Broadcast, Delivery, EarlyStatus, Kind, OutboxMessage, State, Status
from puente.broadcasts.quiet import QuietHours, quiet_until
from puente.broadcasts.rsvp import RSVP_QUESTION
from puente.broadcasts.sender import PERMANENT, Outcome, Outgoing, Pace, Result, Sender, wait_until
from puente.broadcasts.templates import MissingTemplateField, TemplateFileError, Templates, load_templates
from puente.db import DATABASE_ERRORS, as_utc
from puente.directory.models import Hearing, Jurisdiction
from puente.jobs import heartbeat
from puente.jobs.models import WorkerHeartbeat
from puente.messaging.segments import segments as count_segments
from puente.models import Contact, ContactChannel

if TYPE_CHECKING:
    from puente.db import Database
    from puente.privacy import Vault
    from puente.services import Services

logger = logging.getLogger(__name__)

#: A batch lasts about this long at the configured rate (so a cancel or a new worker acts soon).
BATCH_SECONDS = 5.0
MAX_BATCH = 500
#: Messages in flight at once, per worker process: at most this many can be uncertain after a crash.
CONCURRENCY = 8
#: Attempts before a delivery that keeps being refused (429, no connection) fails.
MAX_ATTEMPTS = 10
#: How long an uncertain send waits before Twilio's list is asked about it.
UNCERTAIN_GRACE = timedelta(seconds=2)
#: A claim this old is reconciled even if its worker seems alive (it hung).
STALE_CLAIM = timedelta(minutes=10)
#: How long a send waits for a broken WhatsApp templates file to be fixed.
TEMPLATES_RETRY = timedelta(minutes=5)
#: Tries to write a batch's results before leaving them to the reconciler.
RECORD_ATTEMPTS = 4
#: WhatsApp allows free-form messages this long after the person last wrote.
WHATSAPP_WINDOW = timedelta(hours=24)

_POOL = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="send")


def batch_size(rate: float) -> int:
    if rate <= 0:
        return MAX_BATCH
    return max(1, min(MAX_BATCH, int(rate * BATCH_SECONDS)))


def backoff(attempts: int) -> timedelta:
    """Exponential, capped at a minute, with full jitter (so retries spread out)."""
    return timedelta(seconds=random.uniform(0.5, min(60.0, 2.0**attempts)))


@dataclass
class Context:
    """What sending needs, built once per process (the worker's `Services` hold one)."""

    sender: Sender
    pace: Pace
    quiet: QuietHours | None
    templates: Callable[[], Templates]
    public_base_url: str = ""


def context_for(services: Services) -> Context:
    settings = services.settings
    path = settings.whatsapp_templates_path

    def templates() -> Templates:
        return load_templates(path)  # read again when the file changes

    return Context(
        Sender(settings),
        Pace(settings.twilio_send_rate),
        settings.quiet_window,
        templates,
        settings.public_base_url,
    )


@dataclass
class Batch:
    claimed: int = 0
    sent: int = 0
    #: Uncertain sends left for the reconciler.
    uncertain: int = 0
    #: True when ready deliveries may remain.
    more: bool = False
    outcomes: dict[str, int] = field(default_factory=dict)


def worker_tag() -> str:
    host, pid = heartbeat.worker_identity()
    return f"{host}:{pid}"


def _message(
    services: Services,
    broadcast: Broadcast,
    hearing: Hearing | None,
    place: Jurisdiction | None,
    delivery: Delivery,
    link: str | None,
) -> texts.Written:
    languages = services.languages
    if broadcast.kind == Kind.REMINDER and hearing is not None:
        return texts.reminder_message(languages, delivery.language, hearing, place, link)
    if broadcast.kind == Kind.NOTICE and hearing is not None and broadcast.hearing_starts_at is not None:
        return texts.notice_message(
            languages, delivery.language, hearing, place, as_utc(broadcast.hearing_starts_at), link
        )
    return texts.broadcast_message(
        languages, broadcast.texts, delivery.language, rsvp=broadcast.rsvp_until is not None
    )


def _hearing(session: Session, broadcast: Broadcast) -> tuple[Hearing | None, Jurisdiction | None]:
    if broadcast.hearing_id is None:
        return None, None
    hearing = session.get(Hearing, broadcast.hearing_id)
    place = session.get(Jurisdiction, hearing.jurisdiction_id) if hearing is not None else None
    return hearing, place


def hearing_gone(broadcast: Broadcast, hearing: Hearing | None, now: datetime) -> str | None:
    """Why a reminder may no longer go: `expired` once the hearing has started, `moved`,
    `cancelled`; None while it may."""
    if broadcast.kind != Kind.REMINDER:
        return None
    if hearing is None or hearing.status == "cancelled":
        return "cancelled"
    if broadcast.hearing_starts_at is not None and as_utc(hearing.starts_at) != as_utc(
        broadcast.hearing_starts_at
    ):
        return "moved"
    if now >= as_utc(hearing.starts_at):
        return "expired"
    return None


@dataclass
class _Send:
    delivery_id: int
    contact_id: int | None
    channel: str
    message: Outgoing
    segments: int
    language: str


def _prepare(
    services: Services,
    ctx: Context,
    session: Session,
    broadcast: Broadcast,
    rows: Sequence[Delivery],
    now: datetime,
) -> list[_Send]:
    """Check each claimed delivery again; skip or defer what may not go; the messages that may."""
    vault = services.vault
    hearing, place = _hearing(session, broadcast)
    gone = hearing_gone(broadcast, hearing, now)
    ids = [d.contact_id for d in rows if d.contact_id is not None]
    topics = broadcast.topics or ["hearings"]
    receiving = audience.still_receives(session, topics, ids) if broadcast.kind != Kind.TEST else set(ids)
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))} if ids else {}
    recent = (
        set(
            session.scalars(
                select(ContactChannel.contact_id).where(
                    ContactChannel.contact_id.in_(ids),
                    ContactChannel.channel == "whatsapp",
                    ContactChannel.last_inbound_at >= now - WHATSAPP_WINDOW,
                )
            )
        )
        if ids
        else set()
    )
    templates: Templates | None = None
    ready: list[_Send] = []
    for d in rows:
        contact = contacts.get(d.contact_id) if d.contact_id is not None else None

        def skip(reason: str, d: Delivery = d) -> None:
            d.state, d.reason, d.claimed_by, d.updated_at = State.SKIPPED.value, reason, None, now

        if contact is None:
            skip("erased")
            continue
        if d.contact_id not in receiving:
            skip(
                "opted_out"
                if contact.opted_out_at is not None or contact.phone_encrypted is None
                else "unsubscribed"
            )
            continue
        if gone:
            skip(gone)
            continue
        quiet = quiet_until(ctx.quiet, now, d.timezone)
        if quiet is not None and not broadcast.urgent:
            if hearing is not None and broadcast.kind == Kind.REMINDER and quiet >= as_utc(hearing.starts_at):
                skip("expired")
                continue
            d.state, d.reason, d.not_before, d.claimed_by = State.QUEUED.value, "quiet_hours", quiet, None
            d.attempts -= 1  # waiting is no attempt
            continue
        if quiet is not None:
            d.note = "urgent_override"
        link = hearing_link(ctx.public_base_url, hearing.id, d.language) if hearing is not None else None
        written = _message(services, broadcast, hearing, place, d, link)
        if written.note and not d.note:
            d.note = written.note
        assert contact.phone_encrypted is not None  # still_receives checked it
        phone = vault.decrypt(contact.phone_encrypted)
        if d.channel == "whatsapp" and d.contact_id not in recent:
            try:
                templates = templates if templates is not None else ctx.templates()
            except TemplateFileError as error:
                # An operator's mistake, fixed by editing the file: wait for it, skip nobody.
                logger.warning("WhatsApp templates unreadable, out-of-window sends wait: %s", error)
                d.state, d.reason, d.claimed_by = State.QUEUED.value, "templates_unreadable", None
                d.not_before, d.attempts = now + TEMPLATES_RETRY, d.attempts - 1
                continue
            template = templates.find(broadcast.purpose, d.language)
            if template is None:
                skip("no_template")
                continue
            try:
                sid, variables = template.render(written.fields)
            except MissingTemplateField:
                skip("no_template")  # it names a field this message has no text for
                continue
            message = Outgoing("whatsapp", phone, content_sid=sid, content_variables=variables)
            cost = 1
        else:
            message = Outgoing(d.channel, phone, body=written.body)
            cost = count_segments(written.body) if d.channel == "sms" else 1
        d.segments = cost
        ready.append(_Send(d.id, d.contact_id, d.channel, message, cost, d.language))
    return ready


def _claim(session: Session, broadcast_id: int, limit: int, now: datetime, token: str) -> list[Delivery]:
    ready = (
        select(Delivery.id)
        .where(Delivery.broadcast_id == broadcast_id, Delivery.state == State.QUEUED.value)
        .where(or_(Delivery.not_before.is_(None), Delivery.not_before <= now))
        .order_by(Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        ready = ready.with_for_update(skip_locked=True)
    ids = list(session.scalars(ready))
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.state == State.QUEUED.value)
        .values(
            state=State.SENDING.value,
            claimed_by=token,
            claimed_at=now,
            reason=None,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(Delivery).where(Delivery.claimed_by == token, Delivery.state == State.SENDING.value)
        )
    )


def _slots(ctx: Context, session: Session, sends: list[_Send]) -> list[float]:
    """When each message may start: one reservation per channel for the batch, in the claim's
    transaction (so a failing database leaves nothing claimed), each message its own slot."""
    slots: dict[int, float] = {}
    rate = ctx.pace.rate
    for channel in ("sms", "whatsapp"):
        mine = [s for s in sends if s.channel == channel]
        if not mine:
            continue
        start = ctx.pace.reserve(session, channel, sum(s.segments for s in mine))
        spent = 0.0
        for s in mine:
            slots[s.delivery_id] = start + (spent / rate if rate > 0 else 0.0)
            spent += s.segments
    return [slots[s.delivery_id] for s in sends]


def _send_all(ctx: Context, sends: list[_Send], slots: list[float]) -> list[Result]:
    """Send, a few at a time (the process's pool), each in its slot; a result for every one."""
    send = ctx.sender.send

    def one(item: tuple[_Send, float]) -> Result:
        wait_until(item[1])
        try:
            return send(item[0].message)
        except Exception as error:  # noqa: BLE001 - whatever happened, it may have gone
            return Result(Outcome.UNCERTAIN, reason=type(error).__name__[:32])

    return list(_POOL.map(one, zip(sends, slots, strict=True)))


def _record(
    services: Services,
    session: Session,
    broadcast: Broadcast,
    sends: list[_Send],
    results: list[Result],
    token: str,
    now: datetime,
    report: Batch,
) -> None:
    """Write every result of a batch in one transaction."""
    vault = services.vault
    rows = {
        d.id: d
        for d in session.scalars(
            select(Delivery).where(
                Delivery.id.in_([s.delivery_id for s in sends]),
                Delivery.claimed_by == token,
                Delivery.state == State.SENDING.value,
            )
        )
    }
    sids: list[str] = []
    for s, r in zip(sends, results, strict=True):
        report.outcomes[r.outcome.value] = report.outcomes.get(r.outcome.value, 0) + 1
        d = rows.get(s.delivery_id)
        if d is None:
            continue  # reconciled meanwhile (this worker was taken for dead): its record stands
        d.updated_at = now
        if r.outcome is Outcome.SENT:
            d.state, d.message_sid, d.sent_at, d.claimed_by, d.reason = (
                State.SENT.value,
                r.sid,
                now,
                None,
                None,
            )
            report.sent += 1
            if r.sid:
                sids.append(r.sid)
            if ctx_outbox(services) and r.sid:
                session.add(
                    OutboxMessage(
                        delivery_id=d.id,
                        contact_id=s.contact_id,
                        channel=s.channel,
                        to_encrypted=vault.encrypt(s.message.to),
                        to_last_digits=s.message.to[-4:],
                        body=s.message.body,
                        content_sid=s.message.content_sid,
                        content_variables=json.loads(s.message.content_variables)
                        if s.message.content_variables
                        else None,
                        created_at=now,
                    )
                )
            if broadcast.rsvp_until is not None and s.contact_id is not None:
                until = as_utc(broadcast.rsvp_until)
                if until > now:
                    questions.ask(
                        session,
                        s.contact_id,
                        RSVP_QUESTION,
                        {"broadcast": broadcast.id},
                        s.language,
                        until - now,
                    )
        elif r.outcome is Outcome.RETRY:
            d.reason, d.error_code, d.claimed_by = r.reason, r.error_code, None
            if d.attempts >= MAX_ATTEMPTS:
                d.state = State.FAILED.value
            else:
                d.state, d.not_before = State.QUEUED.value, now + backoff(d.attempts)
        elif r.outcome is Outcome.FAILED:
            d.state, d.reason, d.error_code, d.claimed_by = State.FAILED.value, r.reason, r.error_code, None
            if r.error_code == 21610 and s.contact_id is not None:
                _opted_out_at_twilio(session, s.contact_id, now)
        else:
            d.reason, d.error_code, d.claimed_at = "uncertain", r.error_code, now
            report.uncertain += 1
    apply_early_statuses(session, sids)


def ctx_outbox(services: Services) -> bool:
    return bool(services.broadcast_context.sender.outbox)


def _opted_out_at_twilio(session: Session, contact_id: int, now: datetime) -> None:
    """Error 21610: the number opted out at Twilio (a STOP Puente never saw): so it is here too."""
    contact = session.get(Contact, contact_id)
    if contact is not None and contact.opted_out_at is None:
        contact.opted_out_at, contact.opted_out_via = now, "twilio"


def send_batch(services: Services, broadcast_id: int, now: datetime | None = None) -> Batch:
    """Claim, check, send and record one batch of `broadcast_id`'s deliveries."""
    ctx: Context = services.broadcast_context
    database = services.database
    now = now or services.clock()
    reconcile(services, now, broadcast_id)
    report = Batch()
    token = f"{worker_tag()}:{uuid.uuid4().hex[:8]}"
    with database.session(timeout=30) as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.status != Status.SENDING.value:
            return report
        limit = batch_size(ctx.pace.rate)
        rows = _claim(session, broadcast_id, limit, now, token)
        report.claimed = len(rows)
        report.more = len(rows) == limit
        sends = _prepare(services, ctx, session, broadcast, rows, now)
        slots = _slots(ctx, session, sends)
    if sends:
        results = _send_all(ctx, sends, slots)
        for attempt in range(RECORD_ATTEMPTS):
            try:
                with database.session(timeout=30) as session:
                    broadcast = session.get(Broadcast, broadcast_id)
                    assert broadcast is not None
                    _record(services, session, broadcast, sends, results, token, services.clock(), report)
                break
            except DATABASE_ERRORS as error:
                # The messages went: their records must not be lost to a passing outage. If they
                # are, the claim goes stale and Twilio's list confirms each (see reconcile).
                why = type(error).__name__
                logger.warning("batch results not recorded (%s), attempt %d", why, attempt + 1)
                if attempt + 1 == RECORD_ATTEMPTS:
                    raise
                time.sleep(2.0 * (attempt + 1))
        sent = [r.sid for r in results if r.outcome is Outcome.SENT and r.sid]
        apply_early_statuses_committed(database, sent)
    if not report.more:
        finish_if_done(services, broadcast_id)
    return report


def finish_if_done(services: Services, broadcast_id: int) -> bool:
    """Mark the broadcast done when nothing of it waits or is in flight."""
    database = services.database
    with database.session(timeout=30) as session:
        left = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.state.in_((State.QUEUED.value, State.SENDING.value)),
            )
        )
        if left:
            return False
        done = session.execute(
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.status == Status.SENDING.value,
            )
            .values(status=Status.DONE.value, finished_at=services.clock())
        )
        return bool(getattr(done, "rowcount", 0))


def ready_count(session: Session, broadcast_id: int, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.state == State.QUEUED.value,
                or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
            )
        )
        or 0
    )


# --- reconciling what may or may not have gone -----------------------------------------------


def _claimer_alive(session: Session, claimed_by: str, now: datetime) -> bool:
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.split(":", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if host == socket.gethostname():
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    seen = session.scalar(
        select(WorkerHeartbeat.last_seen).where(WorkerHeartbeat.hostname == host, WorkerHeartbeat.pid == pid)
    )
    return seen is not None and as_utc(seen) >= now - timedelta(seconds=heartbeat.STALE_AFTER)


def reconcile(services: Services, now: datetime, broadcast_id: int | None = None) -> dict[str, int]:
    """Settle deliveries left `sending`: answers lost (after `UNCERTAIN_GRACE`) and claims of
    workers that died (or hung for `STALE_CLAIM`). Returns counts by what became of them."""
    ctx: Context = services.broadcast_context
    database = services.database
    vault = services.vault
    counts: dict[str, int] = {}
    with database.session(timeout=30) as session:
        query = select(Delivery).where(
            Delivery.state == State.SENDING.value, Delivery.claimed_at <= now - UNCERTAIN_GRACE
        )
        if broadcast_id is not None:
            query = query.where(Delivery.broadcast_id == broadcast_id)
        rows = list(session.scalars(query.order_by(Delivery.id).limit(MAX_BATCH)))
        alive: dict[str, bool] = {}
        settle: list[Delivery] = []
        for d in rows:
            claim = (d.claimed_by or "").rsplit(":", 1)[0]
            if claim not in alive:
                alive[claim] = _claimer_alive(session, claim, now)
            stale = d.claimed_at is not None and as_utc(d.claimed_at) <= now - STALE_CLAIM
            if d.reason == "uncertain" or not alive[claim] or stale:
                settle.append(d)
        if settle and session.get_bind().dialect.name == "postgresql":
            # Reconciles run at once (the ticks, each batch's own): each settles the rows it locks.
            mine = set(
                session.scalars(
                    select(Delivery.id)
                    .where(Delivery.id.in_([d.id for d in settle]), Delivery.state == State.SENDING.value)
                    .with_for_update(skip_locked=True)
                )
            )
            settle = [d for d in settle if d.id in mine]
        if not settle:
            return counts
        broadcasts = {
            b.id: b
            for b in session.scalars(
                select(Broadcast).where(Broadcast.id.in_({d.broadcast_id for d in settle}))
            )
        }
        contacts = {
            c.id: c
            for c in session.scalars(
                select(Contact).where(
                    Contact.id.in_([d.contact_id for d in settle if d.contact_id is not None])
                )
            )
        }
        confirmed: list[str] = []
        for d in settle:
            contact = contacts.get(d.contact_id) if d.contact_id is not None else None
            outcome, sid = _settle(services, ctx, session, broadcasts[d.broadcast_id], d, contact, vault, now)
            counts[outcome] = counts.get(outcome, 0) + 1
            if sid:
                confirmed.append(sid)
    apply_early_statuses_committed(database, confirmed)
    if counts:
        logger.info(
            "reconciled deliveries left sending: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
    return counts


def _settle(
    services: Services,
    ctx: Context,
    session: Session,
    broadcast: Broadcast,
    d: Delivery,
    contact: Contact | None,
    vault: Vault,
    now: datetime,
) -> tuple[str, str | None]:
    """What became of `d` (`unknown`, `confirmed`, `requeued`; `taken` when it was settled by
    another reconcile, or claimed again by a worker, since it was read) and its MessageSid."""
    claim = d.claimed_by

    def settled(**values: object) -> bool:
        # Only while it is still in the claim that was read: never undo another reconcile's
        # requeue that a worker has claimed (and sent) since, which would send it twice.
        done = session.execute(
            update(Delivery)
            .where(Delivery.id == d.id, Delivery.state == State.SENDING.value)
            .where(Delivery.claimed_by.is_(None) if claim is None else Delivery.claimed_by == claim)
            .values(claimed_by=None, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        session.expire(d)
        return bool(getattr(done, "rowcount", 0))

    if contact is None or contact.phone_encrypted is None:
        # Erased since: whether it went cannot be asked without the number.
        return ("unknown" if settled(state=State.UNKNOWN.value, reason="erased") else "taken"), None
    phone = vault.decrypt(contact.phone_encrypted)
    hearing, place = _hearing(session, broadcast)
    written = _message(services, broadcast, hearing, place, d, None)
    body = None if d.channel == "whatsapp" else written.body
    since = as_utc(d.claimed_at) if d.claimed_at else now
    try:
        sid = ctx.sender.find(Outgoing(d.channel, phone, body=body), since)
    except Exception as error:  # noqa: BLE001 - Twilio cannot be asked: unknown, never resent
        logger.warning(
            "delivery %d: Twilio could not be asked whether it went (%s): unknown", d.id, type(error).__name__
        )
        return ("unknown" if settled(state=State.UNKNOWN.value, reason="unconfirmed") else "taken"), None
    if sid is not None:
        if not settled(state=State.SENT.value, message_sid=sid, sent_at=now, reason="confirmed"):
            return "taken", None
        apply_early_statuses(session, [sid])
        return "confirmed", sid
    requeued = settled(state=State.QUEUED.value, reason="requeued", not_before=None)
    return ("requeued" if requeued else "taken"), None


# --- status callbacks ---------------------------------------------------------------------------

#: Twilio's MessageStatus → a delivery's state (None: no change: it is still on its way).
CALLBACK_STATES = {
    "accepted": None,
    "queued": None,
    "sending": None,
    "scheduled": None,
    "sent": State.SENT,
    "delivered": State.DELIVERED,
    "read": State.DELIVERED,
    "undelivered": State.FAILED,
    "failed": State.FAILED,
    "canceled": State.FAILED,
}


def _apply_status(session: Session, d: Delivery, status: str, error_code: int | None, now: datetime) -> None:
    """Only a sent message moves on (to delivered or failed): a late `sent` never undoes `delivered`."""
    target = CALLBACK_STATES.get(status)
    if target not in (State.DELIVERED, State.FAILED) or d.state != State.SENT.value:
        return
    d.state, d.updated_at = target.value, now
    if target is State.FAILED:
        d.error_code = error_code
        d.reason = PERMANENT.get(error_code or 0, "undelivered")
        if error_code == 21610 and d.contact_id is not None:
            _opted_out_at_twilio(session, d.contact_id, now)


def record_status(
    session: Session, message_sid: str, status: str, error_code: int | None, now: datetime
) -> bool:
    """A status callback: updates the delivery with that MessageSid (True), or keeps the status
    for when its send is recorded (False)."""
    status = status.strip().lower()
    d = session.scalars(select(Delivery).where(Delivery.message_sid == message_sid)).first()
    if d is not None:
        _apply_status(session, d, status, error_code, now)
        return True
    if CALLBACK_STATES.get(status) is None:
        return False
    early = session.get(EarlyStatus, message_sid)
    if early is None:
        session.add(
            EarlyStatus(message_sid=message_sid, status=status, error_code=error_code, received_at=now)
        )
    elif early.status not in ("delivered", "read", "undelivered", "failed", "canceled"):
        early.status, early.error_code = status, error_code
    return False


def apply_early_statuses(session: Session, sids: Sequence[str]) -> None:
    """Apply the statuses kept for these MessageSids (callbacks that came before their send was
    recorded) to their deliveries, and forget them; a status whose delivery is not found stays,
    and so does one a later callback changed meanwhile (only the status applied is forgotten)."""
    if not sids:
        return
    early = list(session.scalars(select(EarlyStatus).where(EarlyStatus.message_sid.in_(sids))))
    if not early:
        return
    session.flush()
    by_sid = {
        d.message_sid: d
        for d in session.scalars(
            select(Delivery).where(Delivery.message_sid.in_([e.message_sid for e in early]))
        )
    }
    for e in early:
        d = by_sid.get(e.message_sid)
        if d is not None:
            _apply_status(session, d, e.status, e.error_code, as_utc(e.received_at))
    applied = [(e.message_sid, e.status) for e in early if e.message_sid in by_sid]
    if applied:
        session.execute(
            delete(EarlyStatus)
            .where(tuple_(EarlyStatus.message_sid, EarlyStatus.status).in_(applied))
            .execution_options(synchronize_session=False)
        )


def apply_early_statuses_committed(database: Database, sids: Sequence[str]) -> None:
    """`apply_early_statuses` once more, in a transaction of its own, after the caller's committed.

    A status callback and the record of its send race: the callback's transaction finds no
    delivery with its MessageSid (the record is not committed yet) and keeps the status as
    early, while the record's transaction looked for early statuses before that one was
    committed. Both sides look again after their own commit (the status webhook too), so the
    one that commits last sees the other's work: no status is left behind.
    """
    if not sids:
        return
    try:
        with database.session(timeout=30) as session:
            apply_early_statuses(session, sids)
    except DATABASE_ERRORS as error:
        logger.warning("early statuses not applied (%s)", type(error).__name__)


def forget_early_statuses(session: Session, now: datetime) -> int:
    result = session.execute(delete(EarlyStatus).where(EarlyStatus.received_at < now - timedelta(days=1)))
    return int(getattr(result, "rowcount", 0) or 0)
