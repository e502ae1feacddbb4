"""Contacts: found by the keyed hash of their number, never by the number itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.db import as_utc
from puente.models import Contact, ContactChannel, utcnow
from puente.privacy import Address, Vault, new_pseudonym


def find_contact(session: Session, vault: Vault, phone: str) -> Contact | None:
    """The contact who texts from `phone`: hashed under the current key or, during a key
    rotation, under the previous one (a row `puente keys rotate` has not reached yet)."""
    found = _by_hashes(session, vault.phone_hashes(phone))
    return found[0] if found else None


def find_by_hash(session: Session, phone_hash: str) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.phone_hash == phone_hash)).first()


def _by_hashes(session: Session, phone_hashes: Sequence[str]) -> list[Contact]:
    """The contacts holding any of `phone_hashes` (one, but for a rare duplicate: see
    `absorb_duplicate`): rows with a number first, then in the order of `phone_hashes`."""
    rows = session.scalars(select(Contact).where(Contact.phone_hash.in_(phone_hashes))).all()
    return sorted(rows, key=lambda c: (c.phone_encrypted is None, phone_hashes.index(c.phone_hash)))


def get_or_create_contact(
    session: Session, vault: Vault, address: Address, language: str
) -> tuple[Contact, bool]:
    """The contact for `address` (created with `language` if new) and whether it is new.

    Records the channel and time of this inbound message. Two first messages from
    one number may race: the unique hash makes one insert fail at flush, and the
    caller retries in a new transaction, which then finds the contact. A contact found
    under the previous key (during a rotation), or known only by hash, is moved to the
    current key here: the number is at hand.
    """
    found = _by_hashes(session, vault.phone_hashes(address.phone))
    contact = found[0] if found else None
    if contact is not None:
        for duplicate in found[1:]:
            absorb_duplicate(session, contact, duplicate)
    is_new = contact is None
    if contact is None:
        contact = Contact(
            phone_hash=vault.phone_hash(address.phone),
            phone_encrypted=vault.encrypt(address.phone),
            key_id=vault.key_id,
            pseudonym=new_pseudonym(),
            language=language,
            language_source="detected",
            channel=address.channel,
            created_at=utcnow(),
        )
        session.add(contact)
    elif contact.phone_encrypted is None or contact.key_id != vault.key_id:
        # Known only by hash until now (an opt-out kept in the spool), or under the previous key.
        contact.phone_hash = vault.phone_hash(address.phone)
        contact.phone_encrypted = vault.encrypt(address.phone)
        contact.key_id = vault.key_id
    previous_channel, previous_at = contact.channel, contact.last_inbound_at
    contact.channel = address.channel
    contact.last_inbound_at = utcnow()
    session.flush()
    if is_new or previous_channel != address.channel or previous_at is None or (
            contact.last_inbound_at - as_utc(previous_at) > CHANNEL_TIME_PRECISION):
        record_channel(session, contact, address.channel, contact.last_inbound_at)
    return contact, is_new


def absorb_duplicate(session: Session, contact: Contact, duplicate: Contact) -> bool:
    """One person, two rows: `contact`, and `duplicate` under another key's hash of the same number.

    It happens only when an opt-out spooled under the previous key is applied after the
    person's row moved to the current key: the spool holds no number to find them by, so
    the opt-out became a row of its own, known only by hash. The opt-out moves to
    `contact` (a STOP is never lost) and that row goes. A duplicate that holds a number is
    left alone (returns False): only a person can say which row is theirs.
    """
    if duplicate.opted_out_at is not None and (
        contact.opted_out_at is None or as_utc(duplicate.opted_out_at) < as_utc(contact.opted_out_at)
    ):
        contact.opted_out_at = duplicate.opted_out_at
    if duplicate.phone_encrypted is not None:
        return False
    session.delete(duplicate)
    session.flush()
    return True


def set_opted_out(contact: Contact, opted_out: bool, via: str = "puente") -> None:
    if opted_out and contact.opted_out_at is None:
        contact.opted_out_at, contact.opted_out_via = utcnow(), via
    elif not opted_out:
        contact.opted_out_at, contact.opted_out_via = None, None


def opt_out_by_hash(
    session: Session, phone_hash: str, language: str, at: datetime, *,
    key_id: str | None = None, also: Sequence[str] = (),
) -> bool:
    """Record an opt-out sent at `at` by whoever has the number behind `phone_hash`.

    For opt-outs kept while the database was down, which hold no number. `phone_hash` is
    under the key `key_id` (None: unknown); `also`, the same number's hashes under other
    keys (the previous one, during a key rotation). Someone Puente has not met yet becomes
    a contact known only by hash, opted out: the number is filled in if they ever text
    again. An earlier opt-out keeps its time. Returns whether the contact is new.
    """
    found = _by_hashes(session, [phone_hash, *also])
    if not found:
        session.add(
            Contact(
                phone_hash=phone_hash,
                phone_encrypted=None,
                key_id=key_id,
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
    for contact in found:
        if contact.opted_out_at is None:
            contact.opted_out_at = at
    return False


def find_by_pseudonym(session: Session, pseudonym: str) -> Contact | None:
    """The contact Rasa knows as `pseudonym` (the action server knows people by no other name)."""
    return session.scalars(select(Contact).where(Contact.pseudonym == pseudonym)).first()


#: `contact_channels` is written again only when the person's last text on the channel is older
#: than this: a conversation's burst of texts costs one write, and the time kept for WhatsApp's
#: 24-hour window is early by at most this much (so the window is never thought open too long).
CHANNEL_TIME_PRECISION = timedelta(minutes=5)


def record_channel(session: Session, contact: Contact, channel: str, at: datetime) -> None:
    """When the person last wrote on `channel` (WhatsApp's 24-hour window starts there)."""
    row = session.get(ContactChannel, (contact.id, channel))
    if row is None:
        session.add(ContactChannel(contact_id=contact.id, channel=channel, last_inbound_at=at))
    else:
        row.last_inbound_at = at
