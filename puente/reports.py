"""What the dashboard shows, read from every capability: subscriber counts, opt-outs, messages,
recent broadcasts, RSVP answers. Read-only queries: the rules stay in their capabilities.

People appear only by masked number (`mask_phone`); `reveal_number` is for an admin, and the
caller audits it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.fernet import InvalidToken
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from puente.alerts.models import Subscription
from puente.broadcasts.models import Broadcast, Delivery, Kind, Rsvp, State
from puente.directory.models import Jurisdiction
from puente.models import Contact, InboundMessage
from puente.privacy import Vault, mask_phone

#: "This week": the last seven days, whatever the day.
WEEK = timedelta(days=7)


@dataclass
class Overview:
    subscribers: int = 0
    by_language: dict[str, int] = field(default_factory=dict)
    #: (jurisdiction id, its name) -> people subscribed there.
    by_area: dict[tuple[str, str], int] = field(default_factory=dict)
    by_topic: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    opted_out: int = 0
    opted_out_this_week: int = 0
    inbound_this_week: int = 0
    outbound_this_week: int = 0
    #: Day (ISO date, UTC) -> (inbound, outbound), the last seven days, oldest first.
    daily: list[tuple[str, int, int]] = field(default_factory=list)


def overview(session: Session, now: datetime) -> Overview:
    """Subscribers (people with at least one topic, not opted out) by language, area, topic and
    channel; opt-outs; messages in and out over the last seven days."""
    out = Overview()
    active = (
        select(Subscription)
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(Contact.opted_out_at.is_(None))
        .subquery()
    )
    people = func.count(distinct(active.c.contact_id))
    out.subscribers = int(session.scalar(select(people)) or 0)
    for column, target in (
        (active.c.language, out.by_language),
        (active.c.topic, out.by_topic),
        (active.c.channel, out.by_channel),
    ):
        for key, n in session.execute(select(column, people).group_by(column).order_by(people.desc())):
            target[str(key)] = int(n)
    names = dict(session.execute(select(Jurisdiction.id, Jurisdiction.name)).tuples().all())
    for place, n in session.execute(
        select(active.c.jurisdiction_id, people).group_by(active.c.jurisdiction_id).order_by(people.desc())
    ):
        out.by_area[(str(place), names.get(str(place), str(place)))] = int(n)
    week_ago = now - WEEK
    out.opted_out = int(session.scalar(select(func.count()).where(Contact.opted_out_at.is_not(None))) or 0)
    out.opted_out_this_week = int(
        session.scalar(select(func.count()).where(Contact.opted_out_at >= week_ago)) or 0
    )
    inbound = list(
        session.scalars(select(InboundMessage.received_at).where(InboundMessage.received_at >= week_ago))
    )
    outbound = list(
        session.scalars(
            select(Delivery.sent_at).where(
                Delivery.sent_at >= week_ago, Delivery.state.in_((State.SENT.value, State.DELIVERED.value))
            )
        )
    )
    out.inbound_this_week, out.outbound_this_week = len(inbound), len([t for t in outbound if t])
    days = [(now - timedelta(days=i)).date() for i in range(6, -1, -1)]
    per_day_in = _per_day(inbound)
    per_day_out = _per_day([t for t in outbound if t])
    out.daily = [
        (d.isoformat(), per_day_in.get(d.isoformat(), 0), per_day_out.get(d.isoformat(), 0)) for d in days
    ]
    return out


def _per_day(moments: list[datetime]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for moment in moments:
        day = moment.date().isoformat()
        counts[day] = counts.get(day, 0) + 1
    return counts


def recent_broadcasts(session: Session, limit: int = 50) -> list[Broadcast]:
    """Coordinators' broadcasts and tests, newest first (reminders are shown with their hearing)."""
    return list(
        session.scalars(
            select(Broadcast)
            .where(Broadcast.kind.in_((Kind.BROADCAST.value, Kind.TEST.value)))
            .order_by(Broadcast.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class RsvpSummary:
    broadcast: Broadcast
    yes: int
    no: int


def rsvp_alerts(session: Session, limit: int = 50) -> list[RsvpSummary]:
    """Alerts that asked YES/NO, newest first, with their counts."""
    alerts = list(
        session.scalars(
            select(Broadcast)
            .where(Broadcast.rsvp_until.is_not(None), Broadcast.kind == Kind.BROADCAST.value)
            .order_by(Broadcast.id.desc())
            .limit(limit)
        )
    )
    counts: dict[tuple[int, str], int] = {}
    if alerts:
        for bid, answer, n in session.execute(
            select(Rsvp.broadcast_id, Rsvp.answer, func.count())
            .where(Rsvp.broadcast_id.in_([a.id for a in alerts]))
            .group_by(Rsvp.broadcast_id, Rsvp.answer)
        ).tuples():
            counts[(int(bid), str(answer))] = int(n)
    return [RsvpSummary(a, counts.get((a.id, "yes"), 0), counts.get((a.id, "no"), 0)) for a in alerts]


@dataclass(frozen=True)
class Answer:
    contact_id: int
    masked: str
    answer: str
    answered_at: datetime
    language: str


def rsvp_answers(session: Session, vault: Vault, broadcast_id: int) -> list[Answer]:
    """Who answered an alert, each by masked number only."""
    rows = session.execute(
        select(Rsvp, Contact)
        .join(Contact, Contact.id == Rsvp.contact_id)
        .where(Rsvp.broadcast_id == broadcast_id)
        .order_by(Rsvp.answered_at.desc())
    ).tuples()
    return [
        Answer(contact.id, _masked(vault, contact), rsvp.answer, rsvp.answered_at, contact.language)
        for rsvp, contact in rows
    ]


def _masked(vault: Vault, contact: Contact) -> str:
    if contact.phone_encrypted is None:
        return mask_phone("")
    try:
        return mask_phone(vault.decrypt(contact.phone_encrypted))
    except InvalidToken:  # unreadable under both keys: shown hidden, never raised at a viewer
        return mask_phone("")


def reveal_number(session: Session, vault: Vault, contact_id: int) -> str | None:
    """A person's full number, for an admin (the caller audits it); None when there is none."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.phone_encrypted is None:
        return None
    return vault.decrypt(contact.phone_encrypted)


def hearing_broadcasts(session: Session, hearing_id: str) -> list[Broadcast]:
    """The reminders and notices made for a hearing, oldest first."""
    return list(
        session.scalars(select(Broadcast).where(Broadcast.hearing_id == hearing_id).order_by(Broadcast.id))
    )
