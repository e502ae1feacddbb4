"""Twilio signatures, checked with twilio's RequestValidator exactly as Twilio signs."""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import Flask, request

from puente.simulator import inbound_form, sign
from webhooks.twilio.signature import is_signed_by_twilio, signed_url

TOKEN = "12345678901234567890123456789012"


def twilio_reference_signature(url: str, form: dict[str, str], token: str) -> str:
    """Twilio's documented algorithm, written out: HMAC-SHA1 of URL + sorted key/values."""
    data = url + "".join(k + form[k] for k in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def check(url: str, form: dict[str, str], signature: str | None, public_base_url: str = "") -> bool:
    app = Flask(__name__)
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    with app.test_request_context(url, method="POST", data=form, headers=headers):
        return is_signed_by_twilio(request, TOKEN, public_base_url)


def test_simulator_signs_as_twilio_documents() -> None:
    form = inbound_form("hola", sender="+12135550142")
    url = "https://example.org/twilio/messages"
    assert sign(url, form, TOKEN) == twilio_reference_signature(url, form, TOKEN)


def test_a_correct_signature_passes() -> None:
    form = inbound_form("¿Qué puedes hacer? 你好", sender="+12135550142")
    url = "http://localhost/twilio/messages"
    assert check(url, form, sign(url, form, TOKEN))


def test_missing_wrong_or_tampered_signatures_fail() -> None:
    url = "http://localhost/twilio/messages"
    form = inbound_form("hola", sender="+12135550142")
    good = sign(url, form, TOKEN)
    assert not check(url, form, None)
    assert not check(url, form, "")
    assert not check(url, form, sign(url, form, "another-token"))
    assert not check(url, {**form, "Body": "adios"}, good)
    assert not check(url, {**form, "From": "+12135550143"}, good)


def test_behind_a_proxy_the_public_url_is_what_was_signed() -> None:
    form = inbound_form("hola", sender="+12135550142")
    public = "https://puente.example.org"
    signature = sign(public + "/twilio/messages?x=1", form, TOKEN)
    assert check("http://10.0.0.5:5000/twilio/messages?x=1", form, signature, public_base_url=public)
    assert not check("http://10.0.0.5:5000/twilio/messages?x=1", form, signature)


def test_signed_url_keeps_the_query_string() -> None:
    app = Flask(__name__)
    with app.test_request_context("/twilio/messages?a=1&b=2", method="POST"):
        assert signed_url(request, "https://p.example.org") == "https://p.example.org/twilio/messages?a=1&b=2"
        assert signed_url(request, "") == "http://localhost/twilio/messages?a=1&b=2"


def test_no_auth_token_means_nothing_is_trusted() -> None:
    app = Flask(__name__)
    form = inbound_form("hola", sender="+12135550142")
    url = "http://localhost/twilio/messages"
    with app.test_request_context(
        url, method="POST", data=form, headers={"X-Twilio-Signature": sign(url, form, "")}
    ):
        assert not is_signed_by_twilio(request, "", "")
