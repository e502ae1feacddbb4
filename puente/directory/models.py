"""The directory's tables: places, what they passed, who organizes there, clinics, hearings.

Ids are the slugs of the directory file, so an import is idempotent by id. Localized
texts and lists are JSON, in the file's own shape; what answers are looked up by
(a place, a kind, a district) has its own indexed column.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from puente.db import Base


class Jurisdiction(Base):
    """A state, county, city or school district; `within` nests them."""

    __tablename__ = "jurisdictions"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # No foreign key: a file may name its parent later in the same import, and
    # validation (schema.parse_directory) already guarantees the parent exists.
    within_id: Mapped[str | None] = mapped_column(String(100), index=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    zip_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64))


class Policy(Base):
    """A resolution, policy, office or plan of a jurisdiction, with its source and when it was verified."""

    __tablename__ = "policies"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    jurisdiction_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    date: Mapped[dt.date | None] = mapped_column(Date)
    summary: Mapped[dict[str, str]] = mapped_column(JSON)
    source_url: Mapped[str] = mapped_column(Text)
    verified_on: Mapped[dt.date] = mapped_column(Date)


class Coalition(Base):
    """A local coalition or organization, and the jurisdictions it serves."""

    __tablename__ = "coalitions"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    rapid_response_phone: Mapped[str | None] = mapped_column(String(40))


class CoalitionServes(Base):
    """One jurisdiction a coalition serves (the file's `serves` list)."""

    __tablename__ = "coalition_serves"

    coalition_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("coalitions.id", ondelete="CASCADE"), primary_key=True
    )
    jurisdiction_id: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class LegalClinic(Base):
    """A legal clinic at a school site, serving a school district."""

    __tablename__ = "legal_clinics"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    school_district_id: Mapped[str] = mapped_column(String(100), index=True)
    site: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    schedule: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    open_to: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    phone: Mapped[str | None] = mapped_column(String(40))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)


class Hearing(Base):
    """A public hearing or meeting; reminders are sent before it (a later issue)."""

    __tablename__ = "hearings"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    jurisdiction_id: Mapped[str] = mapped_column(String(100), index=True)
    body: Mapped[str] = mapped_column(String(200))
    title: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    location: Mapped[str | None] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20))
    reminders: Mapped[list[str]] = mapped_column(JSON, default=list)


class DirectoryRevision(Base):
    """One row counting the imports that changed something: running services reload on a new count."""

    __tablename__ = "directory_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


MODELS: dict[str, Any] = {
    "jurisdictions": Jurisdiction,
    "policies": Policy,
    "coalitions": Coalition,
    "legal_clinics": LegalClinic,
    "hearings": Hearing,
}
