"""`POST /twilio/messages`: Twilio's inbound webhook for SMS and WhatsApp."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request

from puente.config import Settings
from puente.conversation import InboundText, handle_inbound
from puente.messaging.twiml import render_twiml
from puente.privacy import InvalidAddress
from webhooks.services import services
from webhooks.twilio.signature import is_signed_by_twilio

logger = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/twilio")


@bp.post("/messages")
def inbound_message() -> Response:
    settings: Settings = current_app.config["PUENTE_SETTINGS"]
    if not is_signed_by_twilio(request, settings.twilio_auth_token, settings.public_base_url):
        logger.warning("inbound request refused: missing or wrong X-Twilio-Signature")
        abort(403)
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    sender = request.form.get("From", "")
    if not sid or not sender:
        abort(400, "MessageSid and From are required")
    try:
        outcome = handle_inbound(services(), InboundText(sid, sender, request.form.get("Body", "")))
    except InvalidAddress:
        abort(400, "From is not a phone number")
    return Response(render_twiml(outcome.replies), mimetype="text/xml")
