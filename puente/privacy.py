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

from cryptography.fernet import Fernet, InvalidToken


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
    """Keys derived from PUENTE_SECRET_KEY, and what they do.

    During a key rotation (`puente keys rotate`) the vault also holds the key in use before,
    PUENTE_OLD_SECRET_KEY, as `previous`: everything new is hashed and encrypted with the
    current key, while lookups also try the previous key's hashes and decryption falls back
    to it, so a row not rotated yet is still found and read.
    """

    def __init__(self, secret_key: bytes, old_secret_key: bytes | None = None) -> None:
        self._secret = secret_key
        self.previous: Vault | None = (
            Vault(old_secret_key) if old_secret_key and old_secret_key != secret_key else None
        )

    def _derive(self, purpose: str) -> bytes:
        return hmac.new(self._secret, b"puente:" + purpose.encode(), hashlib.sha256).digest()

    def key_for(self, purpose: str) -> bytes:
        """A key of its own for another part of Puente (the dashboard's sessions, its CSRF tokens):
        a leak of one derived key says nothing about the phone-number keys, nor they about it."""
        if purpose in _PRIVATE_PURPOSES:
            raise ValueError(f"{purpose!r} is the vault's own key")
        return self._derive(purpose)

    @cached_property
    def key_id(self) -> str:
        """A short fingerprint of the key, stored beside what it hashed or encrypted (not a secret)."""
        return self._derive("key-id").hex()[:12]

    @cached_property
    def _fernet(self) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(self._derive("phone-encryption")))

    @cached_property
    def _phone_lookup_key(self) -> bytes:
        return self._derive("phone-lookup")

    def phone_hash(self, phone: str) -> str:
        """Keyed hash of an E.164 number under the current key: the lookup key for a contact."""
        # hmac.digest: the one-shot C path, several times faster than hmac.new (imports hash millions).
        return hmac.digest(self._phone_lookup_key, phone.encode(), "sha256").hex()

    def phone_hashes(self, phone: str) -> tuple[str, ...]:
        """The number's hash under the current key, then under the previous one (during a rotation)."""
        current = self.phone_hash(phone)
        return (current,) if self.previous is None else (current, self.previous.phone_hash(phone))

    def message_sid_hash(self, message_sid: str) -> str:
        """Keyed hash of a Twilio MessageSid, for deduplication without keeping the SID."""
        return hmac.new(self._derive("message-sid"), message_sid.encode(), hashlib.sha256).hexdigest()

    def message_sid_hashes(self, message_sid: str) -> tuple[str, ...]:
        current = self.message_sid_hash(message_sid)
        return (current,) if self.previous is None else (current, self.previous.message_sid_hash(message_sid))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        """The plaintext, under the current key or else the previous one; InvalidToken if neither."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            if self.previous is None:
                raise
            return self.previous.decrypt(token)


#: The purposes the vault keeps to itself.
_PRIVATE_PURPOSES = frozenset({"key-id", "phone-encryption", "phone-lookup", "message-sid"})
#: What stands for each hidden digit group in a masked number.
_HIDDEN = "•••"


def mask_phone(phone: str) -> str:
    """A number as anyone but an admin may see it: the country code and the last four digits.

    `+18055550163` → `+1 ••• ••• 0163`; `whatsapp:+1…` keeps its channel; anything that is no
    number is hidden whole. The one helper every page and message uses: nobody re-invents it.
    """
    try:
        address = parse_address(phone)
    except InvalidAddress:
        return _HIDDEN
    digits = address.phone[1:]
    if digits.startswith("1") and len(digits) == 11:
        shown = f"+1 {_HIDDEN} {_HIDDEN} {digits[-4:]}"
    else:
        import phonenumbers

        try:
            code = str(phonenumbers.parse(address.phone).country_code)
        except phonenumbers.NumberParseException:
            code = digits[:1]
        shown = f"+{code} {_HIDDEN} {digits[-4:]}"
    return f"whatsapp:{shown}" if address.channel == "whatsapp" else shown


def new_pseudonym() -> str:
    """A random sender id for Rasa: it cannot be turned back into a phone number."""
    return "p" + secrets.token_hex(16)
