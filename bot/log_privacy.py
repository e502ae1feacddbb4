"""Keeps what people text out of Rasa's logs. Loaded by bot/logging.yml; not training data.

Rasa 3.6 writes a person's message into its logs on error paths, at any level:

- an action server error: the traceback quotes the action server's answer, and
  rasa-sdk's error answer echoes the whole request (the tracker, the latest text);
- a tracker store error: the message quotes the failed SQL statement's parameters,
  the event with the text;
- the REST channel's failure event (structlog, rendered as JSON): `text=` and a
  traceback holding every frame's local variables.

(The DEBUG lines that quote every message are kept out by logging.yml's levels.)

Rasa's `main()` reads logging.yml and then replaces the root logger's stream handler
with coloredlogs' own, so a filter on a handler would be dropped with it. Instead,
constructing `KeepMessagesOut` installs a LogRecord factory: every record, whichever
handler prints it, is scrubbed as it is made:

- an exception keeps its frames and types, not its message;
- SQL parameters, PostgreSQL's row details and quoted HTTP bodies are withheld;
- `text` fields, and the structlog fields Rasa itself lists as personal, are withheld.

Runs on Rasa's Python 3.10, with the standard library only.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import Any

WITHHELD = "[withheld]"

#: structlog event fields that Rasa 3.6 lists as personal (`_anonymizer` in
#: rasa/utils/log_utils.py, which only Rasa Pro acts on), and `exception`: structlog's
#: structured traceback, with every frame's local variables.
PERSONAL_FIELDS = frozenset(
    {
        "text", "response_text", "user_text", "slot_values", "parse_data_text",
        "parse_data_entities", "prediction_events", "tracker_latest_message",
        "prefilled_slots", "message", "response", "slot_candidates", "rasa_event",
        "rasa_events", "tracker_states", "current_states", "old_states", "successes",
        "current_entity", "next_entity", "states", "entity", "token_text",
        "user_message", "json_message", "exception",
    }
)

# What, inside a message, quotes data (a line at a time: each is one line).
QUOTING = (
    # SQLAlchemy's errors: "[parameters: ('p1a2…', 'user', …, '{"text": …}')]".
    (re.compile(r"^\[parameters: .*$", re.MULTILINE), f"[parameters: {WITHHELD}]"),
    # PostgreSQL's: "DETAIL:  Failing row contains (…)", "Key (…)=(…) already exists".
    (re.compile(r"^DETAIL: .*$", re.MULTILINE), f"DETAIL: {WITHHELD}"),
    # Rasa's ClientResponseError: "500, Internal Server Error, body='…'".
    (re.compile(r"\bbody=.*$", re.MULTILINE), f"body={WITHHELD}"),
    # Anywhere else, a "text" field of JSON or of a Python dict (Rasa's events, parse data).
    (
        re.compile(r"""(?P<key>(?P<q>["'])text(?P=q)\s*:\s*)(?P<v>["'])(?:\\.|(?!(?P=v)).)*(?P=v)"""),
        rf'\g<key>"{WITHHELD}"',
    ),
)


def without_messages(error: BaseException) -> str:
    """A traceback with its frames and exception types, not the exceptions' messages."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    lines: list[str] = []
    for exc in reversed(chain):  # the first cause first, as Python prints them
        lines.append("Traceback (most recent call last):")
        frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
        lines.extend(frame.rstrip("\n") for frame in frames)
        lines.append(f"{type(exc).__module__}.{type(exc).__qualname__}: {WITHHELD}")
    return "\n".join(lines)


def scrub_text(message: str) -> str:
    """`message` with what quotes a person's words withheld."""
    if message.startswith("{"):
        try:
            event: Any = json.loads(message)
        except ValueError:
            event = None
        if isinstance(event, dict):
            message = json.dumps({k: WITHHELD if k in PERSONAL_FIELDS else v for k, v in event.items()})
    for pattern, replacement in QUOTING:
        message = pattern.sub(replacement, message)
    return message


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Withhold, in place, what in `record` could quote a person's message."""
    if record.exc_info and record.exc_info[1] is not None:
        # Formatters print exc_text as the traceback when exc_info is gone.
        record.exc_text = without_messages(record.exc_info[1])
        record.exc_info = None
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
        return record
    scrubbed = scrub_text(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    return record


def install_record_factory() -> None:
    """Scrub every record made from now on in this process (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "keeps_messages_out", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(previous(*args, **kwargs))

    factory.keeps_messages_out = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class KeepMessagesOut(logging.Filter):
    """logging.yml's hook: constructing it installs the record factory (see above).

    As a filter it also scrubs records made before the factory was installed.
    """

    def __init__(self) -> None:
        super().__init__()
        install_record_factory()

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True
