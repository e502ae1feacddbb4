"""Who gets which alerts: subscriptions changed only as the person (or a consent record) says."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from puente.alerts.models import TOPICS, ConsentRecord, Subscription, Suppression
from puente.models import Contact, utcnow


@dataclass(frozen=True)
class Plan:
    """What a person will get: topics, for one place, over one channel, in one language."""

    topics: tuple[str, ...]
    jurisdiction_id: str
    channel: str
    language: str

    def as_payload(self) -> dict[str, object]:
        return {"topics": list(self.topics), "jurisdiction_id": self.jurisdiction_id,
                "channel": self.channel, "language": self.language}

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> Plan:
        topics = payload.get("topics")
        return cls(ordered(topics if isinstance(topics, list) else ()), str(payload["jurisdiction_id"]),
                   str(payload["channel"]), str(payload["language"]))


def ordered(topics: Iterable[object]) -> tuple[str, ...]:
    """Known topics, each once, in the order of TOPICS ("all" stands for every one)."""
    wanted = {str(t) for t in topics}
    if "all" in wanted:
        return TOPICS
    return tuple(t for t in TOPICS if t in wanted)


def subscriptions_of(session: Session, contact_id: int) -> list[Subscription]:
    rows = session.scalars(select(Subscription).where(Subscription.contact_id == contact_id)).all()
    return sorted(rows, key=lambda s: TOPICS.index(s.topic) if s.topic in TOPICS else len(TOPICS))


def current_plan(session: Session, contact: Contact) -> Plan | None:
    """The person's subscriptions as a plan; None when they get no alerts."""
    rows = subscriptions_of(session, contact.id)
    if not rows:
        return None
    return Plan(tuple(r.topic for r in rows), rows[0].jurisdiction_id, rows[0].channel, rows[0].language)


def apply(
    session: Session, contact: Contact, plan: Plan, *, action: str, source: str, text: str | None,
    at: datetime | None = None,
) -> None:
    """Make the person's subscriptions exactly `plan`, and record the consent behind it."""
    now = at or utcnow()
    existing = {s.topic: s for s in subscriptions_of(session, contact.id)}
    for topic, row in existing.items():
        if topic not in plan.topics:
            session.delete(row)
    for topic in plan.topics:
        found = existing.get(topic)
        row = found if found is not None else Subscription(contact_id=contact.id, topic=topic, created_at=now)
        if found is None:
            session.add(row)
        row.jurisdiction_id, row.channel, row.language, row.updated_at = (
            plan.jurisdiction_id, plan.channel, plan.language, now)
    session.add(ConsentRecord(
        contact_id=contact.id, action=action, recorded_at=now, channel=plan.channel, source=source,
        language=plan.language, text=text, topics=list(plan.topics), jurisdiction_id=plan.jurisdiction_id,
    ))
    session.flush()


def leave(
    session: Session, contact: Contact, topics: Sequence[str], channel: str, language: str
) -> list[str]:
    """Stop the named topics; returns the ones the person had. Recorded as a consent taken back."""
    rows = [s for s in subscriptions_of(session, contact.id) if s.topic in topics]
    if not rows:
        return []
    for row in rows:
        session.delete(row)
    left = [r.topic for r in rows]
    session.add(ConsentRecord(
        contact_id=contact.id, action="leave", recorded_at=utcnow(), channel=channel, source="text",
        language=language, text=None, topics=left, jurisdiction_id=rows[0].jurisdiction_id,
    ))
    session.flush()
    return left


def set_language(session: Session, contact: Contact, language: str, *, chosen: bool = False) -> None:
    """The person's language from now on; their alerts follow it. A chosen one is never changed for them."""
    contact.language = language
    if chosen:
        contact.language_source = "chosen"
    for row in subscriptions_of(session, contact.id):
        row.language = language


def is_suppressed(session: Session, *phone_hashes: str) -> bool:
    """Whether the number is suppressed: pass its hash under each configured key
    (`Vault.phone_hashes`), so an entry not yet moved by a key rotation still counts."""
    found = session.scalar(select(Suppression.id).where(Suppression.phone_hash.in_(phone_hashes)).limit(1))
    return found is not None


def lift_suppression(session: Session, *phone_hashes: str) -> None:
    """The person signed up again by text: the one thing that lifts their erasure's suppression."""
    session.execute(delete(Suppression).where(Suppression.phone_hash.in_(phone_hashes)))
