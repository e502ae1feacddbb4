"""Contacts: found by the keyed hash of their number, never by the number itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.models import Contact, ContactChannel, utcnow
from puente.privacy import Address, Vault, new_pseudonym


def find_contact(session: Session, vault: Vault, phone: str) -> Contact | None:
    return find_by_hash(session, vault.phone_hash(phone))


def find_by_hash(session: Session, phone_hash: str) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.phone_hash == phone_hash)).first()


def get_or_create_contact(
    session: Session, vault: Vault, address: Address, language: str
) -> tuple[Contact, bool]:
    """The contact for `address` (created with `language` if new) and whether it is new.

    Records the channel and time of this inbound message. Two first messages from
    one number may race: the unique hash makes one insert fail at flush, and the
    caller retries in a new transaction, which then finds the contact.
    """
    contact = find_contact(session, vault, address.phone)
    is_new = contact is None
    if contact is None:
        contact = Contact(
            phone_hash=vault.phone_hash(address.phone),
            phone_encrypted=vault.encrypt(address.phone),
            pseudonym=new_pseudonym(),
            language=language,
            language_source="detected",
            channel=address.channel,
            created_at=utcnow(),
        )
        session.add(contact)
    elif contact.phone_encrypted is None:  # known only by hash until now (an opt-out kept in the spool)
        contact.phone_encrypted = vault.encrypt(address.phone)
    contact.channel = address.channel
    contact.last_inbound_at = utcnow()
    session.flush()
    record_channel(session, contact, address.channel, contact.last_inbound_at)
    return contact, is_new


def set_opted_out(contact: Contact, opted_out: bool) -> None:
    if opted_out and contact.opted_out_at is None:
        contact.opted_out_at = utcnow()
    elif not opted_out:
        contact.opted_out_at = None


def opt_out_by_hash(session: Session, phone_hash: str, language: str, at: datetime) -> bool:
    """Record an opt-out sent at `at` by whoever has the number behind `phone_hash`.

    For opt-outs kept while the database was down, which hold no number. Someone
    Puente has not met yet becomes a contact known only by hash, opted out: the
    number is filled in if they ever text again. An earlier opt-out keeps its time.
    Returns whether the contact is new.
    """
    contact = find_by_hash(session, phone_hash)
    if contact is None:
        session.add(
            Contact(
                phone_hash=phone_hash,
                phone_encrypted=None,
                pseudonym=new_pseudonym(),
                language=language,
                language_source="detected",
                channel=None,
                created_at=at,
                last_inbound_at=at,
                opted_out_at=at,
            )
        )
        session.flush()
        return True
    if contact.opted_out_at is None:
        contact.opted_out_at = at
    return False


def find_by_pseudonym(session: Session, pseudonym: str) -> Contact | None:
    """The contact Rasa knows as `pseudonym` (the action server knows people by no other name)."""
    return session.scalars(select(Contact).where(Contact.pseudonym == pseudonym)).first()


def record_channel(session: Session, contact: Contact, channel: str, at: datetime) -> None:
    """When the person last wrote on `channel` (WhatsApp's 24-hour window starts there)."""
    row = session.get(ContactChannel, (contact.id, channel))
    if row is None:
        session.add(ContactChannel(contact_id=contact.id, channel=channel, last_inbound_at=at))
    else:
        row.last_inbound_at = at
