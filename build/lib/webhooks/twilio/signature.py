"""Twilio request signatures, checked with twilio's own RequestValidator."""

from __future__ import annotations

from flask import Request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)


def signed_url(request: Request, public_base_url: str) -> str:
    """The URL Twilio signed: behind a proxy, PUBLIC_BASE_URL plus the path and query."""
    if not public_base_url:
        return request.url
    query = request.query_string.decode()
    return public_base_url + request.path + (f"?{query}" if query else "")


def is_signed_by_twilio(request: Request, auth_token: str, public_base_url: str) -> bool:
    """True only when X-Twilio-Signature matches this request under `auth_token`."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not auth_token or not signature:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = RequestValidator(auth_token)
    return bool(
        validator.validate(signed_url(request, public_base_url), request.form, signature, algorithm)
    )
