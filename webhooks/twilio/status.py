"""`POST /twilio/status`: Twilio's status callback for the messages Puente sent."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from puente.broadcasts.sending import apply_early_statuses_committed, record_status
from puente.config import Settings
from puente.db import DATABASE_ERRORS
from webhooks.services import services
from webhooks.twilio.signature import is_signed_by_twilio

logger = logging.getLogger(__name__)

bp = Blueprint("twilio_status", __name__, url_prefix="/twilio")

#: Tries when another callback for the message, or the record of its send, changed its early
#: status meanwhile (two inserts of it; an update of one the record applied and removed).
ATTEMPTS = 3


@bp.post("/status")
def status_callback() -> Response:
    settings: Settings = current_app.config["PUENTE_SETTINGS"]
    if not is_signed_by_twilio(request, settings.twilio_auth_token, settings.public_base_url):
        logger.warning("status callback refused: missing or wrong X-Twilio-Signature")
        abort(403)
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    status = request.form.get("MessageStatus") or request.form.get("SmsStatus") or ""
    if not sid or not status:
        abort(400, "MessageSid and MessageStatus are required")
    code_text = (request.form.get("ErrorCode") or "").strip()
    error_code = int(code_text) if code_text.isdigit() else None
    core = services()
    applied = False
    try:
        for attempt in range(ATTEMPTS):
            try:
                with core.database.session() as session:
                    applied = record_status(session, sid, status, error_code, core.clock())
                break
            except (IntegrityError, StaleDataError):
                # Changed meanwhile by another callback or by the record of the send: look again
                # (the delivery may be recorded by now).
                if attempt + 1 == ATTEMPTS:
                    raise
    except DATABASE_ERRORS as error:
        # Not taken: a 503 shows in Twilio's debugger; the reconciler and a later callback catch up.
        logger.warning("status callback not recorded: the database did not answer (%s)", type(error).__name__)
        return Response("", status=503)
    if not applied:
        # Kept as early: its send may have been recorded meanwhile, unseen (see the function).
        apply_early_statuses_committed(core.database, [sid])
    return Response("", status=204)
