"""Plays Twilio: signs and posts inbound messages to the webhook, as Twilio does.

Used by `puente chat`, the end-to-end tests and the latency bench.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import requests
from twilio.request_validator import RequestValidator

# Fictional numbers (555-01xx): never a real person's.
DEFAULT_FROM = "+12135550100"
DEFAULT_TO = "+12135550199"


def new_message_sid() -> str:
    return "SM" + secrets.token_hex(16)


@dataclass(frozen=True)
class Delivery:
    status: int
    replies: list[str]
    body: str


def inbound_form(
    body: str, sender: str = DEFAULT_FROM, to: str = DEFAULT_TO,
    message_sid: str | None = None, whatsapp: bool = False,
    account_sid: str = "AC" + "0" * 32,
) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS or WhatsApp message."""
    sid = message_sid or new_message_sid()
    prefix = "whatsapp:" if whatsapp else ""
    form = {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "CA", "SmsStatus": "received",
        "FromCity": "", "Body": body, "FromCountry": "US", "To": prefix + to, "ToZip": "",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": account_sid,
        "From": prefix + sender, "ApiVersion": "2010-04-01",
    }
    if whatsapp:
        form.update({"ProfileName": "Tester", "WaId": sender.lstrip("+"), "MessageType": "text"})
    return form


def sign(url: str, form: dict[str, str], auth_token: str) -> str:
    """X-Twilio-Signature for a form post to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, form))


def parse_twiml(xml: str) -> list[str]:
    root = ET.fromstring(xml)  # noqa: S314 - TwiML from our own webhook
    return [(m.text or "") for m in root.iter("Message")]


def deliver(
    url: str, form: dict[str, str], auth_token: str,
    session: requests.Session | None = None, timeout: float = 20.0,
    signature: str | None = None,
) -> Delivery:
    """Post `form` to the webhook at `url`, signed (or with the given signature)."""
    headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, form, auth_token)}
    http = session or requests
    response = http.post(url, data=form, headers=headers, timeout=timeout)
    replies = parse_twiml(response.text) if response.status_code == 200 else []
    return Delivery(response.status_code, replies, response.text)
