"""Import and export of the directory file: whole-file validation, idempotent by id.

    puente directory import FILE [--prune]    puente directory export

An import validates everything first and writes in one transaction: a bad file
changes nothing. It reports what it added, changed, removed and left alone, bumps the
directory revision (running services reload within seconds), and suggests, never
sends, a `policy_updates` broadcast for each policy whose status changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from puente.db import as_utc
from puente.directory.models import MODELS, CoalitionServes, DirectoryRevision, Jurisdiction
from puente.directory.schema import (
    DEFAULT_REMINDERS,
    DEFAULT_TIMEZONE,
    SECTIONS,
    DirectoryError,
    DirectoryFile,
    HearingStatus,
    parse_directory,
)
from puente.models import utcnow

Progress = Callable[[int, int], None]
#: How often a large import reports progress.
PROGRESS_EVERY = 1000


@dataclass
class SectionCounts:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass
class ImportReport:
    """What an import did, per section, and the broadcasts it suggests."""

    counts: dict[str, SectionCounts] = field(default_factory=lambda: {s: SectionCounts() for s in SECTIONS})
    status_changes: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    revision: int = 0

    @property
    def changed_anything(self) -> bool:
        return any(c.added or c.changed or c.removed for c in self.counts.values())

    def lines(self) -> list[str]:
        out = []
        for section, c in self.counts.items():
            out.append(f"{section}: {c.added} added, {c.changed} changed, {c.unchanged} unchanged"
                       + (f", {c.removed} removed" if c.removed else ""))
        for policy_id, jurisdiction, old, new in self.status_changes:
            before = f"from {old} " if old else ""
            out.append(
                f"policy {policy_id} changed status {before}to {new}. To tell subscribers (nothing is sent "
                f"by itself): puente broadcast send --topic policy_updates --jurisdiction {jurisdiction} "
                f"--message \"…\""
            )
        return out


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay text, and the schema reports a bad one by record."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_file(path: Path) -> Any:
    """A directory file's contents, YAML or JSON (JSON is YAML too, but its errors read better)."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader without timestamps
    except UnicodeDecodeError:
        raise DirectoryError([f"{path.name} is not UTF-8 text"]) from None
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        kind = path.suffix.lstrip(".").upper() or "YAML"
        raise DirectoryError([f"{path.name} is not valid {kind}: {error}"]) from None


# --- rows <-> file records -------------------------------------------------------------------------

def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _row_values(section: str, record: dict[str, Any]) -> dict[str, Any]:
    """A validated file record as the columns of its table."""
    references = ("within", "jurisdiction", "serves", "school_district")
    values = {k: v for k, v in record.items() if k not in references}
    if section == "jurisdictions":
        values["within_id"] = record["within"]
    elif section == "policies":
        values |= {"jurisdiction_id": record["jurisdiction"], "date": _day(record["date"]),
                   "verified_on": _day(record["verified_on"])}
    elif section == "legal_clinics":
        values["school_district_id"] = record["school_district"]
    elif section == "hearings":
        values |= {"jurisdiction_id": record["jurisdiction"],
                   "starts_at": as_utc(datetime.fromisoformat(record["starts_at"]))}
    return values


def _record(section: str, row: Any, serves: list[str] | None = None, timezone: str | None = None
            ) -> dict[str, Any]:
    """A stored row as a file record, in the shape `parse_directory` produces."""
    if section == "jurisdictions":
        return {"id": row.id, "name": row.name, "kind": row.kind, "within": row.within_id,
                "names": row.names or {}, "aliases": row.aliases or [], "zip_codes": row.zip_codes or [],
                "timezone": row.timezone}
    if section == "policies":
        return {"id": row.id, "jurisdiction": row.jurisdiction_id, "kind": row.kind, "status": row.status,
                "title": row.title, "date": row.date.isoformat() if row.date else None,
                "summary": row.summary,
                "source_url": row.source_url, "verified_on": row.verified_on.isoformat()}
    if section == "coalitions":
        return {"id": row.id, "name": row.name, "serves": serves or [], "phone": row.phone,
                "email": row.email, "website": row.website, "languages": row.languages or [],
                "description": row.description or {}, "rapid_response_phone": row.rapid_response_phone}
    if section == "legal_clinics":
        return {"id": row.id, "name": row.name, "school_district": row.school_district_id, "site": row.site,
                "address": row.address, "schedule": row.schedule or {}, "services": row.services or [],
                "open_to": row.open_to or {}, "phone": row.phone, "languages": row.languages or []}
    starts_at = as_utc(row.starts_at).astimezone(ZoneInfo(timezone or DEFAULT_TIMEZONE))
    return {"id": row.id, "jurisdiction": row.jurisdiction_id, "body": row.body, "title": row.title,
            "starts_at": starts_at.isoformat(), "location": row.location, "topics": row.topics or [],
            "status": row.status, "reminders": row.reminders or list(DEFAULT_REMINDERS)}


def _comparable(section: str, record: dict[str, Any]) -> dict[str, Any]:
    if section == "hearings" and record.get("starts_at"):
        instant = as_utc(datetime.fromisoformat(record["starts_at"]))
        return record | {"starts_at": instant.isoformat()}
    return record


def _serves(session: Session) -> dict[str, list[str]]:
    serves: dict[str, list[str]] = {}
    for link in session.scalars(select(CoalitionServes).order_by(CoalitionServes.position)):
        serves.setdefault(link.coalition_id, []).append(link.jurisdiction_id)
    return serves


def stored_records(session: Session) -> dict[str, dict[str, dict[str, Any]]]:
    """Every stored record as a file record, by section and id."""
    serves = _serves(session)
    timezones = {j.id: j.timezone for j in session.scalars(select(Jurisdiction))}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for section, model in MODELS.items():
        out[section] = {}
        for row in session.scalars(select(model).order_by(model.id)):
            zone = timezones.get(getattr(row, "jurisdiction_id", ""), DEFAULT_TIMEZONE)
            out[section][row.id] = _record(section, row, serves.get(row.id), zone)
    return out


# --- import and export -----------------------------------------------------------------------------

def import_directory(session: Session, data: Any, *, prune: bool = False, progress: Progress | None = None
                     ) -> ImportReport:
    """Validate `data` as a whole, then upsert it by id; with `prune`, remove what it does not list.

    Raises `DirectoryError` (nothing written) when the file has any problem.
    """
    stored = stored_records(session)
    known = {} if prune else {jid: j["kind"] for jid, j in stored["jurisdictions"].items()}
    parsed: DirectoryFile = parse_directory(data, known)
    report = ImportReport()
    total, done = len(parsed), 0
    for section, records in parsed.sections():
        model, counts = MODELS[section], report.counts[section]
        for record in records:
            old = stored[section].get(record["id"])
            if old is None:
                session.add(model(**_row_values(section, record)))
                counts.added += 1
            elif _comparable(section, old) != _comparable(section, record):
                row = session.get(model, record["id"])
                for name, value in _row_values(section, record).items():
                    setattr(row, name, value)
                counts.changed += 1
            else:
                counts.unchanged += 1
            if section == "coalitions" and (old is None or old["serves"] != record["serves"]):
                session.execute(delete(CoalitionServes).where(CoalitionServes.coalition_id == record["id"]))
                session.add_all(CoalitionServes(coalition_id=record["id"], jurisdiction_id=j, position=i)
                                for i, j in enumerate(record["serves"]))
            if section == "policies" and old is not None and old["status"] != record["status"]:
                report.status_changes.append((record["id"], record["jurisdiction"], old["status"],
                                              record["status"]))
            done += 1
            if progress and total >= PROGRESS_EVERY and (done % PROGRESS_EVERY == 0 or done == total):
                progress(done, total)
        if prune:
            listed = {r["id"] for r in records}
            for record_id in set(stored[section]) - listed:
                session.delete(session.get(model, record_id))
                counts.removed += 1
        session.flush()
    if report.changed_anything:
        report.revision = bump_revision(session)
    else:
        report.revision = current_revision(session)
    return report


def current_revision(session: Session) -> int:
    row = session.get(DirectoryRevision, 1)
    return row.revision if row else 0


def bump_revision(session: Session) -> int:
    row = session.get(DirectoryRevision, 1)
    if row is None:
        row = DirectoryRevision(id=1, revision=0)
        session.add(row)
    row.revision += 1
    row.changed_at = utcnow()
    return row.revision


def is_empty(session: Session) -> bool:
    return session.scalars(select(Jurisdiction.id).limit(1)).first() is None


def _trim(section: str, record: dict[str, Any]) -> dict[str, Any]:
    """A record without its empty and default fields, as a person would write it."""
    out = {}
    for name, value in record.items():
        if value in (None, [], {}):
            continue
        if (section, name, value) in (("jurisdictions", "timezone", DEFAULT_TIMEZONE),
                                       ("hearings", "status", HearingStatus.SCHEDULED.value)):
            continue
        if (section, name) == ("hearings", "reminders") and tuple(value) == DEFAULT_REMINDERS:
            continue
        out[name] = value
    return out


def export_directory(session: Session) -> str:
    """The whole directory as a version 1 file (YAML), records ordered by id."""
    stored = stored_records(session)
    document: dict[str, Any] = {"version": 1}
    for section in SECTIONS:
        document[section] = [_trim(section, r) for _id, r in sorted(stored[section].items())]
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def load_sample_if_empty(session: Session, path: Path) -> ImportReport | None:
    """Development only: the sample directory, into a directory that has nothing yet."""
    if not is_empty(session):
        return None
    return import_directory(session, load_file(path))
