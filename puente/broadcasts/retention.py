"""Retention for broadcasts: after RETENTION_DAYS, a delivery no longer says who it went to.

A broadcast's counts stay (how many were sent, delivered, failed), but once a delivery is
older than the retention period and settled, its link to the person and its MessageSid
go, and so do RSVP answers and outbox copies (an encrypted number) that old. Erasing a
person removes theirs at once (foreign keys: RSVPs and outbox rows cascade, deliveries
are unlinked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from puente.broadcasts.models import FINAL, Delivery, OutboxMessage, Rsvp
from puente.db import Database

TABLES = ("deliveries (unlinked)", "rsvps", "outbox")


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))


def purge(
    database: Database, now: datetime, retention_days: int, *, dry_run: bool = False, batch_size: int = 1000
) -> Report:
    cutoff = now - timedelta(days=retention_days)
    report = Report()
    settled = Delivery.state.in_([s.value for s in FINAL])
    old = (Delivery.updated_at < cutoff) & settled & Delivery.contact_id.is_not(None)
    with database.session(timeout=60) as session:
        if dry_run:
            report.counts["deliveries (unlinked)"] = int(session.scalar(select(func.count()).where(old)) or 0)
            report.counts["rsvps"] = int(
                session.scalar(select(func.count()).select_from(Rsvp).where(Rsvp.answered_at < cutoff)) or 0
            )
            report.counts["outbox"] = int(
                session.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.created_at < cutoff)
                )
                or 0
            )
            return report
        report.counts["rsvps"] = _rows(session.execute(delete(Rsvp).where(Rsvp.answered_at < cutoff)))
        report.counts["outbox"] = _rows(
            session.execute(delete(OutboxMessage).where(OutboxMessage.created_at < cutoff))
        )
    while True:
        with database.session(timeout=60) as session:
            ids = list(session.scalars(select(Delivery.id).where(old).limit(batch_size)))
            if not ids:
                return report
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(contact_id=None, message_sid=None)
                .execution_options(synchronize_session=False)
            )
            report.counts["deliveries (unlinked)"] += len(ids)


def _rows(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
