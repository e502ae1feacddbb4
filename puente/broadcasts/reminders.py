"""Hearing reminders: a broadcast per hearing and offset, created once, whoever runs them.

Each scheduled hearing has offsets before its start (its `reminders`, default P7D, P1D,
PT2H). At any moment, only the latest offset that is due counts: a reminder that is
overdue when a later one is already due is never sent late. Each reminder is a
broadcast with a unique key (hearing, start time, offset), so `puente reminders run`
may run any number of times, on any number of workers, and create each once.

A hearing that moves gets reminders for its new start (a new key). People who were
reminded of its old start get one notice saying it moved, or that it is cancelled; and
reminders of the old start that have not gone yet are skipped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puente.broadcasts.models import Broadcast, Delivery, Kind, State, Status
from puente.db import as_utc
from puente.directory.models import Hearing
from puente.directory.schema import HearingStatus

logger = logging.getLogger(__name__)

DEFAULT_OFFSETS = ("P7D", "P1D", "PT2H")
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes, seconds (P7D, PT2H, P1DT12H)."""
    match = _DURATION.fullmatch(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P7D or PT2H")
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


@dataclass
class Run:
    created: list[int] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)
    #: Reminders of a moved or cancelled hearing's old start that were stopped.
    stopped: int = 0


def due_offset(hearing: Hearing, now: datetime) -> str | None:
    """The latest of the hearing's reminders that is due at `now`; None when none is, or it has started."""
    starts = as_utc(hearing.starts_at)
    if now >= starts:
        return None
    due = [
        (starts - duration(o), o)
        for o in (hearing.reminders or DEFAULT_OFFSETS)
        if starts - duration(o) <= now
    ]
    return max(due)[1] if due else None


def reminder_key(hearing_id: str, starts_at: datetime, offset: str) -> str:
    return f"reminder:{hearing_id}:{as_utc(starts_at).strftime('%Y%m%dT%H%M%SZ')}:{offset}"


def _for_hearing(
    hearing: Hearing, kind: Kind, starts_at: datetime, which: str, key: str, now: datetime
) -> Broadcast:
    """A reminder or a notice of `hearing` (for its start `starts_at`), scheduled now."""
    return Broadcast(
        kind=kind.value,
        purpose=kind.value,
        topics=list(hearing.topics or ["hearings"]),
        jurisdiction_id=hearing.jurisdiction_id,
        texts={},
        status=Status.SCHEDULED.value,
        scheduled_at=now,
        urgent=False,
        hearing_id=hearing.id,
        hearing_starts_at=starts_at,
        reminder=which,
        key=key,
        created_by="reminders",
        created_at=now,
        recipients=0,
    )


def _add_once(session: Session, broadcast: Broadcast) -> bool:
    """Insert `broadcast` unless its key exists (another run made it): True when added."""
    if session.scalar(select(exists().where(Broadcast.key == broadcast.key))):
        return False
    try:
        with session.begin_nested():
            session.add(broadcast)
            session.flush()
    except IntegrityError:
        return False
    return True


def run(session: Session, now: datetime) -> Run:
    """Create the reminders and notices due at `now` (scheduled now: the worker sends them)."""
    result = Run()
    upcoming = session.scalars(
        select(Hearing).where(Hearing.status == HearingStatus.SCHEDULED.value, Hearing.starts_at > now)
    )
    for hearing in upcoming:
        offset = due_offset(hearing, now)
        if offset is None:
            continue
        reminder = _for_hearing(
            hearing,
            Kind.REMINDER,
            as_utc(hearing.starts_at),
            offset,
            reminder_key(hearing.id, hearing.starts_at, offset),
            now,
        )
        if _add_once(session, reminder):
            result.created.append(reminder.id)
    _changes(session, now, result)
    return result


def _changes(session: Session, now: datetime, result: Run) -> None:
    """Notices for hearings moved or cancelled after people were reminded; stop old reminders."""
    olds = (
        session.execute(
            select(Broadcast.hearing_id, Broadcast.hearing_starts_at)
            .where(Broadcast.kind == Kind.REMINDER.value)
            .group_by(Broadcast.hearing_id, Broadcast.hearing_starts_at)
        )
        .tuples()
        .all()
    )
    for hearing_id, old_start in olds:
        if hearing_id is None or old_start is None:
            continue
        hearing = session.get(Hearing, hearing_id)
        cancelled = hearing is None or hearing.status == HearingStatus.CANCELLED.value
        if not cancelled and as_utc(hearing.starts_at) == as_utc(old_start):  # type: ignore[union-attr]
            continue
        if as_utc(old_start) <= now and not cancelled:
            continue  # its old time is past: nobody needs to hear it moved
        change = "cancelled" if cancelled else "moved"
        old_ids = select(Broadcast.id).where(
            Broadcast.kind == Kind.REMINDER.value,
            Broadcast.hearing_id == hearing_id,
            Broadcast.hearing_starts_at == old_start,
        )
        stopped = session.execute(
            update(Delivery)
            .where(
                Delivery.broadcast_id.in_(old_ids),
                Delivery.state == State.QUEUED.value,
            )
            .values(state=State.SKIPPED.value, reason=change, updated_at=now)
        )
        result.stopped += int(getattr(stopped, "rowcount", 0) or 0)
        session.execute(
            update(Broadcast)
            .where(
                Broadcast.id.in_(old_ids),
                Broadcast.status == Status.SCHEDULED.value,
            )
            .values(status=Status.CANCELLED.value, finished_at=now)
        )
        if hearing is None or as_utc(old_start) <= now:
            continue
        reminded = session.scalar(
            select(
                exists().where(
                    Delivery.broadcast_id.in_(old_ids),
                    Delivery.state.in_((State.SENT.value, State.DELIVERED.value)),
                )
            )
        )
        if not reminded:
            continue
        key = f"notice:{hearing.id}:{as_utc(old_start).strftime('%Y%m%dT%H%M%SZ')}:{change}"
        notice = _for_hearing(hearing, Kind.NOTICE, as_utc(old_start), change, key, now)
        if _add_once(session, notice):
            result.notices.append(notice.id)
