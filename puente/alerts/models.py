"""Subscriptions, consent records and suppression entries.

No column holds a phone number in plaintext: a suppression entry keeps the number
as contacts do (encrypted, found by keyed hash). Consent records keep the exact text
the person agreed to, in their language: that text is Puente's own, never theirs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base
from puente.models import utcnow

#: The kinds of alerts a person may get (CONTRACTS.md "Topics for alerts").
TOPICS = ("hearings", "mobilization", "policy_updates", "clinics")


class Subscription(Base):
    """One topic a person gets alerts about, for one place, over one channel, in one language."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("contact_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(32))
    #: A directory jurisdiction's id: alerts for it and every place within it reach the person.
    jurisdiction_id: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # "sms" or "whatsapp"
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsentRecord(Base):
    """What a person agreed to (or took back), when, over which channel, and the exact words."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    #: "subscribe" (by text), "import" (a coalition's list), "leave" (a topic taken back).
    action: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))
    #: "text" for a sign-up by text; for an import, the file's consent_source.
    source: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    #: The exact text the person agreed to, as sent to them (None for an import).
    text: Mapped[str | None] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JSON)
    jurisdiction_id: Mapped[str | None] = mapped_column(String(100))


class Suppression(Base):
    """Someone who asked to be erased: only their number, encrypted and hashed as contacts are.

    No import or broadcast reaches a suppressed number. Only the person's own sign-up
    by text lifts it.
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: The fingerprint of the key behind both (`Vault.key_id`); None for rows older than key ids.
    key_id: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
