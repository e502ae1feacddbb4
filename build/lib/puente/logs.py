"""Logging set-up shared by every Puente process.

Puente logs ids and counts, never phone numbers or message bodies. As a second
line of defence, a filter masks anything shaped like a phone number in every
record that reaches our handlers, including other libraries' records.
"""

from __future__ import annotations

import logging
import re

PHONE_LIKE = re.compile(r"(?:whatsapp:)?\+?\d[\d\s().-]{8,}\d")


class RedactPhoneNumbers(logging.Filter):
    """Replaces phone-number-shaped text in a record with `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = PHONE_LIKE.sub("[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr with the redaction filter on the root handler (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(f, RedactPhoneNumbers) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactPhoneNumbers())
    root.addHandler(handler)
    root.setLevel(level.upper())
