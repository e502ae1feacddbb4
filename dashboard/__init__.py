"""The coordinators' dashboard: a Flask blueprint under /dashboard/, registered by the app factory.

An entry point like the Twilio routes: it checks who is asking (a session, a role, a CSRF
token), reads a form, and calls the core (`puente.accounts`, `puente.directory`,
`puente.broadcasts`, `puente.reports`). Pages are rendered on the server and work without
JavaScript; every asset is served from `static/`.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask

from puente.services import Services

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: How long a login lasts: a working day.
SESSION_LIFETIME = timedelta(hours=12)


def init_app(app: Flask, core: Services) -> None:
    """Key the sessions, set the cookie's flags, and register the blueprint."""
    from dashboard import i18n, security  # noqa: F401 - the guard is declared on import
    from dashboard.views import (  # noqa: F401 - each module adds its routes to `bp`
        auth,
        broadcasts,
        directory,
        hearings,
        overview,
        people,
        simulator,
        users,
    )

    settings = core.settings
    # A key of its own, derived from PUENTE_SECRET_KEY: a leak of it says nothing about phone keys.
    app.secret_key = core.vault.key_for("dashboard-session")
    app.config.update(
        SESSION_COOKIE_NAME="puente_dashboard",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        SESSION_COOKIE_PATH="/dashboard",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    i18n.init_app(app)
    app.register_blueprint(bp)
