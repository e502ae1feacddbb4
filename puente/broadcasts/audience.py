"""Who receives a broadcast: one helper, used when it is planned, resolved and sent.

The audience is the subscribers of any of the broadcast's topics whose place is the
broadcast's jurisdiction, a place within it, or a place around it (a subscription to a
county is a subscription to the county's cities: see `puente.alerts.models.Subscription`),
optionally only those reading one language. Never anyone opted out, erased (they have no
contact) or suppressed, and never a contact known only by hash (no number to send to).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from puente.alerts.models import Subscription, Suppression
from puente.directory.models import Jurisdiction
from puente.models import Contact

DEFAULT_TIMEZONE = "America/Los_Angeles"


def places_reached(session: Session, jurisdiction_id: str) -> list[str]:
    """`jurisdiction_id`, every place within it (at any depth) and every place around it."""
    parent_of = dict(session.execute(select(Jurisdiction.id, Jurisdiction.within_id)).tuples().all())
    children: dict[str, list[str]] = {}
    for child, parent in parent_of.items():
        if parent:
            children.setdefault(parent, []).append(child)
    reached = {jurisdiction_id}
    stack = [jurisdiction_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in reached:
                reached.add(child)
                stack.append(child)
    parent = parent_of.get(jurisdiction_id)
    while parent and parent not in reached:
        reached.add(parent)
        parent = parent_of.get(parent)
    return sorted(reached)


def language_codes(language: str | None) -> list[str] | None:
    """The contact languages a language filter takes: `zh` both Chinese scripts."""
    if language is None:
        return None
    return ["zh_Hans", "zh_Hant"] if language == "zh" else [language]


@dataclass(frozen=True)
class Audience:
    topics: tuple[str, ...]
    #: None: every place.
    places: tuple[str, ...] | None
    languages: tuple[str, ...] | None

    @classmethod
    def of(
        cls, session: Session, topics: Sequence[str], jurisdiction_id: str | None, language: str | None
    ) -> Audience:
        places = tuple(places_reached(session, jurisdiction_id)) if jurisdiction_id else None
        codes = language_codes(language)
        return cls(tuple(topics), places, tuple(codes) if codes else None)

    def _conditions(self) -> list[object]:
        conditions: list[object] = [
            Subscription.topic.in_(self.topics),
            Contact.opted_out_at.is_(None),
            Contact.phone_encrypted.is_not(None),
            not_(exists().where(Suppression.phone_hash == Contact.phone_hash)),
        ]
        if self.places is not None:
            conditions.append(Subscription.jurisdiction_id.in_(self.places))
        if self.languages is not None:
            conditions.append(Contact.language.in_(self.languages))
        return conditions

    def rows(self) -> Select[tuple[int, str, str, str]]:
        """(contact id, channel, language, time zone), one row per person, by contact id."""
        return (
            select(
                Contact.id,
                func.min(Subscription.channel),
                Contact.language,
                func.min(func.coalesce(Jurisdiction.timezone, DEFAULT_TIMEZONE)),
            )
            .join(Subscription, Subscription.contact_id == Contact.id)
            .outerjoin(Jurisdiction, Jurisdiction.id == Subscription.jurisdiction_id)
            .where(and_(*self._conditions()))  # type: ignore[arg-type]
            .group_by(Contact.id)  # language depends on it (the key): no sort of every remaining row
            .order_by(Contact.id)
        )

    def count(self, session: Session) -> int:
        people = (
            select(Contact.id)
            .join(Subscription, Subscription.contact_id == Contact.id)
            .where(and_(*self._conditions()))  # type: ignore[arg-type]
            .distinct()
            .subquery()
        )
        return int(session.scalar(select(func.count()).select_from(people)) or 0)

    def by_language_and_channel(self, session: Session) -> dict[tuple[str, str], int]:
        people = self.rows().subquery()
        columns = list(people.c)
        query = select(columns[2], columns[1], func.count()).group_by(columns[2], columns[1])
        return {(str(lang), str(channel)): int(n) for lang, channel, n in session.execute(query).tuples()}

    def batches(self, session: Session, size: int) -> Iterator[list[tuple[int, str, str, str]]]:
        """The audience in batches of `size`, by contact id: streamed, never held whole."""
        last = 0
        while True:
            query = self.rows().where(Contact.id > last).limit(size)
            batch = [(int(a), str(b), str(c), str(d)) for a, b, c, d in session.execute(query).tuples()]
            if not batch:
                return
            yield batch
            last = batch[-1][0]


def still_receives(session: Session, topics: Sequence[str], contact_ids: Sequence[int]) -> set[int]:
    """Of `contact_ids`, those who may still receive a broadcast on `topics`, checked at sending:
    not opted out, not erased, not suppressed, still subscribed to one of the topics."""
    if not contact_ids:
        return set()
    query = (
        select(Contact.id)
        .where(Contact.id.in_(contact_ids))
        .where(Contact.opted_out_at.is_(None), Contact.phone_encrypted.is_not(None))
        .where(not_(exists().where(Suppression.phone_hash == Contact.phone_hash)))
        .where(
            or_(
                *(
                    exists().where(Subscription.contact_id == Contact.id, Subscription.topic == t)
                    for t in topics
                )
            )
        )
    )
    return {int(i) for i in session.scalars(query)}
