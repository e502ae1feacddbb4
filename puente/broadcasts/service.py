"""Broadcasts as coordinators see them: plan, create, start, cancel, status.

The CLI and the dashboard call these; the worker's tasks call `start` and `sending`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from puente.alerts.models import TOPICS
from puente.broadcasts import texts
from puente.broadcasts.audience import Audience
from puente.broadcasts.models import Broadcast, Delivery, Kind, Rsvp, State, Status
from puente.broadcasts.quiet import quiet_until
from puente.broadcasts.sending import WHATSAPP_WINDOW, Context
from puente.broadcasts.templates import TemplateFileError
from puente.db import as_utc
from puente.directory.models import Jurisdiction
from puente.i18n import LanguageRegistry
from puente.messaging.segments import MAX_BODY, encoding_of
from puente.messaging.segments import segments as count_segments
from puente.models import Contact, ContactChannel

if TYPE_CHECKING:
    from puente.db import Database
    from puente.services import Services

#: Language codes a broadcast text may be given in (`zh` serves both Chinese scripts).
TEXT_LANGUAGES = ("en", "es", "vi", "tl", "ko", "zh", "zh_Hans", "zh_Hant")
#: People written as deliveries per transaction while an audience is resolved.
RESOLVE_BATCH = 2000
#: A broadcast left `resolving` this long (its worker died) is resolved again, from where it stopped.
RESOLVE_STALE = timedelta(minutes=5)
DEFAULT_RSVP_HOURS = 48.0


class BroadcastError(ValueError):
    """A broadcast that cannot be sent as asked: the message says what to change."""


@dataclass(frozen=True)
class Request:
    topic: str
    message: str
    translations: Mapping[str, str] = field(default_factory=dict)
    jurisdiction_id: str | None = None
    language: str | None = None
    at: datetime | None = None
    urgent: bool = False
    rsvp_hours: float | None = None
    created_by: str = "cli"
    #: Makes creating it idempotent: a second request with the same key (a double click, a
    #: resubmitted form) finds the first broadcast instead of making another.
    key: str | None = None

    @property
    def texts(self) -> dict[str, str]:
        return {"en": self.message.strip(), **{k: v.strip() for k, v in self.translations.items()}}

    @property
    def purpose(self) -> str:
        return "mobilization" if self.topic == "mobilization" else "broadcast"


def check(session: Session, request: Request, now: datetime) -> None:
    """Refuse what cannot be sent, naming the option to change."""
    if request.topic not in TOPICS:
        raise BroadcastError(f"--topic {request.topic!r} is not a topic: use one of {', '.join(TOPICS)}")
    if not request.message.strip():
        raise BroadcastError("--message is empty: give the English text")
    for code, text in request.translations.items():
        if code not in TEXT_LANGUAGES:
            raise BroadcastError(
                f"--translation {code}=…: {code!r} is not a language code ({', '.join(TEXT_LANGUAGES)})"
            )
        if not text.strip():
            raise BroadcastError(f"--translation {code}= is empty")
    for code, text in request.texts.items():
        if len(text) > MAX_BODY - 200:
            raise BroadcastError(
                f"the {code} text has {len(text)} characters: keep it under {MAX_BODY - 200} "
                "(the opt-out line and an RSVP question are added)"
            )
    if request.language is not None and request.language not in TEXT_LANGUAGES:
        raise BroadcastError(
            f"--language {request.language!r} is not a language code ({', '.join(TEXT_LANGUAGES)})"
        )
    if request.jurisdiction_id is not None and session.get(Jurisdiction, request.jurisdiction_id) is None:
        raise BroadcastError(
            f"--jurisdiction {request.jurisdiction_id!r} is no place in the directory "
            "(`puente directory export` lists the ids)"
        )
    if request.at is not None:
        if request.at.tzinfo is None:
            raise BroadcastError("--at needs a time zone offset, e.g. 2026-12-15T09:00-08:00")
        if as_utc(request.at) < now - timedelta(minutes=1):
            raise BroadcastError("--at is in the past")
    if request.rsvp_hours is not None and not 0 < request.rsvp_hours <= 24 * 30:
        raise BroadcastError("--rsvp HOURS must be between 0 and 720")


def audience_of(session: Session, broadcast: Broadcast) -> Audience:
    return Audience.of(session, broadcast.topics, broadcast.jurisdiction_id, broadcast.language)


# --- the dry run ------------------------------------------------------------------------------


@dataclass
class LanguagePlan:
    language: str
    sms: int = 0
    whatsapp: int = 0
    segments_each: int = 0
    encoding: str = "GSM-7"
    no_template: int = 0
    en_fallback: bool = False

    @property
    def segments(self) -> int:
        return self.sms * self.segments_each + self.whatsapp - self.no_template


@dataclass
class Plan:
    recipients: int
    languages: list[LanguagePlan]
    rate: float
    price_per_segment: float

    @property
    def segments(self) -> int:
        return sum(lp.segments for lp in self.languages)

    @property
    def seconds(self) -> float:
        return self.segments / self.rate if self.rate > 0 else 0.0

    @property
    def cost(self) -> float:
        return sum(lp.sms * lp.segments_each for lp in self.languages) * self.price_per_segment

    @property
    def no_template(self) -> int:
        return sum(lp.no_template for lp in self.languages)


def plan(
    session: Session,
    languages: LanguageRegistry,
    ctx: Context,
    request: Request,
    now: datetime,
    price_per_segment: float,
) -> Plan:
    """What sending `request` would do: recipients per language and channel, segments, time."""
    check(session, request, now)
    aud = Audience.of(session, (request.topic,), request.jurisdiction_id, request.language)
    counts = aud.by_language_and_channel(session)
    outside = _whatsapp_outside_window(session, aud, now)
    try:
        templates = ctx.templates()
    except TemplateFileError as error:
        raise BroadcastError(f"WHATSAPP_TEMPLATES_FILE cannot be read: {error}") from None
    plans: dict[str, LanguagePlan] = {}
    for (language, channel), n in sorted(counts.items()):
        lp = plans.setdefault(language, LanguagePlan(language))
        if channel == "whatsapp":
            lp.whatsapp += n
            if templates.find(request.purpose, language) is None:
                lp.no_template += outside.get(language, 0)
        else:
            lp.sms += n
    for lp in plans.values():
        written = texts.broadcast_message(
            languages, request.texts, lp.language, rsvp=request.rsvp_hours is not None
        )
        lp.segments_each = count_segments(written.body)
        lp.encoding = encoding_of(written.body).name
        lp.en_fallback = written.note == texts.EN_FALLBACK
    return Plan(sum(counts.values()), list(plans.values()), ctx.pace.rate, price_per_segment)


def _whatsapp_outside_window(session: Session, aud: Audience, now: datetime) -> dict[str, int]:
    """WhatsApp recipients per language who have not written in the last 24 hours."""
    people = aud.rows().subquery()
    columns = list(people.c)
    recent = select(ContactChannel.contact_id).where(
        ContactChannel.channel == "whatsapp", ContactChannel.last_inbound_at >= now - WHATSAPP_WINDOW
    )
    query = (
        select(columns[2], func.count())
        .where(columns[1] == "whatsapp")
        .where(columns[0].not_in(recent))
        .group_by(columns[2])
    )
    return {str(lang): int(n) for lang, n in session.execute(query).tuples()}


# --- creating, starting, cancelling -----------------------------------------------------------


def find_by_key(session: Session, key: str) -> Broadcast | None:
    return session.scalars(select(Broadcast).where(Broadcast.key == key)).first()


def create(session: Session, request: Request, now: datetime) -> tuple[Broadcast, int]:
    """The broadcast, scheduled, and how many it would reach now. With a `key` already used,
    the broadcast made with it (nothing new)."""
    if request.key is not None:
        existing = find_by_key(session, request.key)
        if existing is not None:
            return existing, existing.recipients
    check(session, request, now)
    broadcast = Broadcast(
        kind=Kind.BROADCAST.value,
        purpose=request.purpose,
        topics=[request.topic],
        jurisdiction_id=request.jurisdiction_id,
        language=request.language,
        texts=request.texts,
        status=Status.SCHEDULED.value,
        scheduled_at=as_utc(request.at) if request.at else now,
        urgent=request.urgent,
        created_by=request.created_by,
        created_at=now,
        key=request.key,
        rsvp_until=(as_utc(request.at) if request.at else now) + timedelta(hours=request.rsvp_hours)
        if request.rsvp_hours is not None
        else None,
    )
    session.add(broadcast)
    session.flush()
    count = audience_of(session, broadcast).count(session)
    broadcast.recipients = count
    return broadcast, count


def begin(database: Database, broadcast_id: int, now: datetime) -> bool:
    """Take the broadcast from scheduled (or from a resolve whose worker died) to resolving."""
    with database.session(timeout=30) as session:
        taken = session.execute(
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.scheduled_at <= now,
                (
                    (Broadcast.status == Status.SCHEDULED.value)
                    | (
                        (Broadcast.status == Status.RESOLVING.value)
                        & (Broadcast.started_at <= now - RESOLVE_STALE)
                    )
                ),
            )
            .values(status=Status.RESOLVING.value, started_at=now)
        )
        return bool(getattr(taken, "rowcount", 0))


def resolve(services: Services, broadcast_id: int, now: datetime) -> int:
    """Write the broadcast's audience as queued deliveries, a batch per transaction, resuming
    after the last person already written; then it is sending. Returns how many were written."""
    database = services.database
    ctx: Context = services.broadcast_context
    written = 0
    while True:
        with database.session(timeout=60) as session:
            broadcast = session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.status != Status.RESOLVING.value:
                return written
            last = (
                session.scalar(
                    select(func.max(Delivery.contact_id)).where(Delivery.broadcast_id == broadcast_id)
                )
                or 0
            )
            rows = _page(session, broadcast, last)
            if rows:
                session.execute(
                    insert(Delivery),
                    [
                        _delivery(broadcast, ctx, contact_id, channel, language, zone, now)
                        for contact_id, channel, language, zone in rows
                    ],
                )
                written += len(rows)
            if len(rows) < RESOLVE_BATCH:
                total = (
                    session.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.broadcast_id == broadcast_id)
                    )
                    or 0
                )
                session.execute(
                    update(Broadcast)
                    .where(
                        Broadcast.id == broadcast_id,
                        Broadcast.status == Status.RESOLVING.value,
                    )
                    .values(status=Status.SENDING.value, recipients=total, active_at=now)
                )
                return written


def _page(session: Session, broadcast: Broadcast, after: int) -> list[tuple[int, str, str, str]]:
    if broadcast.kind == Kind.NOTICE:
        return _reminded(session, broadcast, after)
    query = audience_of(session, broadcast).rows().where(Contact.id > after).limit(RESOLVE_BATCH)
    return [(int(a), str(b), str(c), str(d)) for a, b, c, d in session.execute(query).tuples()]


def _reminded(session: Session, notice: Broadcast, after: int) -> list[tuple[int, str, str, str]]:
    """A notice goes to whoever got a reminder of the hearing at its old time."""
    reminders = select(Broadcast.id).where(
        Broadcast.kind == Kind.REMINDER.value,
        Broadcast.hearing_id == notice.hearing_id,
        Broadcast.hearing_starts_at == notice.hearing_starts_at,
    )
    query = (
        select(Delivery.contact_id, func.min(Delivery.channel), Contact.language, func.min(Delivery.timezone))
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(
            Delivery.broadcast_id.in_(reminders),
            Delivery.state.in_((State.SENT.value, State.DELIVERED.value)),
        )
        .where(Delivery.contact_id > after)
        .group_by(Delivery.contact_id, Contact.language)
        .order_by(Delivery.contact_id)
        .limit(RESOLVE_BATCH)
    )
    return [(int(a or 0), str(b), str(c), str(d)) for a, b, c, d in session.execute(query).tuples()]


def _delivery(
    broadcast: Broadcast, ctx: Context, contact_id: int, channel: str, language: str, zone: str, now: datetime
) -> dict[str, object]:
    quiet = None if broadcast.urgent else quiet_until(ctx.quiet, now, zone)
    return {
        "broadcast_id": broadcast.id,
        "contact_id": contact_id,
        "channel": channel,
        "language": language,
        "timezone": zone,
        "state": State.QUEUED.value,
        "segments": 0,
        "attempts": 0,
        "not_before": quiet,
        "reason": "quiet_hours" if quiet else None,
        "updated_at": now,
    }


def cancel(session: Session, broadcast_id: int, now: datetime) -> int:
    """Stop a scheduled or sending broadcast: what waits is skipped as cancelled; what was sent
    stays sent (a batch in flight finishes). Returns how many deliveries were stopped."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError(f"no broadcast {broadcast_id}")
    if broadcast.status in (Status.DONE.value, Status.CANCELLED.value):
        raise BroadcastError(f"broadcast {broadcast_id} is already {broadcast.status}")
    broadcast.status, broadcast.finished_at = Status.CANCELLED.value, now
    stopped = session.execute(
        update(Delivery)
        .where(
            Delivery.broadcast_id == broadcast_id,
            Delivery.state == State.QUEUED.value,
        )
        .values(state=State.SKIPPED.value, reason="cancelled", updated_at=now)
    )
    return int(getattr(stopped, "rowcount", 0) or 0)


# --- status -------------------------------------------------------------------------------------


@dataclass
class Report:
    broadcast: Broadcast
    states: dict[str, int]
    reasons: dict[tuple[str, str], int]
    notes: dict[str, int]
    errors: dict[int, int]
    rsvps: dict[str, int]
    unknown_ids: list[int]
    waiting_quiet: int


def report(session: Session, broadcast_id: int) -> Report:
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise BroadcastError(f"no broadcast {broadcast_id}")
    states: dict[str, int] = {s.value: 0 for s in State}
    reasons: dict[tuple[str, str], int] = {}
    for state, reason, n in session.execute(
        select(Delivery.state, Delivery.reason, func.count())
        .where(Delivery.broadcast_id == broadcast_id)
        .group_by(Delivery.state, Delivery.reason)
    ).tuples():
        states[state] = states.get(state, 0) + int(n)
        if reason and state in (
            State.SKIPPED.value,
            State.FAILED.value,
            State.UNKNOWN.value,
            State.QUEUED.value,
        ):
            reasons[(state, reason)] = reasons.get((state, reason), 0) + int(n)
    notes = {
        str(note): int(n)
        for note, n in session.execute(
            select(Delivery.note, func.count())
            .where(Delivery.broadcast_id == broadcast_id, Delivery.note.is_not(None))
            .group_by(Delivery.note)
        ).tuples()
    }
    errors = {
        int(code or 0): int(n)
        for code, n in session.execute(
            select(Delivery.error_code, func.count())
            .where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.error_code.is_not(None),
                Delivery.state == State.FAILED.value,
            )
            .group_by(Delivery.error_code)
        ).tuples()
    }
    rsvps = {"yes": 0, "no": 0}
    for answer, n in session.execute(
        select(Rsvp.answer, func.count()).where(Rsvp.broadcast_id == broadcast_id).group_by(Rsvp.answer)
    ).tuples():
        rsvps[str(answer)] = int(n)
    unknown = list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.broadcast_id == broadcast_id, Delivery.state == State.UNKNOWN.value)
            .order_by(Delivery.id)
            .limit(50)
        )
    )
    return Report(
        broadcast,
        states,
        reasons,
        notes,
        errors,
        rsvps,
        unknown,
        reasons.get((State.QUEUED.value, "quiet_hours"), 0),
    )
