"""Users (admins add and remove them) and the audit log (admins read it)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from dashboard import bp
from dashboard.core import core, signed_in
from dashboard.i18n import gettext as _
from dashboard.security import requires
from puente.accounts import audit, service
from puente.accounts.roles import Role


def _actor() -> audit.Actor:
    user = signed_in()
    return audit.Actor(user.id, user.email)


@bp.get("/users")
@requires(Role.ADMIN)
def users_list(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with core().database.session(timeout=10) as session:
        found = service.list_users(session)
    return render_template(
        "dashboard/users.html", users=found, roles=[r.value for r in Role], error=error, active="users"
    ), status


@bp.post("/users")
@requires(Role.ADMIN)
def user_add() -> BaseResponse | tuple[str, int]:
    services = core()
    try:
        with services.database.session(timeout=10) as session:
            added = service.add_user(
                session,
                request.form.get("email", ""),
                request.form.get("role", ""),
                request.form.get("password", ""),
                services.clock(),
                _actor(),
            )
            email = added.email
    except service.AccountError as problem:
        return users_list(error=str(problem), status=422)
    flash(_("Added %(email)s.", email=email), "ok")
    return redirect(url_for("dashboard.users_list"), code=303)


@bp.post("/users/<int:user_id>/remove")
@requires(Role.ADMIN)
def user_remove(user_id: int) -> BaseResponse | tuple[str, int]:
    services = core()
    try:
        with services.database.session(timeout=10) as session:
            found = service.find_user(session, user_id)
            if found is None:
                abort(404)
            email = found.email
            service.remove_user(session, email, services.clock(), _actor())
    except service.AccountError as problem:
        return users_list(error=str(problem), status=422)
    flash(_("Removed %(email)s.", email=email), "ok")
    return redirect(url_for("dashboard.users_list"), code=303)


@bp.get("/audit")
@requires(Role.ADMIN)
def audit_log() -> str:
    action = request.args.get("action") or None
    with core().database.session(timeout=10) as session:
        entries = audit.recent(session, 300, action)
    return render_template(
        "dashboard/audit.html",
        entries=entries,
        actions=[a.value for a in audit.Action],
        action=action,
        active="audit",
    )
