"""The phone simulator (PUENTE_ENV=development only): text Puente as a test number, from the browser.

The message goes through the real inbound route, signed as Twilio signs it, in process (no
HTTP to ourselves, which a single gunicorn worker could not answer). Nothing of the
exchange is stored by the page; the conversation itself is stored as any texter's is.
"""

from __future__ import annotations

from flask import abort, current_app, render_template, request

from dashboard import bp
from dashboard.core import core
from dashboard.security import requires
from puente.accounts.roles import Role
from puente.privacy import InvalidAddress, mask_phone, parse_address
from puente.simulator import DEFAULT_FROM, inbound_form, parse_twiml, sign


@bp.route("/simulator", methods=["GET", "POST"])
@requires(Role.COORDINATOR)
def simulator() -> tuple[str, int]:
    services = core()
    if not services.settings.development:
        abort(404)
    sender = request.form.get("from", DEFAULT_FROM).strip() or DEFAULT_FROM
    whatsapp = request.form.get("channel") == "whatsapp"
    exchange: list[tuple[str, str]] = []
    error = None
    status = 200
    if request.method == "POST":
        text = request.form.get("body", "").strip()
        try:
            address = parse_address(sender)
        except InvalidAddress:
            address = None
            error, status = "invalid", 422
        if address is not None and text:
            url = (services.settings.public_base_url or "http://localhost") + "/twilio/messages"
            form = inbound_form(text, sender=address.phone, whatsapp=whatsapp)
            signature = sign(url, form, services.settings.twilio_auth_token)
            base = services.settings.public_base_url or "http://localhost"
            with current_app.test_client() as client:
                answer = client.post(
                    "/twilio/messages", data=form, base_url=base, headers={"X-Twilio-Signature": signature}
                )
            exchange.append(("me", text))
            if answer.status_code == 200:
                exchange.extend(("puente", reply) for reply in parse_twiml(answer.get_data(as_text=True)))
            else:
                error, status = f"HTTP {answer.status_code}", 502
    return render_template(
        "dashboard/simulator.html",
        sender=sender,
        masked=mask_phone(sender),
        whatsapp=whatsapp,
        exchange=exchange,
        error=error,
        active="simulator",
    ), status
