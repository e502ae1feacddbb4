"""Dashboard users, login attempts and the audit log.

No column holds a phone number or a message body. A login attempt keeps keyed hashes of
the account and the address it came from (never the address itself), and only for as
long as throttling needs it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base
from puente.models import utcnow


class User(Base):
    """A coordinator, viewer or admin of the dashboard."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased: one account per address, however it is typed.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: argon2id, in argon2's own encoded form (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    #: The dashboard's language the user chose (None: the browser's cookie, then its languages).
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """One failed (or throttled) login, by account and by address: what throttling counts."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "account" or "address".
    scope: Mapped[str] = mapped_column(String(8))
    #: A keyed hash of the e-mail or the client's address (see accounts.service).
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class AuditEntry(Base):
    """Who did what, when: logins, edits, imports, exports, broadcasts, a number revealed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    #: The user's id (None: the CLI, or an unknown account that failed to log in).
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: Who it was, as they were then: an e-mail, or "cli". Kept when the user is removed.
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(32), index=True)
    #: What it was done to: "hearings/ca-x-2027", "broadcast 12", "contact 7". Never a number.
    target: Mapped[str | None] = mapped_column(String(200))
    #: Counts and ids; never a phone number or a message body.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Whether it succeeded (a refused login is recorded too).
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
