"""Broadcasts: compose per language with live estimates, phone previews, a test to one number,
send after a confirmation, live progress with a delivery chart, and cancel.

All of it calls `puente.broadcasts.service` (plan, create, report, cancel) and
`puente.broadcasts.testsend.send_test`; the worker sends, as after `puente broadcast send`.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import replace
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as BaseResponse

from dashboard import bp
from dashboard.charts import bar_chart
from dashboard.compose import FIRST_CODES, SCHEDULE_ZONE, TEXT_CODES, bubbles, duration, request_from_form
from dashboard.core import core, signed_in
from dashboard.i18n import gettext as _
from dashboard.i18n import money, number
from dashboard.security import requires
from puente import reports
from puente.accounts import audit
from puente.accounts.roles import Role
from puente.alerts.models import TOPICS
from puente.broadcasts import service
from puente.broadcasts.models import State, Status
from puente.broadcasts.service import BroadcastError, Plan, Request
from puente.db import DATABASE_ERRORS
from puente.directory.store import stored_records
from puente.privacy import InvalidAddress, mask_phone, parse_address

logger = logging.getLogger(__name__)

#: Delivery states in the order the chart draws them.
STATES = [s.value for s in State]


def _actor() -> audit.Actor:
    user = signed_in()
    return audit.Actor(user.id, user.email)


def _places() -> list[tuple[str, str]]:
    with core().database.session(timeout=10) as session:
        places = stored_records(session)["jurisdictions"]
    return sorted((pid, str(p["name"])) for pid, p in places.items())


def _plan(req: Request) -> Plan:
    services = core()
    with services.database.session(timeout=30) as session:
        return service.plan(
            session,
            services.languages,
            services.broadcast_context,
            req,
            services.clock(),
            services.settings.twilio_price_per_segment,
        )


def _compose(
    form: dict[str, Any] | None = None,
    *,
    preview: bool = False,
    error: str | None = None,
    status: int = 200,
    tested: str | None = None,
) -> tuple[str, int]:
    services = core()
    values = dict(form or {})
    context: dict[str, Any] = {"bubbles": [], "plan": None}
    if preview and error is None:
        try:
            req = request_from_form(request.form, "preview")
            plan = _plan(req)
            context = {
                "bubbles": bubbles(services.languages, req, plan),
                "plan": plan,
                "time": duration(plan.seconds),
            }
        except BroadcastError as problem:
            error, status = str(problem), 422
    page = render_template(
        "dashboard/broadcast_compose.html",
        form=values,
        topics=TOPICS,
        places=_places(),
        codes=TEXT_CODES,
        first_codes=FIRST_CODES,
        languages={lang.code: lang.name for lang in services.languages},
        error=error,
        tested=tested,
        zone=SCHEDULE_ZONE,
        active="broadcasts",
        **context,
    )
    return page, status


@bp.get("/broadcasts")
@requires(Role.VIEWER)
def broadcasts_list() -> str:
    with core().database.session(timeout=10) as session:
        found = reports.recent_broadcasts(session)
    return render_template("dashboard/broadcasts_list.html", broadcasts=found, active="broadcasts")


@bp.get("/broadcasts/new")
@requires(Role.COORDINATOR)
def broadcast_new() -> tuple[str, int]:
    return _compose({"topic": request.args.get("topic", "hearings")})


@bp.post("/broadcasts/preview")
@requires(Role.COORDINATOR)
def broadcast_preview() -> tuple[str, int]:
    return _compose(request.form.to_dict(), preview=True)


@bp.post("/broadcasts/estimate")
@requires(Role.COORDINATOR)
def broadcast_estimate() -> Response:
    """Live counts for the compose form's script: segments per text, and the plan when it is valid."""
    services = core()
    form = request.form
    out: dict[str, Any] = {"texts": {}, "ok": False}
    try:
        req = request_from_form(form, "estimate")
    except BroadcastError as problem:
        return jsonify(out | {"error": str(problem)})
    for bubble in bubbles(
        services.languages,
        Request(
            topic=req.topic,
            message=req.message or " ",
            translations=req.translations,
            rsvp_hours=req.rsvp_hours,
        ),
        None,
    ):
        out["texts"][bubble.language] = {
            "segments": bubble.segments,
            "encoding": bubble.encoding,
            "chars": bubble.chars,
            "label": _(
                "%(chars)s characters, %(segments)s SMS segments (%(encoding)s)",
                chars=bubble.chars,
                segments=bubble.segments,
                encoding=bubble.encoding,
            ),
        }
    try:
        plan = _plan(req)
    except BroadcastError as problem:
        return jsonify(out | {"error": str(problem)})
    unit, amount = duration(plan.seconds)
    took = f"{number(amount)} {unit}"
    out |= {
        "ok": True,
        "recipients": plan.recipients,
        "segments": plan.segments,
        "summary": _(
            "%(recipients)s recipients, %(segments)s segments, about %(cost)s, about %(time)s",
            recipients=number(plan.recipients),
            segments=number(plan.segments),
            cost=money(plan.cost),
            time=took,
        ),
    }
    return jsonify(out)


@bp.post("/broadcasts/test")
@requires(Role.COORDINATOR)
def broadcast_test() -> tuple[str, int]:
    """One message, to one number, in the chosen language: what that reader would get."""
    from puente.broadcasts.testsend import send_test

    services = core()
    phone = request.form.get("test_to", "").strip()
    try:
        shown = mask_phone(parse_address(phone).urn)
    except InvalidAddress:
        return _compose(
            request.form.to_dict(),
            error=_("The test number is not a phone number in E.164 form, e.g. +12135550100."),
            status=422,
        )
    try:
        req = request_from_form(request.form, f"user:{signed_in().id}")
        req = replace(req, language=request.form.get("test_language") or "en", at=None)
        now = services.clock()
        with services.database.session(timeout=30) as session:
            service.check(session, req, now)
        broadcast_id, outcome = send_test(services, req, phone, now)
    except BroadcastError as problem:
        return _compose(request.form.to_dict(), error=str(problem), status=422)
    with services.database.session() as session:
        audit.record(
            session,
            _actor(),
            audit.Action.BROADCAST_TEST_SENT,
            now,
            f"broadcast {broadcast_id}",
            {"language": req.language},
        )
    form = request.form.to_dict()
    form.pop("test_to", None)  # the number is not kept, not even in the page
    return _compose(form, tested=_("Test to %(phone)s: %(outcome)s", phone=shown, outcome=outcome))


@bp.post("/broadcasts")
@requires(Role.COORDINATOR)
def broadcast_create() -> BaseResponse | tuple[str, int]:
    """The compose form's send: first a confirmation page, then (confirm=yes) the broadcast."""
    services = core()
    user = signed_in()
    try:
        req = request_from_form(request.form, f"user:{user.id}")
        plan = _plan(req)
    except BroadcastError as problem:
        return _compose(request.form.to_dict(), error=str(problem), status=422)
    if request.form.get("confirm") != "yes":
        page = render_template(
            "dashboard/broadcast_confirm.html",
            form=request.form.to_dict(),
            plan=plan,
            time=duration(plan.seconds),
            bubbles=bubbles(services.languages, req, plan),
            zone=SCHEDULE_ZONE,
            active="broadcasts",
            # One confirmation, one broadcast: a double click or a resubmitted page finds it.
            submission=secrets.token_hex(16),
        )
        return page, 200
    now = services.clock()
    submission = request.form.get("submission", "")
    if not re.fullmatch(r"[0-9a-f]{32}", submission):
        abort(400)
    key = f"dashboard:{user.id}:{submission}"
    with services.database.session(timeout=10) as session:
        earlier = service.find_by_key(session, key)
        earlier_id = earlier.id if earlier is not None else None
    if earlier_id is not None:
        flash(_("Broadcast %(id)s was already queued: it was not sent twice.", id=earlier_id), "ok")
        return redirect(url_for("dashboard.broadcast_view", broadcast_id=earlier_id), code=303)
    req = replace(req, key=key)
    try:
        with services.database.session(timeout=60) as session:
            created, count = service.create(session, req, now)
            audit.record(
                session,
                _actor(),
                audit.Action.BROADCAST_CREATED,
                now,
                f"broadcast {created.id}",
                {
                    "recipients": count,
                    "topic": req.topic,
                    "languages": sorted(req.texts),
                    "urgent": req.urgent,
                    "rsvp": req.rsvp_hours is not None,
                    "scheduled": req.at is not None,
                },
            )
            broadcast_id, scheduled_at = created.id, created.scheduled_at
    except BroadcastError as problem:
        return _compose(request.form.to_dict(), error=str(problem), status=422)
    except IntegrityError:  # the same confirmation, twice at once: the other one made it
        with services.database.session(timeout=10) as session:
            made = service.find_by_key(session, key)
        if made is None:
            raise
        return redirect(url_for("dashboard.broadcast_view", broadcast_id=made.id), code=303)
    delay = max(0.0, (scheduled_at - now).total_seconds())
    try:
        services.jobs.enqueue("broadcast_start", broadcast_id, delay=delay or None)
    except Exception as error:  # noqa: BLE001 - it is saved: the worker's tick starts it anyway
        logger.warning("broadcast %d saved, not queued (%s): the tick starts it", broadcast_id,
                       type(error).__name__)
    flash(_("Broadcast %(id)s is queued for %(n)s recipients.", id=broadcast_id, n=count), "ok")
    return redirect(url_for("dashboard.broadcast_view", broadcast_id=broadcast_id), code=303)


def _progress(broadcast_id: int) -> dict[str, Any]:
    with core().database.session(timeout=10) as session:
        try:
            r = service.report(session, broadcast_id)
        except BroadcastError:
            abort(404)
        b = r.broadcast
        failures = sorted(
            (
                (state, reason, n)
                for (state, reason), n in r.reasons.items()
                if state in (State.FAILED.value, State.SKIPPED.value, State.QUEUED.value)
            ),
            key=lambda item: -item[2],
        )
        return {
            "id": b.id,
            "status": b.status,
            "kind": b.kind,
            "topics": b.topics,
            "texts": b.texts,
            "recipients": b.recipients,
            "states": r.states,
            "errors": r.errors,
            "rsvps": r.rsvps,
            "rsvp_until": b.rsvp_until,
            "failures": failures,
            "notes": r.notes,
            "unknown_ids": r.unknown_ids,
            "scheduled_at": b.scheduled_at,
            "created_at": b.created_at,
            "finished_at": b.finished_at,
            "urgent": b.urgent,
            "jurisdiction_id": b.jurisdiction_id,
            "language": b.language,
            "finished": b.status in (Status.DONE.value, Status.CANCELLED.value),
            "settled": sum(n for s, n in r.states.items() if s not in ("queued", "sending")),
        }


def _chart(data: dict[str, Any]) -> str:
    return str(
        bar_chart(
            _("Deliveries by state"),
            [(state_name(s), data["states"].get(s, 0)) for s in STATES],
            colour_keys=STATES,
            chart_id="delivery-chart",
        )
    )


def state_name(state: str) -> str:
    names = {
        "queued": _("queued"),
        "sending": _("sending"),
        "sent": _("sent"),
        "delivered": _("delivered"),
        "failed": _("failed"),
        "unknown": _("unknown"),
        "skipped": _("skipped"),
    }
    return names.get(state, state)


def status_name(status: str) -> str:
    names = {
        "scheduled": _("scheduled"),
        "resolving": _("finding recipients"),
        "sending": _("sending"),
        "done": _("done"),
        "cancelled": _("cancelled"),
    }
    return names.get(status, status)


@bp.get("/broadcasts/<int:broadcast_id>")
@requires(Role.VIEWER)
def broadcast_view(broadcast_id: int) -> str:
    data = _progress(broadcast_id)
    return render_template(
        "dashboard/broadcast_view.html",
        b=data,
        chart=_chart(data),
        state_name=state_name,
        status_name=status_name,
        states=STATES,
        active="broadcasts",
        no_worker=not data["finished"] and _no_worker(),
    )


def _no_worker() -> bool:
    """Nothing goes out without a worker: the page says so rather than let a coordinator wait."""
    from puente.jobs import heartbeat

    try:
        return heartbeat.problem(core().database, 2.0) is not None
    except DATABASE_ERRORS:
        return False


@bp.get("/broadcasts/<int:broadcast_id>/progress.json")
@requires(Role.VIEWER)
def broadcast_progress(broadcast_id: int) -> Response:
    data = _progress(broadcast_id)
    return jsonify(
        {
            "status": data["status"],
            "status_label": status_name(data["status"]),
            "finished": data["finished"],
            "recipients": data["recipients"],
            "settled": data["settled"],
            "states": data["states"],
            "chart": _chart(data),
            "failures": [
                {"state": state_name(s), "reason": reason, "count": n} for s, reason, n in data["failures"]
            ],
        }
    )


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@requires(Role.COORDINATOR)
def broadcast_cancel(broadcast_id: int) -> BaseResponse:
    services = core()
    now = services.clock()
    try:
        with services.database.session(timeout=30) as session:
            stopped = service.cancel(session, broadcast_id, now)
            audit.record(
                session,
                _actor(),
                audit.Action.BROADCAST_CANCELLED,
                now,
                f"broadcast {broadcast_id}",
                {"stopped": stopped},
            )
        flash(_("Cancelled: %(n)s deliveries will not be sent. What was sent stays sent.", n=stopped), "ok")
    except BroadcastError as problem:
        flash(str(problem), "error")
    return redirect(url_for("dashboard.broadcast_view", broadcast_id=broadcast_id), code=303)
