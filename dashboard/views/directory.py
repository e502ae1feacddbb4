"""Directory: lists with search, edit forms, file import (errors by record and field), export.

Every change goes through `puente.directory.store.import_directory`, as one record of a
directory file: the same validation as an imported file, the same revision bump (the running
services answer from it within seconds), nothing written when anything is wrong.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from dashboard import bp
from dashboard.core import core, signed_in
from dashboard.forms import FIELDS, SECTIONS, TEXT_LANGUAGES, problems_by_field, record_from_form, shown
from dashboard.i18n import gettext as _
from dashboard.security import requires, uploads
from puente.accounts import audit
from puente.accounts.roles import Role
from puente.directory.schema import DirectoryError
from puente.directory.store import export_directory, import_directory, load_file, stored_records

#: Largest directory file the import takes (the sample is 100 KB).
IMPORT_MAX_BYTES = 10 * 1024 * 1024


def section_names() -> dict[str, str]:
    return {
        "jurisdictions": _("Places"),
        "policies": _("Policies"),
        "coalitions": _("Coalitions"),
        "legal_clinics": _("Legal clinics"),
        "hearings": _("Hearings"),
    }


def _actor() -> audit.Actor:
    user = signed_in()
    return audit.Actor(user.id, user.email)


def _label(record: dict[str, Any]) -> str:
    title = record.get("name") or record.get("title") or ""
    return str(title.get("en", "") if isinstance(title, dict) else title)


def _matches(record: dict[str, Any], query: str) -> bool:
    if not query:
        return True
    needle = query.casefold()
    return any(
        needle in str(value).casefold()
        for value in (record.get("id"), _label(record), record.get("jurisdiction"), record.get("site"))
    )


@bp.get("/directory")
@requires(Role.VIEWER)
def directory_list() -> str:
    section = request.args.get("section", "jurisdictions")
    if section not in SECTIONS:
        abort(404)
    query = request.args.get("q", "").strip()
    with core().database.session(timeout=10) as session:
        records = stored_records(session)[section]
    found = [r for r in records.values() if _matches(r, query)]
    return render_template(
        "dashboard/directory_list.html",
        section=section,
        sections=SECTIONS,
        names=section_names(),
        records=found,
        total=len(records),
        q=query,
        label=_label,
        active="directory",
    )


def _form_page(
    section: str, record: dict[str, Any], *, new: bool, problems: list[Any] | None = None, status: int = 200
) -> tuple[str, int]:
    with core().database.session(timeout=10) as session:
        places = sorted(stored_records(session)["jurisdictions"])
    page = render_template(
        "dashboard/directory_form.html",
        section=section,
        names=section_names(),
        record=record,
        new=new,
        fields=FIELDS[section],
        languages=TEXT_LANGUAGES,
        shown=shown,
        problems=problems or [],
        field_problems={p.field: p.message for p in problems or []},
        places=places,
        active="directory",
    )
    return page, status


@bp.get("/directory/<section>/new")
@requires(Role.COORDINATOR)
def directory_new(section: str) -> tuple[str, int]:
    if section not in SECTIONS:
        abort(404)
    return _form_page(section, {}, new=True)


@bp.get("/directory/<section>/<record_id>")
@requires(Role.VIEWER)
def directory_record(section: str, record_id: str) -> tuple[str, int]:
    if section not in SECTIONS:
        abort(404)
    with core().database.session(timeout=10) as session:
        record = stored_records(session)[section].get(record_id)
    if record is None:
        abort(404)
    return _form_page(section, record, new=False)


@bp.post("/directory/<section>/new")
@requires(Role.COORDINATOR)
def directory_create(section: str) -> BaseResponse | tuple[str, int]:
    if section not in SECTIONS:
        abort(404)
    return _save(section, {}, new=True)


@bp.post("/directory/<section>/<record_id>")
@requires(Role.COORDINATOR)
def directory_save(section: str, record_id: str) -> BaseResponse | tuple[str, int]:
    if section not in SECTIONS:
        abort(404)
    with core().database.session(timeout=10) as session:
        base = stored_records(session)[section].get(record_id)
    if base is None:
        abort(404)
    return _save(section, base, new=False)


def save_record(section: str, record: dict[str, Any], action: audit.Action) -> list[Any] | None:
    """Write one record through the import; the problems by field, or None when it was saved."""
    services = core()
    try:
        with services.database.session(timeout=30) as session:
            report = import_directory(session, {"version": 1, section: [record]})
            counts = report.counts[section]
            audit.record(
                session,
                _actor(),
                action,
                services.clock(),
                f"{section}/{record.get('id')}",
                {"added": counts.added, "changed": counts.changed, "revision": report.revision},
            )
    except DirectoryError as error:
        return problems_by_field(error.problems)
    return None


def _save(section: str, base: dict[str, Any], *, new: bool) -> BaseResponse | tuple[str, int]:
    form: MultiDict[str, str] = request.form.copy()
    if not new:  # the id names the record: it is not edited here
        form.pop("id", None)
    record = record_from_form(section, form, base)
    if new and record.get("id") in stored_ids(section):
        problems = problems_by_field(
            [f"{section} (id {record.get('id')!r}): field 'id': " + _("is already used: pick another id")]
        )
        return _form_page(section, record, new=True, problems=problems, status=422)
    refused = save_record(section, record, audit.Action.DIRECTORY_EDITED)
    if refused is not None:
        return _form_page(section, record, new=new, problems=refused, status=422)
    flash(_("Saved. Puente answers from it within seconds."), "ok")
    return redirect(url_for("dashboard.directory_record", section=section, record_id=record["id"]))


def stored_ids(section: str) -> set[str]:
    with core().database.session(timeout=10) as session:
        return set(stored_records(session)[section])


@bp.get("/directory/import")
@requires(Role.COORDINATOR)
def directory_import_form() -> str:
    return render_template("dashboard/directory_import.html", active="directory")


@bp.post("/directory/import")
@requires(Role.COORDINATOR)
@uploads(IMPORT_MAX_BYTES)
def directory_import() -> tuple[str, int]:
    upload = request.files.get("file")
    prune = request.form.get("prune") == "yes"
    if upload is None or not upload.filename:
        return render_template(
            "dashboard/directory_import.html",
            active="directory",
            error=_("Choose a directory file (YAML or JSON) to import."),
        ), 422
    suffix = Path(upload.filename).suffix.lower()
    services = core()
    with tempfile.TemporaryDirectory(prefix="puente-import-") as folder:
        path = Path(folder) / f"directory{suffix if suffix in ('.json', '.yaml', '.yml') else '.yaml'}"
        upload.save(path)
        try:
            data = load_file(path)
            with services.database.session(None) as session:
                report = import_directory(session, data, prune=prune)
                audit.record(
                    session,
                    _actor(),
                    audit.Action.DIRECTORY_IMPORTED,
                    services.clock(),
                    upload.filename[:100],
                    {
                        "prune": prune,
                        "revision": report.revision,
                        **{s: [c.added, c.changed, c.unchanged, c.removed] for s, c in report.counts.items()},
                    },
                )
        except DirectoryError as error:
            with services.database.session() as session:
                audit.record(
                    session,
                    _actor(),
                    audit.Action.DIRECTORY_IMPORT_REFUSED,
                    services.clock(),
                    upload.filename[:100],
                    {"problems": len(error.problems)},
                    ok=False,
                )
            return render_template(
                "dashboard/directory_import.html",
                active="directory",
                filename=upload.filename,
                problems=problems_by_field(error.problems),
            ), 422
    return render_template(
        "dashboard/directory_import.html",
        active="directory",
        filename=upload.filename,
        report=report,
        names=section_names(),
    ), 200


@bp.get("/directory/export")
@requires(Role.VIEWER)
def directory_export() -> Response:
    services = core()
    with services.database.session(timeout=30) as session:
        text = export_directory(session)
        audit.record(session, _actor(), audit.Action.DIRECTORY_EXPORTED, services.clock())
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="directory.yaml"'},
    )
