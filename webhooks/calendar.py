"""`GET /hearings/<id>.ics?lang=es`: a hearing for a phone's calendar, the link in reminders.

Public, like the hearing itself: the link names a hearing and a language, never who got it.
An unknown id is a bare 404; a database that does not answer, a 503 to try again.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from puente.broadcasts.ics import find_hearing, hearing_ics
from puente.db import DATABASE_ERRORS
from puente.i18n import BASE_LANGUAGE
from webhooks.services import services

logger = logging.getLogger(__name__)

bp = Blueprint("calendar", __name__)


@bp.get("/hearings/<hearing_id>.ics")
def hearing_calendar(hearing_id: str) -> Response:
    core = services()
    language = request.args.get("lang", BASE_LANGUAGE)
    if language not in core.languages.codes:
        language = BASE_LANGUAGE
    try:
        found = find_hearing(core.database, hearing_id)
    except DATABASE_ERRORS as error:
        logger.warning("hearing calendar not served: the database failed (%s)", type(error).__name__)
        return Response("try again later\n", 503, mimetype="text/plain", headers={"Retry-After": "60"})
    if found is None:
        return Response("not found\n", 404, mimetype="text/plain")
    hearing, timezone = found
    return Response(
        hearing_ics(hearing, timezone, language, core.settings.public_base_url),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{hearing.id}.ics"'},
    )
