"""DELETE: erase a person completely, keeping only what stops them being signed up again.

Erased: the contact (their encrypted number, pseudonym, language), their subscriptions
and consent records, their RSVPs and outbox copies (by foreign key: their broadcast
deliveries stay counted, with no link to them), their open question and waiting pages,
when they last wrote on each channel, their message-log entries, and Rasa's tracker
events for their sender id (the tracker store shares Puente's database). Kept: one
suppression entry, the number encrypted and hashed as contacts are, so that no import or
broadcast reaches them again. Only their own sign-up by text lifts it.
"""

from __future__ import annotations

from sqlalchemy import delete, inspect, select, text
from sqlalchemy.orm import Session

from puente.alerts.models import ConsentRecord, Subscription, Suppression
from puente.messaging.paging import PendingPages
from puente.models import Contact, ContactChannel, InboundMessage, utcnow
from puente.privacy import Vault
from puente.questions import OpenQuestion

#: Rasa's SQL tracker store keeps a conversation's events here, by sender id.
TRACKER_TABLE = "events"


def erase(session: Session, vault: Vault, contact: Contact, phone: str) -> None:
    """Erase `contact` (who texts from `phone`) and suppress the number."""
    contact_id = contact.id
    for model in (Subscription, ConsentRecord, OpenQuestion, PendingPages, ContactChannel):
        session.execute(delete(model).where(model.contact_id == contact_id))
    session.execute(delete(InboundMessage).where(InboundMessage.contact_id == contact_id))
    erase_tracker(session, contact.pseudonym)
    suppress(session, vault, phone)
    session.delete(contact)
    session.flush()


def erase_tracker(session: Session, sender_id: str) -> int:
    """Delete Rasa's events for `sender_id`; returns how many went (0 before Rasa ever ran)."""
    if not inspect(session.connection()).has_table(TRACKER_TABLE):
        return 0
    result = session.execute(text("DELETE FROM events WHERE sender_id = :sender"), {"sender": sender_id})
    return int(getattr(result, "rowcount", 0) or 0)


def suppress(session: Session, vault: Vault, phone: str) -> None:
    """Keep `phone` suppressed, hashed and encrypted under the current key (an entry under the
    previous key, during a rotation, moves to it)."""
    hashes = vault.phone_hashes(phone)
    entry = session.scalars(select(Suppression).where(Suppression.phone_hash.in_(hashes))).first()
    if entry is None:
        entry = Suppression(created_at=utcnow())
        session.add(entry)
    elif entry.key_id == vault.key_id:
        return
    entry.phone_hash, entry.phone_encrypted, entry.key_id = hashes[0], vault.encrypt(phone), vault.key_id
