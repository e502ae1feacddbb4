"""Hearings: create, edit and cancel, with the reminder schedule in the hearing's time zone.

A hearing is a directory record: it is saved through the import (the same validation), and
the worker's reminders follow it (a moved or cancelled hearing sends its notices).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from dashboard import bp
from dashboard.core import core
from dashboard.forms import TEXT_LANGUAGES, problems_by_field, record_from_form
from dashboard.i18n import gettext as _
from dashboard.security import requires
from dashboard.views.directory import save_record
from puente import reports
from puente.accounts import audit
from puente.accounts.roles import Role
from puente.db import as_utc
from puente.directory.schema import DEFAULT_REMINDERS, DEFAULT_TIMEZONE, Topic, parse_duration
from puente.directory.store import stored_records


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def _load() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    with core().database.session(timeout=10) as session:
        stored = stored_records(session)
    return stored["hearings"], stored["jurisdictions"]


def schedule(record: dict[str, Any], zone: ZoneInfo, now: datetime) -> list[dict[str, Any]]:
    """When each reminder goes, in the hearing's zone, and whether that time has passed."""
    try:
        starts = datetime.fromisoformat(record["starts_at"])
    except (KeyError, TypeError, ValueError):
        return []
    out = []
    for offset in record.get("reminders") or DEFAULT_REMINDERS:
        try:
            at = starts - parse_duration(offset)
        except ValueError:
            continue
        out.append({"offset": offset, "at": at.astimezone(zone), "past": as_utc(at) <= now})
    return out


@bp.get("/hearings")
@requires(Role.VIEWER)
def hearings_list() -> str:
    hearings, places = _load()
    now = core().clock()
    rows = []
    for record in sorted(hearings.values(), key=lambda r: r["starts_at"], reverse=True):
        zone = _zone(places.get(record["jurisdiction"], {}).get("timezone"))
        rows.append(
            {
                "record": record,
                "zone": zone.key,
                "starts": datetime.fromisoformat(record["starts_at"]).astimezone(zone),
                "upcoming": as_utc(datetime.fromisoformat(record["starts_at"])) > now,
            }
        )
    return render_template("dashboard/hearings_list.html", rows=rows, active="hearings")


def _page(
    record: dict[str, Any], *, new: bool, problems: list[Any] | None = None, status: int = 200
) -> tuple[str, int]:
    _hearings, places = _load()
    zone = _zone(places.get(record.get("jurisdiction", ""), {}).get("timezone"))
    local = ""
    if record.get("starts_at"):
        try:
            local = datetime.fromisoformat(record["starts_at"]).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            local = ""
    sent: list[Any] = []
    if not new:
        with core().database.session(timeout=10) as session:
            sent = reports.hearing_broadcasts(session, record["id"])
    page = render_template(
        "dashboard/hearing_form.html",
        record=record,
        new=new,
        zone=zone.key,
        local=local,
        schedule=schedule(record, zone, core().clock()),
        languages=TEXT_LANGUAGES,
        places=sorted(places),
        topics=[t.value for t in Topic],
        problems=problems or [],
        sent=sent,
        field_problems={p.field: p.message for p in problems or []},
        active="hearings",
        default_reminders=", ".join(DEFAULT_REMINDERS),
    )
    return page, status


@bp.get("/hearings/new")
@requires(Role.COORDINATOR)
def hearing_new() -> tuple[str, int]:
    return _page({"topics": ["hearings"], "reminders": list(DEFAULT_REMINDERS)}, new=True)


@bp.get("/hearings/<hearing_id>")
@requires(Role.VIEWER)
def hearing_view(hearing_id: str) -> tuple[str, int]:
    hearings, _places = _load()
    if hearing_id not in hearings:
        abort(404)
    return _page(hearings[hearing_id], new=False)


def _from_form(base: dict[str, Any], new: bool) -> dict[str, Any]:
    form = request.form.copy()
    if not new:
        form.pop("id", None)
    record = record_from_form("hearings", form, base)
    _hearings, places = _load()
    zone = _zone(places.get(record.get("jurisdiction", ""), {}).get("timezone"))
    local = request.form.get("starts_local", "").strip()
    try:
        record["starts_at"] = datetime.fromisoformat(local).replace(tzinfo=zone).isoformat()
    except ValueError:
        record["starts_at"] = local or None  # the core names the field and what is wrong
    record.setdefault("status", "scheduled")
    return record


@bp.post("/hearings")
@requires(Role.COORDINATOR)
def hearing_create() -> BaseResponse | tuple[str, int]:
    record = _from_form({}, new=True)
    hearings, _places = _load()
    if record.get("id") in hearings:
        problems = problems_by_field(
            [f"hearings (id {record.get('id')!r}): field 'id': " + _("is already used: pick another id")]
        )
        return _page(record, new=True, problems=problems, status=422)
    return _save(record, new=True, action=audit.Action.HEARING_SAVED)


@bp.post("/hearings/<hearing_id>")
@requires(Role.COORDINATOR)
def hearing_save(hearing_id: str) -> BaseResponse | tuple[str, int]:
    hearings, _places = _load()
    if hearing_id not in hearings:
        abort(404)
    return _save(_from_form(hearings[hearing_id], new=False), new=False, action=audit.Action.HEARING_SAVED)


@bp.post("/hearings/<hearing_id>/cancel")
@requires(Role.COORDINATOR)
def hearing_cancel(hearing_id: str) -> BaseResponse | tuple[str, int]:
    hearings, _places = _load()
    if hearing_id not in hearings:
        abort(404)
    record = dict(hearings[hearing_id], status="cancelled")
    return _save(record, new=False, action=audit.Action.HEARING_CANCELLED)


def _save(record: dict[str, Any], *, new: bool, action: audit.Action) -> BaseResponse | tuple[str, int]:
    problems = save_record("hearings", record, action)
    if problems is not None:
        return _page(record, new=new, problems=problems, status=422)
    if action is audit.Action.HEARING_CANCELLED:
        flash(_("Cancelled. Whoever was reminded of it gets a notice in their language."), "ok")
    else:
        flash(_("Saved. Its reminders follow the schedule below."), "ok")
    return redirect(url_for("dashboard.hearing_view", hearing_id=record["id"]))
