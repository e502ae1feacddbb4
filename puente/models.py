"""Typed SQLAlchemy models. No column holds a phone number or a message body in plaintext."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contact(Base):
    """A person who texts Puente, addressed by phone number on SMS or WhatsApp."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Keyed hash of the E.164 number: how an inbound message finds its contact.
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The number itself, encrypted (Fernet); decrypted only to send a message. None
    #: for someone known only by hash: their STOP was kept while the database was down
    #: (see puente.optout_spool), before Puente had ever stored their number.
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The fingerprint of the key behind phone_hash and phone_encrypted (`Vault.key_id`); None
    #: for rows written before key ids existed, and for a hash-only row whose key is unknown.
    key_id: Mapped[str | None] = mapped_column(String(12))
    #: The sender id Rasa knows this person by: random, not derived from the number.
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)
    language: Mapped[str] = mapped_column(String(16))
    #: "detected" from their texts, "imported" from a coalition's list (their texts may move
    #: either), or "chosen" by them (then never changed for them).
    language_source: Mapped[str] = mapped_column(String(16), default="detected")
    #: Another language one clear message was written in: a second one in it switches.
    language_candidate: Mapped[str | None] = mapped_column(String(16))
    #: The channel of their last inbound message: "sms" or "whatsapp" (None: known only by hash).
    channel: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Set by STOP (and its synonyms), cleared by START.
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: "twilio" when Twilio's own keyword handling answered the STOP (TWILIO_ANSWERS_KEYWORDS):
    #: then only Twilio's start words lift it, as only they lift Twilio's block. Else "puente".
    opted_out_via: Mapped[str | None] = mapped_column(String(16))


class InboundMessage(Base):
    """One inbound message's metadata: never its body, never the number it came from."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Keyed hash of Twilio's MessageSid; unique, so a redelivery is processed once.
    message_sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    #: How it was answered: a `puente.conversation.Route`.
    route: Mapped[str] = mapped_column(String(16), default="received")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ContactChannel(Base):
    """When a person last wrote on each channel: WhatsApp allows free-form messages only within
    24 hours of it, so sending must know."""

    __tablename__ = "contact_channels"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_inbound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
