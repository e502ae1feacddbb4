"""When each worker was last seen alive: one row per worker process, in the shared database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base
from puente.models import utcnow


class WorkerHeartbeat(Base):
    """A worker process (`puente worker`), by host and process id, and when it last beat.

    The database is the one place every webhook and worker shares, on one machine or
    many, so `/healthz` answers from it with one query.
    """

    __tablename__ = "worker_heartbeats"

    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
