"""The audit log: who logged in, edited, imported, exported, sent or revealed what, and when.

An entry names ids and counts, never a phone number or a message body: `record` masks
anything number-shaped in what it is given, as the log filter does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.accounts.models import AuditEntry
from puente.logs import PHONE_LIKE


class Action(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    USER_ADDED = "user_added"
    USER_REMOVED = "user_removed"
    DIRECTORY_EDITED = "directory_edited"
    DIRECTORY_IMPORTED = "directory_imported"
    DIRECTORY_IMPORT_REFUSED = "directory_import_refused"
    DIRECTORY_EXPORTED = "directory_exported"
    HEARING_SAVED = "hearing_saved"
    HEARING_CANCELLED = "hearing_cancelled"
    BROADCAST_CREATED = "broadcast_created"
    BROADCAST_TEST_SENT = "broadcast_test_sent"
    BROADCAST_CANCELLED = "broadcast_cancelled"
    NUMBER_REVEALED = "number_revealed"


@dataclass(frozen=True)
class Actor:
    """Who acts: a dashboard user, or the command line."""

    user_id: int | None
    name: str


CLI = Actor(None, "cli")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return PHONE_LIKE.sub("[number]", value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def record(
    session: Session,
    actor: Actor,
    action: Action,
    now: datetime,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    ok: bool = True,
) -> AuditEntry:
    """Add an entry to the log, in the caller's transaction (it stands or falls with the change)."""
    entry = AuditEntry(
        at=now,
        user_id=actor.user_id,
        actor=actor.name,
        action=action.value,
        target=_clean(target) if target else None,
        detail=_clean(detail or {}),
        ok=ok,
    )
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
