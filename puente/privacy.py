"""Privacy primitives: phone numbers are encrypted at rest and found by keyed hash.

A phone number never appears in plaintext in the database, in Rasa's tracker
store or in a log line. Each use of the secret key gets its own derived key, so
a leaked lookup hash says nothing about the encryption key and back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import cached_property

from cryptography.fernet import Fernet


class InvalidAddress(ValueError):
    """A `From`/`To` value that is not a phone number Puente can text."""


@dataclass(frozen=True)
class Address:
    """Where a person texts from: a channel and an E.164 phone number."""

    channel: str  # "sms" or "whatsapp"
    phone: str  # E.164, e.g. +12135550123

    @property
    def urn(self) -> str:
        """Twilio's form of the address: `whatsapp:+1…` for WhatsApp, the bare number for SMS."""
        return f"whatsapp:{self.phone}" if self.channel == "whatsapp" else self.phone


# ASCII digits only: `\d` would take any script's digits, and "+1٢١٣…" is no number Twilio sends.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def parse_address(value: str) -> Address:
    """Parse Twilio's `From` value: `+12135550123` or `whatsapp:+12135550123`."""
    raw = value.strip()
    channel = "sms"
    if raw.lower().startswith("whatsapp:"):
        channel, raw = "whatsapp", raw.split(":", 1)[1].strip()
    phone = re.sub(r"[\s().-]", "", raw)
    if not _E164.fullmatch(phone):
        # The message names no digits: the value itself may be a phone number.
        raise InvalidAddress("not an E.164 phone number")
    return Address(channel=channel, phone=phone)


class Vault:
    """Keys derived from PUENTE_SECRET_KEY, and what they do."""

    def __init__(self, secret_key: bytes) -> None:
        self._secret = secret_key

    def _derive(self, purpose: str) -> bytes:
        return hmac.new(self._secret, b"puente:" + purpose.encode(), hashlib.sha256).digest()

    @cached_property
    def _fernet(self) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(self._derive("phone-encryption")))

    @cached_property
    def _phone_lookup_key(self) -> bytes:
        return self._derive("phone-lookup")

    def phone_hash(self, phone: str) -> str:
        """Keyed hash of an E.164 number: the lookup key for a contact."""
        # hmac.digest: the one-shot C path, several times faster than hmac.new (imports hash millions).
        return hmac.digest(self._phone_lookup_key, phone.encode(), "sha256").hex()

    def message_sid_hash(self, message_sid: str) -> str:
        """Keyed hash of a Twilio MessageSid, for deduplication without keeping the SID."""
        return hmac.new(self._derive("message-sid"), message_sid.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        return self._fernet.decrypt(token).decode()


def new_pseudonym() -> str:
    """A random sender id for Rasa: it cannot be turned back into a phone number."""
    return "p" + secrets.token_hex(16)
