"""Retention: conversation data older than RETENTION_DAYS is deleted (`puente purge`).

Deleted, once older than the retention period (or expired):

- `inbound_messages` (metadata of each text: when, channel, language, route) by `received_at`;
- Rasa's tracker events (the conversations themselves, message bodies included: Rasa's
  SQL tracker store shares Puente's database) by their `timestamp`, when the table exists;
- `pending_pages` and `open_questions` past their `expires_at`;
- `contact_channels` (when someone last wrote on a channel) by `last_inbound_at`;
- a contact nothing keeps any more: no subscription, no consent record, not opted out, no
  open question, and no text within the retention period. Their encrypted number, their
  pseudonym and whatever is left of their conversation go with them.

Never deleted: opted-out contacts (a STOP must hold forever), suppression entries,
subscriptions, consent records, and so no contact that has any of them.

`purge` takes a `Database` (each batch commits on its own: what a periodic worker or the
command uses) or a `Session` (everything happens in the caller's transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from puente.alerts.erase import TRACKER_TABLE
from puente.alerts.models import ConsentRecord, Subscription
from puente.db import Database
from puente.messaging.paging import PendingPages
from puente.models import Contact, ContactChannel, InboundMessage
from puente.questions import OpenQuestion

#: Rows per transaction in the big tables (the message log, Rasa's events, contacts).
BATCH = 1000
#: Seconds one batch may take.
BATCH_TIMEOUT = 60.0

#: Rasa's tracker store table (Rasa 3.6 SQLTrackerStore): only the columns purging reads.
EVENTS = sa.table(TRACKER_TABLE, sa.column("id", sa.Integer), sa.column("sender_id", sa.String),
                  sa.column("timestamp", sa.Float))

#: The tables a purge reports on, in the order it works through them.
#: How long a conversation's events may outlive their contact (a turn in flight at an erasure).
ORPHAN_GRACE = timedelta(minutes=10)
TABLES = ("inbound_messages", TRACKER_TABLE, "pending_pages", "open_questions", "contact_channels",
          "contacts")


@dataclass
class PurgeReport:
    #: Data from before this moment was purged.
    cutoff: datetime
    dry_run: bool
    #: Rows deleted per table (in a dry run: rows that would be).
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    #: Whether Rasa's tracker table exists in this database (not before Rasa first ran).
    tracker: bool = False
    #: Message-log entries of deleted contacts that were kept, no longer linked to anyone.
    unlinked: int = 0

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def purge(
    target: Session | Database, now: datetime, retention_days: int, *, dry_run: bool = False,
    batch_size: int = BATCH,
) -> PurgeReport:
    """Delete what is older than `retention_days` at `now` (see the module); a dry run counts only."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    now = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(UTC)
    cutoff = now - timedelta(days=retention_days)
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    run = _Run(target, dry_run, batch_size)
    with run.transaction() as session:
        report.tracker = sa.inspect(session.connection()).has_table(TRACKER_TABLE)

    stale = _stale_contacts(now, cutoff)
    deleted = report.deleted
    deleted["inbound_messages"] = run.delete_batched(
        InboundMessage.__table__, InboundMessage.id, InboundMessage.received_at < cutoff)
    if report.tracker:
        # Events older than the retention period, and events of no contact: someone erased while
        # Rasa was still answering them (their turn was saved after the erasure), or a test
        # session (`rasa shell`). Left alone for ORPHAN_GRACE: a turn may still be in flight.
        old_events = or_(
            EVENTS.c.timestamp < cutoff.timestamp(),
            and_(EVENTS.c.timestamp < (now - ORPHAN_GRACE).timestamp(),
                 EVENTS.c.sender_id.not_in(select(Contact.pseudonym))),
        )
        stale_events = EVENTS.c.sender_id.in_(select(Contact.pseudonym).where(Contact.id.in_(stale)))
        if dry_run:
            deleted[TRACKER_TABLE] = run.count(EVENTS, or_(old_events, stale_events))
        else:
            deleted[TRACKER_TABLE] = run.delete_batched(EVENTS, EVENTS.c.id, old_events)
    deleted["pending_pages"] = run.delete(
        PendingPages.__table__, or_(PendingPages.expires_at < now, PendingPages.contact_id.in_(stale)))
    deleted["open_questions"] = run.delete(OpenQuestion.__table__, OpenQuestion.expires_at < now)
    deleted["contact_channels"] = run.delete(
        ContactChannel.__table__,
        or_(ContactChannel.last_inbound_at < cutoff, ContactChannel.contact_id.in_(stale)))
    if not dry_run:
        # What is left of the conversations of the contacts about to go: sent within the retention
        # period only if a clock was wrong, but nothing of theirs may outlive them.
        if report.tracker:
            deleted[TRACKER_TABLE] += run.delete_batched(EVENTS, EVENTS.c.id, stale_events)
        with run.transaction() as session:
            result = session.execute(
                update(InboundMessage).where(InboundMessage.contact_id.in_(stale)).values(contact_id=None)
                .execution_options(synchronize_session=False))
            report.unlinked = _rowcount(result)
    # The condition is checked again as each contact is deleted: someone who texts meanwhile stays.
    deleted["contacts"] = run.delete_batched(Contact.__table__, Contact.id, Contact.id.in_(stale))
    return report


def _stale_contacts(now: datetime, cutoff: datetime) -> Any:
    """The ids of contacts nothing keeps (see the module); never correlated with the statement it
    sits in (a DELETE FROM contacts, too, reads it as a list of ids)."""
    return select(Contact.id).correlate(None).where(
        Contact.opted_out_at.is_(None),
        func.coalesce(Contact.last_inbound_at, Contact.created_at) < cutoff,
        ~exists().where(Subscription.contact_id == Contact.id),
        ~exists().where(ConsentRecord.contact_id == Contact.id),
        ~exists().where(OpenQuestion.contact_id == Contact.id, OpenQuestion.expires_at >= now),
    )


class _Run:
    def __init__(self, target: Session | Database, dry_run: bool, batch_size: int) -> None:
        self.target, self.dry_run, self.batch_size = target, dry_run, batch_size

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        if isinstance(self.target, Session):
            yield self.target  # the caller's transaction: the caller commits
        else:
            with self.target.session(BATCH_TIMEOUT) as session:
                yield session

    def count(self, from_: Any, where: ColumnElement[bool]) -> int:
        with self.transaction() as session:
            return session.scalar(select(func.count()).select_from(from_).where(where)) or 0

    def delete(self, from_: Any, where: ColumnElement[bool]) -> int:
        """A small table, in one statement."""
        if self.dry_run:
            return self.count(from_, where)
        with self.transaction() as session:
            return _rowcount(session.execute(delete(from_).where(where)))

    def delete_batched(self, from_: Any, key: Any, where: ColumnElement[bool]) -> int:
        """A big table, `batch_size` rows per transaction, in key order."""
        if self.dry_run:
            return self.count(from_, where)
        total = 0
        while True:
            with self.transaction() as session:
                keys = session.scalars(select(key).where(where).order_by(key).limit(self.batch_size)).all()
                if keys:
                    # `where` again: a row that stopped matching since it was read stays.
                    total += _rowcount(session.execute(delete(from_).where(key.in_(keys), where)))
            if len(keys) < self.batch_size:
                return total


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
