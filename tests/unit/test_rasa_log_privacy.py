"""bot/log_privacy.py: what Rasa's error paths would quote of a person's message is withheld.

The end-to-end suite checks the real paths; these pin each rule, including structlog's
JSON events, which the end-to-end suite cannot make Rasa emit on demand.
"""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.log_privacy import WITHHELD, KeepMessagesOut, scrub, scrub_text, without_messages
from puente.config import PROJECT_ROOT

BODY = "my cousin was detained on 5th street"


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("rasa.core.processor", logging.ERROR, __file__, 1, message, args, exc_info)


def formatted(log_record: logging.LogRecord) -> str:
    return logging.Formatter("%(levelname)s %(name)s - %(message)s").format(log_record)


def raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:  # noqa: BLE001 - to get its traceback
        return caught


def test_an_exception_keeps_its_frames_and_types_not_its_message() -> None:
    try:
        try:
            raise ValueError(f"body='{BODY}'")
        except ValueError as error:
            raise RuntimeError(f"Failed to execute custom action: {BODY}") from error
    except RuntimeError as error:
        log_record = scrub(record("Encountered an exception while running action", exc=error))
    text = formatted(log_record)
    assert BODY not in text
    assert "Encountered an exception while running action" in text
    assert f"builtins.ValueError: {WITHHELD}" in text and f"builtins.RuntimeError: {WITHHELD}" in text
    assert text.index("ValueError") < text.index("RuntimeError")  # the cause first, as Python prints it
    assert __file__ in text  # the frames are kept


def test_sql_parameters_and_postgresql_row_details_are_withheld() -> None:
    event = json.dumps({"event": "user", "text": BODY})
    message = (
        "Error happened when trying to save conversation tracker. Please investigate: "
        '(psycopg2.errors.CheckViolation) new row for relation "events" violates check constraint\n'
        f"DETAIL:  Failing row contains (7, p1a2b3, user, 1795.1, greet, null, {event}).\n"
        "[SQL: INSERT INTO events (sender_id, data) VALUES (%(sender_id)s, %(data)s)]\n"
        f"[parameters: {{'sender_id': 'p1a2b3', 'data': '{event}'}}]\n"
        "(Background on this error at: https://sqlalche.me/e/14/gkpj)"
    )
    text = formatted(scrub(record("%s", message)))
    assert BODY not in text
    assert "violates check constraint" in text and "[SQL: INSERT INTO events" in text


def test_a_quoted_http_body_is_withheld() -> None:
    answer = json.dumps({"error": "boom", "request_body": {"tracker": {"latest_message": {"text": BODY}}}})
    text = scrub_text(f"Failed: 500, Internal Server Error, body='b'{answer}''")
    assert BODY not in text and text == f"Failed: 500, Internal Server Error, body={WITHHELD}"


@pytest.mark.parametrize(
    "quoted",
    [
        json.dumps({"latest_message": {"text": BODY, "intent": "greet"}}),
        repr({"latest_message": {"text": BODY, "intent": "greet"}}),
        json.dumps({"text": f'{BODY} "quoted"', "intent": "greet"}),
    ],
)
def test_a_text_field_anywhere_is_withheld(quoted: str) -> None:
    text = scrub_text(f"Could not handle {quoted}")
    assert BODY not in text and "quoted" not in text and "greet" in text


def test_structlog_json_events_keep_their_name_and_lose_personal_fields() -> None:
    """Rasa renders structlog events as JSON when not on a terminal, with tracebacks'
    local variables (structlog's dict_tracebacks)."""
    event = {
        "text": BODY,
        "event": "rest.message.received.failure",
        "level": "error",
        "exception": [{"exc_type": "ValueError", "frames": [{"locals": {"text": BODY}}]}],
    }
    text = formatted(scrub(record(json.dumps(event))))
    assert BODY not in text
    assert "rest.message.received.failure" in text and '"level": "error"' in text


def test_a_record_without_anything_quoted_is_unchanged() -> None:
    log_record = record("Loading model %s...", "models/puente.tar.gz")
    assert scrub(log_record).msg == "Loading model %s..." and log_record.args == ("models/puente.tar.gz",)


def test_without_messages_survives_a_cycle_of_causes() -> None:
    first, second = raised(ValueError(BODY)), raised(KeyError(BODY))
    first.__context__, second.__context__ = second, first
    assert BODY not in without_messages(first)


@pytest.fixture
def rasa_logging() -> Iterator[None]:
    """bot/logging.yml applied as Rasa applies it; the logging set-up restored afterwards."""
    factory = logging.getLogRecordFactory()
    levels = {name: logging.getLogger(name).level for name in ("rasa", "rasa.core")}
    config = yaml.safe_load((PROJECT_ROOT / "bot" / "logging.yml").read_text())
    try:
        logging.config.dictConfig(config)
        yield
    finally:
        logging.setLogRecordFactory(factory)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_logging_yml_scrubs_every_record_whatever_handler_prints_it(
    rasa_logging: None, tmp_path: Path
) -> None:
    # Rasa's main() swaps the root handler for coloredlogs' after reading the file: a
    # handler added afterwards, with no filter of ours, must still print scrubbed records.
    handler = logging.FileHandler(tmp_path / "rasa.log")
    logger = logging.getLogger("rasa.core.channels.rest")
    logger.addHandler(handler)
    try:
        logger.error("Failed to handle %s", json.dumps({"text": BODY}), exc_info=raised(ValueError(BODY)))
    finally:
        logger.removeHandler(handler)
        handler.close()
    written = (tmp_path / "rasa.log").read_text()
    assert "Failed to handle" in written and "ValueError" in written
    assert BODY not in written


def test_logging_yml_keeps_rasa_at_info_even_when_rasa_is_told_debug(rasa_logging: None) -> None:
    logging.getLogger("rasa").setLevel(logging.DEBUG)  # what `rasa run --debug` or LOG_LEVEL=DEBUG do
    assert not logging.getLogger("rasa.core.processor").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("rasa.core.channels.rest").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("rasa.core.processor").isEnabledFor(logging.INFO)


def test_the_filter_scrubs_records_made_before_it_was_installed() -> None:
    log_record = record("%s", json.dumps({"text": BODY}))
    factory = logging.getLogRecordFactory()
    try:
        assert KeepMessagesOut().filter(log_record)
    finally:
        logging.setLogRecordFactory(factory)
    assert BODY not in log_record.getMessage()
