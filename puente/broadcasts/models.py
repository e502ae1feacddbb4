"""Broadcasts and their deliveries: one row per (broadcast, recipient), the idempotency key.

A delivery row is written before anything is sent and moves through its states with
conditional updates (`queued` → `sending` → `sent` → `delivered`, or `failed`, `unknown`,
`skipped` with a reason), so a crash, a retry or a second worker never sends twice. No
column holds a phone number: a delivery names its contact; the outbox keeps the number
encrypted, as contacts do.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base
from puente.models import utcnow


class Kind(StrEnum):
    BROADCAST = "broadcast"  # written by a coordinator
    REMINDER = "reminder"  # before a hearing, from the directory
    NOTICE = "notice"  # a hearing moved or was cancelled, to those already reminded
    TEST = "test"  # `--test-to`: one number, nobody else


class Status(StrEnum):
    SCHEDULED = "scheduled"  # waits for its time (`--at`)
    RESOLVING = "resolving"  # its audience is being written as deliveries
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class State(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker: the request may be in flight
    SENT = "sent"  # Twilio accepted it (or the outbox took it)
    DELIVERED = "delivered"
    FAILED = "failed"  # with Twilio's error code
    UNKNOWN = "unknown"  # may or may not have gone: listed for the coordinator, never resent
    SKIPPED = "skipped"  # with a reason


#: States a delivery never leaves (a status callback may still turn sent into delivered).
FINAL = frozenset({State.SENT, State.DELIVERED, State.FAILED, State.UNKNOWN, State.SKIPPED})


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=Kind.BROADCAST.value)
    #: What the WhatsApp template is chosen by: broadcast, mobilization, reminder, notice.
    purpose: Mapped[str] = mapped_column(String(16))
    #: Subscribers of any of these topics receive it.
    topics: Mapped[list[str]] = mapped_column(JSON)
    #: None: every place. Otherwise this place, the places within it and the places around it.
    jurisdiction_id: Mapped[str | None] = mapped_column(String(100))
    #: Only people reading this language (None: everyone; `zh` takes both scripts).
    language: Mapped[str | None] = mapped_column(String(16))
    #: The coordinator's text per language (`en` always); reminders are written from the hearing.
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=Status.SCHEDULED.value, index=True)
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    #: Sent through quiet hours (`--urgent`); each delivery that was notes it.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Answers YES/NO count until then (`--rsvp HOURS`); None: no RSVP asked.
    rsvp_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Reminders and notices: the hearing, the start they were written for, and which one
    #: ("P1D", "moved", "cancelled"). `key` makes each exist once, whoever runs the reminders.
    hearing_id: Mapped[str | None] = mapped_column(String(100), index=True)
    hearing_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminder: Mapped[str | None] = mapped_column(String(16))
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    #: Who made it: "cli", a dashboard user's id, "reminders".
    created_by: Mapped[str] = mapped_column(String(100), default="cli")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When a batch was last claimed: the tick starts a send chain only when none has been busy lately.
    active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One broadcast to one person: (broadcast_id, contact_id) is unique, the idempotency key."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "contact_id"),
        Index("ix_deliveries_work", "broadcast_id", "state", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    #: None once the person is erased (the count stays; nothing about them does), and for a test send.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    #: The recipient's place's time zone: quiet hours are theirs.
    timezone: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default=State.QUEUED.value)
    #: Why it was skipped (opted_out, erased, quiet_hours while it waits, no_template, expired, …).
    reason: Mapped[str | None] = mapped_column(String(32))
    #: What else is worth knowing: "en_fallback" (no text in their language), "urgent_override".
    note: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[int | None] = mapped_column(Integer)
    message_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not sent before this (quiet hours, a retry's backoff).
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Who claimed it ("host:pid:batch") and when: a claim whose worker died is reconciled.
    claimed_by: Mapped[str | None] = mapped_column(String(120), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Until when the claim holds: the batch's last slot plus a request's timeout. No message of
    #: the batch starts after it, and no one else settles the row before it (an uncertain send:
    #: its record time plus the grace). Then the row is reconciled.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Rsvp(Base):
    """A person's answer to a mobilization alert: the latest one counts."""

    __tablename__ = "rsvps"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    answer: Mapped[str] = mapped_column(String(3))  # "yes" or "no"
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxMessage(Base):
    """A message Puente would have sent, kept instead when no Twilio credentials are set.

    The number is encrypted as a contact's is; its last digits are kept for display.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    #: Whose number it is: erasing the person deletes it (None for a test send).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    to_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    to_last_digits: Mapped[str] = mapped_column(String(4))
    body: Mapped[str | None] = mapped_column(Text)
    content_sid: Mapped[str | None] = mapped_column(String(40))
    content_variables: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SendPace(Base):
    """The send rate, shared by every worker: when the sender may next start a message.

    A worker reserves a whole batch's time at once (one write per batch, not per message)
    and paces its messages inside the slot it got.
    """

    __tablename__ = "send_pace"

    sender: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: Seconds since the epoch.
    next_free_at: Mapped[float] = mapped_column(Float, default=0.0)


class EarlyStatus(Base):
    """A status callback that came before its send was recorded (the answer and the callback
    race): applied as soon as the delivery gets its MessageSid, forgotten after a day."""

    __tablename__ = "early_statuses"

    message_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
