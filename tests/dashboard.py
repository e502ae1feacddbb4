"""Shared by the dashboard's integration and browser tests: users, subscribers, a form's CSRF token.

Fictional numbers only (area code 805, 555-0157…0159 and 555-0164…0170), used nowhere else in tests/.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from puente import contacts
from puente.accounts import service
from puente.alerts import subscriptions
from puente.broadcasts.models import Broadcast, Kind, Rsvp, Status
from puente.models import utcnow
from puente.privacy import Address
from puente.services import Services

PASSWORD = "correct horse battery staple"
ADMIN, COORDINATOR, VIEWER = "admin@example.org", "coordinator@example.org", "viewer@example.org"
USERS = {ADMIN: "admin", COORDINATOR: "coordinator", VIEWER: "viewer"}

#: (number, language, channel): subscribers of hearings and mobilization in San José.
PEOPLE = (
    ("+18055550157", "en", "sms"),
    ("+18055550158", "es", "sms"),
    ("+18055550159", "es", "sms"),
    ("+18055550164", "zh_Hans", "sms"),
    ("+18055550165", "en", "sms"),
    ("+18055550166", "es", "whatsapp"),
)
#: Numbers typed into the dashboard (a test send), never subscribers.
TEST_SEND_TO = "+18055550170"
ALL_NUMBERS = (*(p for p, _lang, _ch in PEOPLE), TEST_SEND_TO)


def number_forms(e164: str) -> list[str]:
    """Every way a page could show a US number in full."""
    digits = e164[2:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return [
        e164,
        digits,
        f"{area}-{exchange}-{line}",
        f"({area}) {exchange}-{line}",
        f"{area} {exchange} {line}",
        f"{exchange}-{line}",
        f"{exchange} {line}",
        f"{exchange}{line}",
    ]


def add_users(services: Services) -> None:
    with services.database.session(timeout=60) as session:  # three argon2 hashes on a busy machine
        for email, role in USERS.items():
            service.add_user(session, email, role, PASSWORD, utcnow())


def add_people(services: Services, place: str = "ca-san-jose", wrote_at: datetime | None = None) -> list[int]:
    """The PEOPLE, subscribed to hearings and mobilization in `place`; their contact ids."""
    ids = []
    with services.database.session() as session:
        for phone, language, channel in PEOPLE:
            contact, _new = contacts.get_or_create_contact(
                session, services.vault, Address(channel, phone), language
            )
            subscriptions.apply(
                session,
                contact,
                subscriptions.Plan(("hearings", "mobilization"), place, channel, language),
                action="import",
                source="test list",
                text=None,
                at=wrote_at or utcnow(),
            )
            ids.append(contact.id)
    return ids


def add_rsvp_alert(services: Services, contact_ids: list[int]) -> int:
    """A mobilization alert that asked YES/NO, answered yes by the first two and no by the third."""
    now = utcnow()
    with services.database.session() as session:
        alert = Broadcast(
            kind=Kind.BROADCAST.value,
            purpose="mobilization",
            topics=["mobilization"],
            texts={"en": "Rally Friday at noon"},
            status=Status.DONE.value,
            scheduled_at=now,
            urgent=False,
            recipients=len(contact_ids),
            created_by="test",
            created_at=now,
            rsvp_until=now,
        )
        session.add(alert)
        session.flush()
        for contact_id, answer in zip(contact_ids[:3], ("yes", "yes", "no"), strict=True):
            session.add(Rsvp(broadcast_id=alert.id, contact_id=contact_id, answer=answer, answered_at=now))
        return alert.id


def broadcast_ids(services: Services) -> list[int]:
    with services.database.session() as session:
        return list(session.scalars(select(Broadcast.id).order_by(Broadcast.id)))


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)
