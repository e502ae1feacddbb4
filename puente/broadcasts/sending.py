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
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from puente import questions
from puente.broadcasts import audience, texts
from puente.broadcasts.ics import hearing_link
from puente.broadcasts.models import Broadcast, Delivery, EarlyStatus, Kind, OutboxMessage, State, Status
from puente.broadcasts.quiet import QuietHours, quiet_until
from puente.broadcasts.rsvp import RSVP_QUESTION
from puente.broadcasts.sender import (
    PERMANENT,
    REQUEST_TIMEOUT,
    Ambiguous,
    Outcome,
    Outgoing,
    Pace,
    Result,
    Sender,
)
from puente.broadcasts.templates import MissingTemplateField, TemplateFileError, Templates, load_templates
from puente.db import DATABASE_ERRORS, as_utc
from puente.directory.models import Hearing, Jurisdiction
from puente.jobs import heartbeat
from puente.messaging.segments import segments as count_segments
from puente.models import Contact, ContactChannel
from puente.questions import OpenQuestion

if TYPE_CHECKING:
    from puente.db import Database
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
#: A claim's lease runs this long past its batch's last slot and a request's timeout: what a
#: request in flight when its worker died needs to reach Twilio or fail.
LEASE_MARGIN = timedelta(seconds=5)
#: How long a send waits for a broken WhatsApp templates file to be fixed.
TEMPLATES_RETRY = timedelta(minutes=5)
#: Tries to write a batch's results before leaving them to the reconciler.
RECORD_ATTEMPTS = 4
#: WhatsApp allows free-form messages this long after the person last wrote.
WHATSAPP_WINDOW = timedelta(hours=24)


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
        Sender(settings, CONCURRENCY),
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
    #: When the soonest delivery this batch put back (a 429, a refused connection) may go again.
    retry_at: datetime | None = None
    outcomes: dict[str, int] = field(default_factory=dict)


def worker_tag() -> str:
    host, pid = heartbeat.worker_identity()
    return f"{host}:{pid}"


def _message(
    services: Services,
    broadcast: Broadcast,
    hearing: Hearing | None,
    place: Jurisdiction | None,
    language: str,
    link: str | None,
) -> texts.Written:
    languages = services.languages
    if broadcast.kind == Kind.REMINDER and hearing is not None:
        return texts.reminder_message(languages, language, hearing, place, link)
    if broadcast.kind == Kind.NOTICE and hearing is not None and broadcast.hearing_starts_at is not None:
        return texts.notice_message(
            languages, language, hearing, place, as_utc(broadcast.hearing_starts_at), link
        )
    return texts.broadcast_message(
        languages, broadcast.texts, language, rsvp=broadcast.rsvp_until is not None
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
    attempts: int
    note: str | None


@dataclass
class _Row:
    """A claimed delivery, as plain values: a batch is checked and written without the ORM's
    unit of work (hundreds of rows a batch, thousands a second)."""

    id: int
    contact_id: int | None
    channel: str
    language: str
    timezone: str
    attempts: int
    note: str | None
    state: str = State.SENDING.value
    reason: str | None = None
    not_before: datetime | None = None

    def skip(self, reason: str) -> None:
        self.state, self.reason = State.SKIPPED.value, reason

    def wait(self, reason: str, until: datetime) -> None:
        """Back to the queue until `until`: waiting is no attempt."""
        self.state, self.reason, self.not_before, self.attempts = (
            State.QUEUED.value,
            reason,
            until,
            self.attempts - 1,
        )


_T: Table = Delivery.__table__  # type: ignore[assignment]  # a Table, typed as a FromClause
#: Writes to one claimed row of this batch (never one another worker has taken over).
_MINE = (
    (_T.c.id == bindparam("_id"))
    & (_T.c.claimed_by == bindparam("_token"))
    & (_T.c.state == State.SENDING.value)
)


def _write(session: Session, values: dict[str, str], params: Sequence[Mapping[str, object]]) -> None:
    """One executemany UPDATE of this batch's rows: `values` names each column's bind parameter."""
    if params:
        columns: dict[str, Any] = {column: bindparam(name) for column, name in values.items()}
        session.execute(update(_T).where(_MINE).values(**columns), list(params))


def _prepare(
    services: Services,
    ctx: Context,
    session: Session,
    broadcast: Broadcast,
    rows: Sequence[_Row],
    now: datetime,
) -> list[_Send]:
    """Check each claimed delivery again; skip or defer what may not go; the messages that may."""
    vault = services.vault
    hearing, place = _hearing(session, broadcast)
    gone = hearing_gone(broadcast, hearing, now)
    ids = [d.contact_id for d in rows if d.contact_id is not None]
    topics = broadcast.topics or ["hearings"]
    receiving = audience.still_receives(session, topics, ids) if broadcast.kind != Kind.TEST else set(ids)
    # Only what the checks need, as plain rows (no ORM objects to track for a whole batch).
    columns = select(Contact.id, Contact.phone_encrypted, Contact.opted_out_at).where(Contact.id.in_(ids))
    contacts = {row.id: row for row in session.execute(columns)} if ids else {}
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
    written_in: dict[str, tuple[texts.Written, int]] = {}
    ready: list[_Send] = []
    for d in rows:
        try:
            contact = contacts.get(d.contact_id) if d.contact_id is not None else None
            skip = d.skip
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
                if (
                    hearing is not None
                    and broadcast.kind == Kind.REMINDER
                    and quiet >= as_utc(hearing.starts_at)
                ):
                    skip("expired")
                    continue
                d.wait("quiet_hours", quiet)
                continue
            if quiet is not None:
                d.note = "urgent_override"
            if d.language not in written_in:  # one text per language in a batch: written once
                link = (
                    hearing_link(ctx.public_base_url, hearing.id, d.language) if hearing is not None else None
                )
                text = _message(services, broadcast, hearing, place, d.language, link)
                written_in[d.language] = (text, count_segments(text.body))
            written, sms_segments = written_in[d.language]
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
                    d.wait("templates_unreadable", now + TEMPLATES_RETRY)
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
                cost = sms_segments if d.channel == "sms" else 1
            ready.append(_Send(d.id, d.contact_id, d.channel, message, cost, d.language, d.attempts, d.note))

        except Exception as error:  # noqa: BLE001 - one bad row must not hold up the broadcast
            logger.warning("delivery %d skipped: %s while preparing it", d.id, type(error).__name__)
            d.skip("error")
    return ready


def _settle_unsent(session: Session, rows: Sequence[_Row], token: str, now: datetime) -> None:
    """Write what the checks decided for the rows that will not be sent now."""
    skipped = [
        {"_id": r.id, "_token": token, "_reason": r.reason, "_now": now}
        for r in rows
        if r.state == State.SKIPPED.value
    ]
    _write(
        session,
        {"state": "_state", "reason": "_reason", "claimed_by": "_none", "updated_at": "_now"},
        [{**p, "_state": State.SKIPPED.value, "_none": None} for p in skipped],
    )
    waiting = [
        {
            "_id": r.id,
            "_token": token,
            "_state": State.QUEUED.value,
            "_reason": r.reason,
            "_until": r.not_before,
            "_attempts": r.attempts,
            "_none": None,
            "_now": now,
        }
        for r in rows
        if r.state == State.QUEUED.value
    ]
    _write(
        session,
        {
            "state": "_state",
            "reason": "_reason",
            "not_before": "_until",
            "attempts": "_attempts",
            "claimed_by": "_none",
            "updated_at": "_now",
        },
        waiting,
    )


def _claim(session: Session, broadcast_id: int, limit: int, now: datetime, token: str) -> list[_Row]:
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
            lease_until=now + timedelta(seconds=REQUEST_TIMEOUT) + LEASE_MARGIN,
            reason=None,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = select(
        _T.c.id, _T.c.contact_id, _T.c.channel, _T.c.language, _T.c.timezone, _T.c.attempts, _T.c.note
    ).where(_T.c.claimed_by == token, _T.c.state == State.SENDING.value)
    return [_Row(*row) for row in session.execute(claimed).tuples()]


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


def _lease(session: Session, sends: list[_Send], slots: list[float], token: str, now: datetime) -> float:
    """Set the batch's lease; the wall-clock time after which none of its messages may start.

    The batch works until its last slot, plus the time its messages take at `CONCURRENCY` in
    flight (half a second each, at least a request's timeout); its lease runs a request's
    timeout and a margin past that, so nobody reconciles a row whose request may still start
    or be in flight. Slots are wall-clock seconds; the lease is in the services' clock.
    """
    if not sends:
        return 0.0
    wall = time.time()
    working = max(0.0, max(slots) - wall) + max(REQUEST_TIMEOUT, len(sends) / CONCURRENCY * 0.5)
    lease = now + timedelta(seconds=working + REQUEST_TIMEOUT) + LEASE_MARGIN
    session.execute(
        update(_T)
        .where(_T.c.claimed_by == token, _T.c.state == State.SENDING.value)
        .values(lease_until=lease)
    )
    return wall + working


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
    """Write every result of a batch in one transaction, a statement per kind of outcome."""
    sent: list[dict[str, object]] = []
    retry: list[dict[str, object]] = []
    failed: list[dict[str, object]] = []
    uncertain: list[dict[str, object]] = []
    sids: list[str] = []
    went: list[_Send] = []
    for s, r in zip(sends, results, strict=True):
        report.outcomes[r.outcome.value] = report.outcomes.get(r.outcome.value, 0) + 1
        mine = {"_id": s.delivery_id, "_token": token, "_now": now, "_none": None}
        if r.outcome is Outcome.SENT:
            report.sent += 1
            sent.append({**mine, "_sid": r.sid, "_segments": s.segments, "_note": s.note})
            if r.sid:
                sids.append(r.sid)
            went.append(s)
        elif r.outcome is Outcome.RETRY:
            given_up = s.attempts >= MAX_ATTEMPTS
            again = None if given_up else now + backoff(s.attempts)
            if again is not None and (report.retry_at is None or again < report.retry_at):
                report.retry_at = again
            retry.append(
                {
                    **mine,
                    "_reason": r.reason,
                    "_code": r.error_code,
                    "_state": State.FAILED.value if given_up else State.QUEUED.value,
                    "_until": again,
                }
            )
        elif r.outcome is Outcome.FAILED:
            failed.append({**mine, "_reason": r.reason, "_code": r.error_code})
            if r.error_code == 21610 and s.contact_id is not None:
                _opted_out_at_twilio(session, s.contact_id, now)
        else:
            report.uncertain += 1
            # Twilio's list is asked once the grace has passed (its status callback may come first).
            uncertain.append(
                {**mine, "_reason": "uncertain", "_code": r.error_code, "_lease": now + UNCERTAIN_GRACE}
            )
    _sent_dependents(services, session, broadcast, went, now)
    _write(
        session,
        {
            "state": "_state",
            "message_sid": "_sid",
            "sent_at": "_now",
            "segments": "_segments",
            "note": "_note",
            "reason": "_none",
            "claimed_by": "_none",
            "updated_at": "_now",
        },
        [{**p, "_state": State.SENT.value} for p in sent],
    )
    _write(
        session,
        {
            "state": "_state",
            "reason": "_reason",
            "error_code": "_code",
            "not_before": "_until",
            "claimed_by": "_none",
            "updated_at": "_now",
        },
        retry,
    )
    _write(
        session,
        {
            "state": "_state",
            "reason": "_reason",
            "error_code": "_code",
            "claimed_by": "_none",
            "updated_at": "_now",
        },
        [{**p, "_state": State.FAILED.value} for p in failed],
    )
    # Still `sending`, still this batch's: the reconciler asks Twilio about it after the grace.
    _write(
        session,
        {"reason": "_reason", "error_code": "_code", "lease_until": "_lease", "updated_at": "_now"},
        uncertain,
    )
    apply_early_statuses(session, sids)


def _sent_dependents(
    services: Services, session: Session, broadcast: Broadcast, went: list[_Send], now: datetime
) -> None:
    """What a sent message leaves behind: its outbox copy (no Twilio account) and its RSVP
    question. Only for people still there (erased meanwhile: nothing of theirs is written),
    and an RSVP question never replaces another open question (a STOP or DELETE to confirm,
    a sign-up step): their YES belongs to that one."""
    ids = [s.contact_id for s in went if s.contact_id is not None]
    if not ids:
        return
    present = set(session.scalars(select(Contact.id).where(Contact.id.in_(ids))))
    if ctx_outbox(services):
        vault = services.vault
        for s in went:
            if s.contact_id in present:
                session.add(
                    OutboxMessage(
                        delivery_id=s.delivery_id,
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
    until = as_utc(broadcast.rsvp_until) if broadcast.rsvp_until is not None else None
    if until is None or until <= now:
        return
    other = dict(
        session.execute(
            select(OpenQuestion.contact_id, OpenQuestion.kind).where(
                OpenQuestion.contact_id.in_(ids), OpenQuestion.expires_at > now
            )
        )
        .tuples()
        .all()
    )
    for s in went:
        if s.contact_id in present and other.get(s.contact_id, RSVP_QUESTION) == RSVP_QUESTION:
            questions.ask(
                session,
                s.contact_id,
                RSVP_QUESTION,
                {"broadcast": broadcast.id},
                s.language,
                until - now,
                now=now,
            )


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
        if rows:
            broadcast.active_at = now
        report.claimed = len(rows)
        report.more = len(rows) == limit
        sends = _prepare(services, ctx, session, broadcast, rows, now)
        _settle_unsent(session, rows, token, now)
        slots = _slots(ctx, session, sends)
        deadline = _lease(session, sends, slots, token, now)
    if sends:
        results = ctx.sender.send_many([x.message for x in sends], slots, deadline)
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


def sweep_cancelled(session: Session) -> int:
    """Deliveries of cancelled broadcasts that went back to the queue after the cancel (a retry, a
    wait, a requeue, a page of the audience written late) are skipped as cancelled too."""
    cancelled = select(Broadcast.id).where(Broadcast.status == Status.CANCELLED.value)
    swept = session.execute(
        update(_T)
        .where(_T.c.state == State.QUEUED.value, _T.c.broadcast_id.in_(cancelled))
        .values(state=State.SKIPPED.value, reason="cancelled", claimed_by=None)
    )
    return int(getattr(swept, "rowcount", 0) or 0)


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


#: Deliveries settled per call: each may take one lookup at Twilio.
RECONCILE_LIMIT = 100


@dataclass
class _Unsettled:
    id: int
    claimed_by: str
    since: datetime
    message: Outgoing | None  # None: the person was erased since, the number is gone


def reconcile(services: Services, now: datetime, broadcast_id: int | None = None) -> dict[str, int]:
    """Settle deliveries left `sending` past their lease: answers lost (the lease is the record
    time plus `UNCERTAIN_GRACE`) and claims of workers that died or hung (their batch's lease
    ran out: nothing of it may start or still be in flight). Returns counts by outcome.

    The rows are read in one short transaction, Twilio is asked outside any (a lookup may be
    slow), and the outcomes are written in another, each only if the row is still as read.
    """
    ctx: Context = services.broadcast_context
    unsettled = _unsettled(services, ctx, now, broadcast_id)
    if not unsettled:
        return {}
    counts: dict[str, int] = {}
    outcomes: dict[str, list[dict[str, object]]] = {"confirmed": [], "requeued": [], "unknown": []}
    for u in unsettled:
        mine = {"_id": u.id, "_token": u.claimed_by, "_now": now, "_none": None}
        if u.message is None:
            outcomes["unknown"].append({**mine, "_reason": "erased"})
            continue
        try:
            sid = ctx.sender.find(u.message, u.since)
        except Ambiguous:
            # Other messages of Puente's to that number, none plainly this one: never risk a second.
            logger.warning("delivery %d: Twilio's list cannot say whether it went: unknown", u.id)
            outcomes["unknown"].append({**mine, "_reason": "ambiguous"})
            continue
        except Exception as error:  # noqa: BLE001 - Twilio cannot be asked: unknown, never resent
            logger.warning(
                "delivery %d: Twilio could not be asked whether it went (%s): unknown",
                u.id,
                type(error).__name__,
            )
            outcomes["unknown"].append({**mine, "_reason": "unconfirmed"})
            continue
        if sid is not None:
            outcomes["confirmed"].append({**mine, "_sid": sid})
        else:
            outcomes["requeued"].append(mine)
    with services.database.session(timeout=30) as session:
        _write(
            session,
            {
                "state": "_state",
                "message_sid": "_sid",
                "sent_at": "_now",
                "reason": "_reason",
                "claimed_by": "_none",
                "updated_at": "_now",
            },
            [{**p, "_state": State.SENT.value, "_reason": "confirmed"} for p in outcomes["confirmed"]],
        )
        _write(
            session,
            {
                "state": "_state",
                "reason": "_reason",
                "not_before": "_none",
                "claimed_by": "_none",
                "updated_at": "_now",
            },
            [{**p, "_state": State.QUEUED.value, "_reason": "requeued"} for p in outcomes["requeued"]],
        )
        _write(
            session,
            {"state": "_state", "reason": "_reason", "claimed_by": "_none", "updated_at": "_now"},
            [{**p, "_state": State.UNKNOWN.value} for p in outcomes["unknown"]],
        )
        apply_early_statuses(session, [str(p["_sid"]) for p in outcomes["confirmed"]])
    # A status callback for one of them may have raced this transaction: look once more.
    apply_early_statuses_committed(services.database, [str(p["_sid"]) for p in outcomes["confirmed"]])
    counts = {k: len(v) for k, v in outcomes.items() if v}
    logger.info(
        "reconciled deliveries left sending: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    return counts


def _unsettled(services: Services, ctx: Context, now: datetime, broadcast_id: int | None) -> list[_Unsettled]:
    """The deliveries to settle now, each with the message it was (so Twilio's list can be asked)."""
    found: list[_Unsettled] = []
    with services.database.session(timeout=30) as session:
        query = select(
            _T.c.id,
            _T.c.broadcast_id,
            _T.c.contact_id,
            _T.c.channel,
            _T.c.language,
            _T.c.claimed_by,
            _T.c.claimed_at,
            _T.c.reason,
        ).where(_T.c.state == State.SENDING.value, _T.c.lease_until <= now)
        if broadcast_id is not None:
            query = query.where(_T.c.broadcast_id == broadcast_id)
        # A claim is settled once its lease is over: no message of it can start or be in flight.
        settle = list(session.execute(query.order_by(_T.c.lease_until, _T.c.id).limit(RECONCILE_LIMIT)))
        if not settle:
            return found
        broadcasts = {
            b.id: b
            for b in session.scalars(
                select(Broadcast).where(Broadcast.id.in_({row.broadcast_id for row in settle}))
            )
        }
        ids = [row.contact_id for row in settle if row.contact_id is not None]
        phones = dict(
            session.execute(select(Contact.id, Contact.phone_encrypted).where(Contact.id.in_(ids)))
            .tuples()
            .all()
        )
        for row in settle:
            encrypted = phones.get(row.contact_id) if row.contact_id is not None else None
            message = None
            if encrypted is not None:
                broadcast = broadcasts[row.broadcast_id]
                written = _written(services, ctx, session, broadcast, row.language)
                # Its free text (a template sent instead cannot be matched: then it is unknown).
                message = Outgoing(row.channel, services.vault.decrypt(encrypted), body=written.body)
            found.append(_Unsettled(row.id, str(row.claimed_by), as_utc(row.claimed_at), message))
    return found


def _written(
    services: Services, ctx: Context, session: Session, broadcast: Broadcast, language: str
) -> texts.Written:
    """The message `broadcast` sends a reader of `language`: the same text every time it is asked."""
    hearing, place = _hearing(session, broadcast)
    link = hearing_link(ctx.public_base_url, hearing.id, language) if hearing is not None else None
    return _message(services, broadcast, hearing, place, language, link)


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
