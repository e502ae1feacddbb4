"""Contacts: found by the keyed hash of their number, never by the number itself."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puente.db import Database
from puente.models import Contact, utcnow
from puente.privacy import Address, Vault, new_pseudonym


@dataclass(frozen=True)
class ContactRef:
    """What the conversation needs of a contact, outside any session."""

    id: int
    pseudonym: str
    language: str
    language_source: str
    opted_out: bool
    is_new: bool


def find_contact(session: Session, vault: Vault, phone: str) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.phone_hash == vault.phone_hash(phone))).first()


def get_or_create_contact(
    database: Database, vault: Vault, address: Address, language: str
) -> ContactRef:
    """The contact for `address`, created with `language` if new; records the inbound time.

    Two first messages from one number may race: the unique hash lets one insert
    win, and the other reads what it wrote.
    """
    for _ in range(2):
        try:
            with database.session() as session:
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
                contact.channel = address.channel
                contact.last_inbound_at = utcnow()
                session.flush()
                return ContactRef(
                    id=contact.id,
                    pseudonym=contact.pseudonym,
                    language=contact.language,
                    language_source=contact.language_source,
                    opted_out=contact.opted_out_at is not None,
                    is_new=is_new,
                )
        except IntegrityError:
            continue
    raise RuntimeError("could not create or find the contact")


def set_language(session: Session, contact_id: int, language: str, source: str) -> None:
    """Record a contact's language; `source` is "chosen" when they asked for it."""
    contact = session.get(Contact, contact_id)
    if contact is not None:
        contact.language = language
        contact.language_source = source


def set_language_by_pseudonym(database: Database, pseudonym: str, language: str) -> bool:
    """The action server's way in: it knows a person only by their Rasa sender id."""
    with database.session() as session:
        contact = session.scalars(select(Contact).where(Contact.pseudonym == pseudonym)).first()
        if contact is None:
            return False
        contact.language = language
        contact.language_source = "chosen"
        return True


def set_opted_out(session: Session, contact_id: int, opted_out: bool) -> None:
    contact = session.get(Contact, contact_id)
    if contact is None:
        return
    if opted_out and contact.opted_out_at is None:
        contact.opted_out_at = utcnow()
    elif not opted_out:
        contact.opted_out_at = None
