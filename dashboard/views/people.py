"""Mobilization RSVPs per alert (counts, and who answered, masked), and an admin's audited reveal."""

from __future__ import annotations

from flask import abort, render_template

from dashboard import bp
from dashboard.core import core, signed_in
from dashboard.security import requires
from puente import reports
from puente.accounts import audit
from puente.accounts.roles import Role
from puente.broadcasts.models import Broadcast
from puente.privacy import mask_phone


@bp.get("/rsvps")
@requires(Role.VIEWER)
def rsvps_list() -> str:
    with core().database.session(timeout=10) as session:
        alerts = reports.rsvp_alerts(session)
    return render_template("dashboard/rsvps_list.html", alerts=alerts, active="rsvps")


@bp.get("/rsvps/<int:broadcast_id>")
@requires(Role.VIEWER)
def rsvp_view(broadcast_id: int) -> str:
    services = core()
    with services.database.session(timeout=10) as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.rsvp_until is None:
            abort(404)
        answers = reports.rsvp_answers(session, services.vault, broadcast_id)
    return render_template("dashboard/rsvp_view.html", broadcast=broadcast, answers=answers, active="rsvps")


@bp.post("/reveal/<int:contact_id>")
@requires(Role.ADMIN)
def reveal(contact_id: int) -> str:
    """An admin sees one person's full number; the audit log keeps who, when and whose (by id)."""
    services = core()
    user = signed_in()
    with services.database.session(timeout=10) as session:
        number = reports.reveal_number(session, services.vault, contact_id)
        if number is None:
            abort(404)
        audit.record(
            session,
            audit.Actor(user.id, user.email),
            audit.Action.NUMBER_REVEALED,
            services.clock(),
            f"contact {contact_id}",
        )
    return render_template(
        "dashboard/reveal.html",
        contact_id=contact_id,
        number=number,
        masked=mask_phone(number),
        active="rsvps",
    )
