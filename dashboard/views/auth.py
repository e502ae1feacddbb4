"""Sign in, sign out, and the interface language."""

from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from dashboard import bp
from dashboard.core import core, current_user
from dashboard.i18n import COOKIE, COOKIE_MAX_AGE, LANGUAGES
from dashboard.i18n import gettext as _
from dashboard.security import end_session, public, requires, safe_next, start_session
from puente.accounts import audit, service
from puente.accounts.models import User
from puente.accounts.roles import Role


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> BaseResponse | tuple[str, int] | str:
    if request.method == "GET":
        if current_user() is not None:
            return redirect(url_for("dashboard.overview"))
        return render_template("dashboard/login.html", next=safe_next(request.args.get("next")))
    services = core()
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    wanted = safe_next(request.form.get("next"))
    result = service.authenticate(
        services.database, services.vault, email, password, request.remote_addr or "unknown", services.clock()
    )
    user_id = result.user.id if result.user else None
    if result.outcome is service.Outcome.THROTTLED:
        minutes = max(1, (result.retry_after + 59) // 60)
        page = render_template(
            "dashboard/login.html",
            next=wanted,
            email=email,
            error=_("Too many attempts. Wait %(minutes)s minutes and try again.", minutes=minutes),
        )
        return page, 429
    if user_id is None:
        page = render_template(
            "dashboard/login.html",
            next=wanted,
            email=email,
            error=_("That e-mail and password do not match an account."),
        )
        return page, 401
    start_session(user_id)
    return redirect(wanted or url_for("dashboard.overview"))


@bp.post("/logout")
@requires(Role.VIEWER)
def logout() -> BaseResponse:
    user = current_user()
    services = core()
    if user is not None:
        with services.database.session() as session:
            audit.record(session, audit.Actor(user.id, user.email), audit.Action.LOGOUT, services.clock())
    end_session()
    return redirect(url_for("dashboard.login"))


@bp.post("/language")
@public
def language() -> BaseResponse:
    """Remember the interface language: in a cookie, and in the profile of a signed-in user."""
    chosen = request.form.get("lang", "")
    back = safe_next(request.form.get("next")) or url_for("dashboard.overview")
    response: Response = redirect(back)  # type: ignore[assignment]
    if chosen not in LANGUAGES:
        return response
    response.set_cookie(
        COOKIE,
        chosen,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=core().settings.public_base_url.startswith("https://"),
        path="/dashboard",
    )
    user = current_user()
    if user is not None:
        with core().database.session() as session:
            row = session.get(User, user.id)
            if row is not None:
                row.language = chosen
    return response
