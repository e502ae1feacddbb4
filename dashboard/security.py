"""Who may open what: a session, a role per view (checked before the view runs), CSRF on every POST.

Every view declares its role with `@requires(Role.…)` or says it is `@public`; the guard
refuses a view that declares neither (fail closed), so a route added later without a
thought for access is refused to everyone rather than open to anyone.

CSRF: a random nonce lives in the signed, HttpOnly session cookie; the token in each form
is its HMAC under a key derived for this purpose. A page from another site can make the
browser send the cookie but can read neither the nonce nor a token. SameSite=Lax already
keeps the cookie off other sites' POSTs; the token covers older browsers and same-site
attackers.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from dashboard import bp
from dashboard.core import CurrentUser, core
from puente.accounts.models import User
from puente.accounts.roles import Role
from puente.db import DATABASE_ERRORS

F = TypeVar("F", bound=Callable[..., Any])

#: Methods that change nothing: no CSRF token needed.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: Every page's policy: nothing from anywhere but the app itself (deployments may be offline).
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def requires(role: Role) -> Callable[[F], F]:
    """Declare the least role that may use a view."""

    def mark(view: F) -> F:
        view.required_role = role  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Declare a view open without a session (the login form, the language switch)."""
    view.dashboard_public = True  # type: ignore[attr-defined]
    return view


def uploads(max_bytes: int) -> Callable[[F], F]:
    """Declare a view that takes a file larger than the app's 64 KB limit for Twilio's forms."""

    def mark(view: F) -> F:
        view.max_upload = max_bytes  # type: ignore[attr-defined]
        return view

    return mark


def required_role(view: Callable[..., Any]) -> Role | None:
    role: Role | None = getattr(view, "required_role", None)
    return role


def is_public(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, "dashboard_public", False))


# --- CSRF -------------------------------------------------------------------------------------


def _csrf_key() -> bytes:
    return core().vault.key_for("dashboard-csrf")


def csrf_token() -> str:
    """The token for this session's forms (a nonce is made on first use)."""
    nonce = session.get("csrf")
    if not isinstance(nonce, str):
        nonce = session["csrf"] = secrets.token_urlsafe(24)
    return hmac.new(_csrf_key(), nonce.encode(), "sha256").hexdigest()


def csrf_valid() -> bool:
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    nonce = session.get("csrf")
    if not sent or not isinstance(nonce, str):
        return False
    expected = hmac.new(_csrf_key(), nonce.encode(), "sha256").hexdigest()
    return hmac.compare_digest(sent, expected)


def start_session(user_id: int) -> None:
    """A fresh session for a user who just signed in: a new nonce (no session fixation)."""
    session.clear()
    session["uid"] = user_id
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True


def end_session() -> None:
    session.clear()


def safe_next(target: str | None) -> str | None:
    """A `next` to go back to after login: only a dashboard path on this site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard/") or "\\" in target:
        return None
    return target


# --- the guard ---------------------------------------------------------------------------------


def _load_user() -> CurrentUser | None:
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    with core().database.session() as db:
        row = db.scalar(select(User).where(User.id == uid))
        if row is None:  # removed since: the session ends
            session.pop("uid", None)
            return None
        return CurrentUser(row.id, row.email, Role(row.role), row.language)


@bp.before_request
def _guard() -> BaseResponse | None:
    if request.endpoint == "dashboard.static":
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None  # a 404 is coming
    try:
        g.user = _load_user()
    except DATABASE_ERRORS:
        abort(503)
    open_view = is_public(view)
    role = required_role(view)
    if not open_view:
        if g.user is None:
            wanted = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("dashboard.login", next=safe_next(wanted)))
        if role is None:
            abort(403)  # a view that declared nothing: nobody may use it
    limit = getattr(view, "max_upload", None)
    if isinstance(limit, int):
        request.max_content_length = limit  # before the form is read, by the CSRF check below
    if request.method not in SAFE_METHODS and not csrf_valid():
        abort(400, description="csrf")
    if not open_view and role is not None and not g.user.can(role):
        abort(403)
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "dashboard.static":
        # Pages carry people's (masked) data: no shared or back-button cache keeps them.
        response.headers["Cache-Control"] = "no-store"
    return response
