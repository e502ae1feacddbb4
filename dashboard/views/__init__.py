"""The dashboard's pages, one module per area; what every template is given; error pages."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from werkzeug.exceptions import HTTPException

from dashboard import bp
from dashboard.core import core, current_user
from dashboard.i18n import gettext as _
from dashboard.security import csrf_token
from puente.privacy import mask_phone


def role_name(role: str) -> str:
    names = {"admin": _("admin"), "coordinator": _("coordinator"), "viewer": _("viewer")}
    return names.get(str(role), str(role))


def here() -> str:
    """Where the language switch comes back to: this page, or (after a POST) the page it came from."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = request.referrer or ""
    if referrer.startswith(request.host_url):
        return "/" + referrer[len(request.host_url) :]
    return url_for("dashboard.overview")


@bp.context_processor
def _template_context() -> dict[str, Any]:
    return {
        "here": here,
        "user": current_user(),
        "csrf_token": csrf_token,
        "role_name": role_name,
        "mask_phone": mask_phone,
        "simulator_enabled": core().settings.development,
    }


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(429)
@bp.errorhandler(503)
def _error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    titles = {
        400: _("This form has expired or was not sent from the dashboard. Reload the page and try again."),
        403: _("Your role does not allow this. Ask an admin if you need it."),
        404: _("There is nothing here."),
        429: _("Too many attempts. Wait a few minutes and try again."),
        503: _("The database is not answering. Try again in a minute."),
    }
    return render_template("dashboard/error.html", code=code, message=titles.get(code, "")), code
