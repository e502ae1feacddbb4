"""End to end: Twilio (simulated, signing as Twilio does) → gunicorn webhooks → Rasa 3.6.21
→ rasa-sdk 3.21 action server → database, over SMS and WhatsApp, in English and Spanish
and the other supported languages.

The tests run in file order: the last ones stop the action server and Rasa, and the
privacy scan reads everything the suite left behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from puente.config import PROJECT_ROOT
from puente.db import make_engine
from puente.i18n import registry
from puente.jobs.queue import JobQueue
from tests.e2e.conftest import TextLine, redis_queue_dump
from tests.e2e.test_alerts_e2e import BODIES as ALERTS_BODIES
from tests.e2e.test_alerts_e2e import EVERYONE as ALERTS_PEOPLE
from tests.e2e.test_broadcasts_e2e import BODIES as BROADCAST_BODIES
from tests.e2e.test_broadcasts_e2e import EVERYONE as BROADCAST_PEOPLE
from tests.e2e.test_directory_answers import BODIES as DIRECTORY_BODIES
from tests.e2e.test_directory_answers import EVERYONE as DIRECTORY_PEOPLE
from tests.e2e.texts import FALLBACK, GREETING, in_any_language, tr

pytestmark = pytest.mark.e2e

CAPABILITIES = (
    "Puente helps with local immigrant-rights policies in California: what your city, county and "
    "school district have passed, local coalitions, and legal clinics at schools. Text LANGUAGE to "
    "change language, HELP for help, STOP to unsubscribe."
)
SWITCHED = "OK, I'll write to you in English from now on."
MENU = "Which language would you like? Reply with one of: %(languages)s"
STOPPED = "You are unsubscribed from Puente and will get no more messages. Text START to come back."
STARTED = "Welcome back! You are subscribed to Puente again. Text HELP for help or STOP to unsubscribe."

# Fictional numbers (555-01xx), one per person in this suite.
MARIA = "+12135550142"  # Spanish, SMS
JOHN = "+14155550143"  # English, WhatsApp
LAN = "+14085550163"  # Vietnamese, then Korean
WEI = "+16265550188"  # Chinese
ANA = "+15105550109"  # Tagalog
ROSA = "+17145550133"  # Spanish, WhatsApp
SAM = "+19165550104"  # English, SMS
CHATTER = "+19165550105"  # English, through `puente chat`
# With the people of the other e2e modules, which share this stack: the final scan looks for all.
EVERYONE = (
    MARIA,
    JOHN,
    LAN,
    WEI,
    ANA,
    ROSA,
    SAM,
    CHATTER,
    *DIRECTORY_PEOPLE,
    *ALERTS_PEOPLE,
    *BROADCAST_PEOPLE,
)
# Distinctive bodies sent above, looked for in the logs at the end.
BODIES = (
    "¿qué puedes hacer?",
    "đổi ngôn ngữ",
    "請用繁體中文",
    "kumusta po",
    "hola, ¿me ayudas?",
    "hello again",
)
# Sent while the tracker store or the action server fails: Rasa's error paths quote them
# (SQL parameters, PostgreSQL's failing row, the action server's answer) unless
# bot/logging.yml keeps them out. ASCII, so that a JSON log holds them as they are.
FAILING_BODIES = ("zebra crossing by the old quay", "walrus asleep at the tram depot")


def test_health_is_ok_when_everything_runs(text_line: TextLine) -> None:
    response = text_line.health()
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    assert response.json()["services"]["worker"] == "ok"


def test_the_stacks_worker_runs_what_is_queued(text_line: TextLine) -> None:
    queue = JobQueue(text_line.settings)
    try:
        token, ran_by = queue.enqueue("ping", 1).get(blocking=True, timeout=30)
    finally:
        queue.close()
    assert token == 1 and ran_by.endswith(f":{text_line.stack.processes['worker'].pid}")


def test_hola_gets_a_spanish_reply(text_line: TextLine) -> None:
    delivery = text_line.text("hola", MARIA)
    assert delivery.status == 200
    assert delivery.replies == [tr("es", GREETING)]
    assert tr("es", GREETING) != GREETING


def test_spanish_capabilities_over_sms(text_line: TextLine) -> None:
    assert text_line.text("¿qué puedes hacer?", MARIA).replies == [tr("es", CAPABILITIES)]


@pytest.mark.parametrize(
    ("body", "language", "whatsapp", "sender"),
    [
        ("hola, buenos días", "es", True, ROSA),
        ("good morning!", "en", False, SAM),
    ],
)
def test_english_and_spanish_on_both_channels(
    text_line: TextLine, body: str, language: str, whatsapp: bool, sender: str
) -> None:
    assert text_line.text(body, sender, whatsapp=whatsapp).replies == [tr(language, GREETING)]


def test_english_over_whatsapp(text_line: TextLine) -> None:
    assert text_line.text("hello", JOHN, whatsapp=True).replies == [GREETING]
    assert text_line.text("what can you do?", JOHN, whatsapp=True).replies == [CAPABILITIES]


def test_choosing_a_language_sticks(text_line: TextLine) -> None:
    assert text_line.text("xin chào", LAN).replies == [tr("vi", GREETING)]
    menu = text_line.text("đổi ngôn ngữ", LAN).replies
    assert menu == [tr("vi", MENU) % {"languages": registry().menu()}]
    assert text_line.text("한국어", LAN).replies == [tr("ko", SWITCHED)]
    # Chosen, so an English "hello" is still answered in Korean.
    assert text_line.text("hello", LAN).replies == [tr("ko", GREETING)]


def test_chinese_and_tagalog(text_line: TextLine) -> None:
    assert text_line.text("你好", WEI).replies == [tr("zh_Hans", GREETING)]
    assert text_line.text("請用繁體中文", WEI).replies == [tr("zh_Hant", SWITCHED)]
    assert text_line.text("kumusta po", ANA, whatsapp=True).replies == [tr("tl", GREETING)]


def test_spanish_stop_keyword_is_handled_before_rasa(text_line: TextLine) -> None:
    assert text_line.text("PARAR", MARIA).replies == [tr("es", STOPPED)]
    assert text_line.text("START", MARIA).replies == [tr("es", STARTED)]


def test_unsigned_requests_are_refused(text_line: TextLine) -> None:
    import requests

    from puente.simulator import inbound_form

    response = requests.post(text_line.webhook_url, data=inbound_form("hola", sender=MARIA), timeout=10)
    assert response.status_code == 403


def test_a_redelivered_message_is_answered_once(text_line: TextLine) -> None:
    first = text_line.text("hello again", JOHN, whatsapp=True, sid="SM" + "d" * 32)
    again = text_line.text("hello again", JOHN, whatsapp=True, sid="SM" + "d" * 32)
    assert first.replies and again.status == 200 and again.replies == []


def test_puente_chat_holds_a_conversation(text_line: TextLine) -> None:
    env = {
        **os.environ,
        "PORT": str(text_line.settings.port),
        "TWILIO_AUTH_TOKEN": text_line.settings.twilio_auth_token,
    }
    chat = Path(sys.executable).parent / "puente"
    done = subprocess.run(
        [str(chat), "chat", "--from", CHATTER, "-m", "hello", "-m", "what can you do?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # A new person who writes English is answered in English, both times.
    assert f"< {GREETING}" in done.stdout
    assert f"< {CAPABILITIES}" in done.stdout


@contextmanager
def tracker_store_refusing_writes(text_line: TextLine) -> Iterator[None]:
    """Every new row of Rasa's `events` table fails, as a full disk or a broken constraint would."""
    engine = make_engine(text_line.settings.database_url)
    if text_line.backend == "postgresql":
        # PostgreSQL's error then quotes the whole row ("DETAIL: Failing row contains (…)").
        refuse = "ALTER TABLE events ADD CONSTRAINT refuse_writes CHECK (false) NOT VALID"
        allow = "ALTER TABLE events DROP CONSTRAINT refuse_writes"
    else:
        refuse = (
            "CREATE TRIGGER refuse_writes BEFORE INSERT ON events "
            "BEGIN SELECT RAISE(ABORT, 'refusing writes'); END"
        )
        allow = "DROP TRIGGER refuse_writes"
    try:
        with engine.begin() as connection:
            connection.execute(text(refuse))
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text(allow))
        engine.dispose()


class FailingActionServer(BaseHTTPRequestHandler):
    """Answers every action call as rasa-sdk 3.21 does when an action raises: HTTP 500
    with the error and the whole request (the tracker, the latest message) echoed back."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"error": "the database is unavailable", "request_body": request}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_rasa_logs_failures_without_the_message(text_line: TextLine) -> None:
    """Done means 5: the failures are in Rasa's log, the messages are not (scanned at the end)."""
    tracker_store_body, action_body = FAILING_BODIES
    # SAM has texted before: the first row written for this message is the message.
    with tracker_store_refusing_writes(text_line):
        assert text_line.text(tracker_store_body, SAM).status == 200

    text_line.stack.stop("actions")
    server = HTTPServer(("127.0.0.1", text_line.settings.actions_port), FailingActionServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reply = text_line.text(action_body, SAM).replies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        text_line.restart("actions")
    assert len(reply) == 1 and reply[0] in in_any_language(FALLBACK)

    rasa_log = (text_line.workdir / "logs" / "rasa.log").read_text(errors="replace")
    assert "Error happened when trying to save conversation tracker" in rasa_log
    assert "Encountered an exception while running action" in rasa_log
    # Nor what the failed statement carried: the person's event (language, intent and,
    # but for the drivers' truncation, the words).
    assert not re.search(r"^\[parameters: (?!\[withheld\])", rasa_log, re.MULTILINE)
    assert "Failing row contains" not in rasa_log


def test_action_server_down_gets_a_localized_reply(text_line: TextLine) -> None:
    text_line.stack.stop("actions")
    try:
        assert text_line.text("hola", MARIA).replies == [tr("es", FALLBACK)]
        health = text_line.health()
        assert health.status_code == 503
        assert health.json()["down"] == ["actions"]
    finally:
        text_line.restart("actions")
    assert text_line.text("hola", MARIA).replies == [tr("es", GREETING)]


def test_rasa_down_gets_a_localized_reply_within_15_seconds(text_line: TextLine) -> None:
    text_line.stack.stop("rasa")
    started = time.monotonic()
    delivery = text_line.text("hola, ¿me ayudas?", MARIA)
    elapsed = time.monotonic() - started
    assert delivery.replies == [tr("es", FALLBACK)]
    assert elapsed < 15
    health = text_line.health()
    assert health.status_code == 503
    assert "rasa" in health.json()["down"]


def phone_forms(phone: str) -> list[str]:
    """The ways a number could leak: E.164, digits, national formats, the local part."""
    digits = phone[2:]  # +1 and the national number
    area, prefix, line = digits[:3], digits[3:6], digits[6:]
    return [
        phone,
        phone[1:],
        digits,
        f"{area}-{prefix}-{line}",
        f"({area}) {prefix}-{line}",
        f"{area}.{prefix}.{line}",
        f"{prefix}-{line}",
        f"{prefix}{line}",
    ]


def leaked(form: str, content: bytes) -> bool:
    """Whether `form` of a number is in `content` (UTF-8 or UTF-16).

    The whole number (ten digits or more) counts wherever it is, even inside other text
    (`%2B16265550188` in a query string). The local forms (`5550188`, `555-0188`) count
    only standing on their own: hashes, MessageSids, pseudonyms and timestamps are long
    runs of hex and digits in which seven digits turn up by chance (a false alarm seen once
    on PostgreSQL), while a leaked local number is never glued to letters or digits.
    """
    whole = sum(c.isdigit() for c in form) >= 10
    for encoded, width in ((form.encode(), 1), (form.encode("utf-16-le"), 2)):
        start = content.find(encoded)
        while start != -1:
            if whole:
                return True
            before = content[start - width : start][:1]
            after = content[start + len(encoded) : start + len(encoded) + width][:1]
            if not (before.isalnum() or after.isalnum()):
                return True
            start = content.find(encoded, start + 1)
    return False


def database_dump(text_line: TextLine) -> bytes:
    """Everything in the database: the SQLite files as bytes, or every PostgreSQL row."""
    if text_line.backend == "sqlite":
        return b"".join(p.read_bytes() for p in text_line.workdir.glob("puente.db*"))
    engine = make_engine(text_line.settings.database_url)
    dump = []
    with engine.connect() as connection:
        tables = (
            connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            .scalars()
            .all()
        )
        for table in tables:
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                dump.append(repr(tuple(row)))
    engine.dispose()
    assert "events" in tables and "contacts" in tables
    return "\n".join(dump).encode()


def test_no_phone_number_in_the_database_tracker_store_or_logs(text_line: TextLine) -> None:
    """Done means 4: scanned after the whole suite above ran."""
    text_line.stack.stop_all()  # flush every log and the SQLite WAL
    logs = sorted((text_line.workdir / "logs").glob("*.log"))
    assert [p.name for p in logs] == ["actions.log", "rasa.log", "webhooks.log", "worker.log"]
    # The queue: what waited in it, and what it kept of what ran. The embedded one's file, or
    # every key of this run's queue in Redis.
    queue_files = sorted((text_line.workdir / "var").glob("queue.db*"))
    redis_queue = text_line.redis_queue
    assert bool(queue_files) == (redis_queue is None), (queue_files, redis_queue)

    # The tracker store is in the same database: Rasa really wrote the conversations there.
    engine = make_engine(text_line.settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT sender_id, data FROM events")).all()
    engine.dispose()
    senders = {sender for sender, _ in rows}
    data = "".join(d or "" for _, d in rows)
    # The erased left no events; those imported for broadcasts never talked to Rasa.
    assert len(senders) >= len(EVERYONE) - len(ALERTS_PEOPLE) - len(BROADCAST_PEOPLE)
    assert all(re.fullmatch(r"p[0-9a-f]{32}", s) for s in senders)
    assert '"language": "es"' in data and "hola" in data

    # The directory's organizations have fictional 555-01xx numbers too: a person's number
    # must not share a form with one, or the scan below could not tell a leak from them.
    files = (
        PROJECT_ROOT / "data" / "directory.yaml",
        PROJECT_ROOT / "tests" / "fixtures" / "directory-other.yaml",
    )
    directories = "".join(p.read_text(encoding="utf-8") for p in files)
    shared = [form for phone in EVERYONE for form in phone_forms(phone) if form in directories]
    assert not shared, f"pick other fictional numbers for the test people: {shared}"

    places = {p.name: p.read_bytes() for p in logs + queue_files}
    places["database"] = database_dump(text_line)
    if redis_queue is not None:
        places["redis"] = redis_queue_dump(redis_queue)
    leaks = []
    for name, content in places.items():
        for phone in EVERYONE:
            for form in phone_forms(phone):
                if leaked(form, content):
                    leaks.append(f"{name}: {form}")
    assert not leaks, leaks

    # Nor any message body in a log (the tracker store keeps them; logs must not).
    for log in logs:
        log_text = log.read_text(errors="replace")
        for body in BODIES + FAILING_BODIES + DIRECTORY_BODIES + ALERTS_BODIES + BROADCAST_BODIES:
            assert body not in log_text, f"{log.name} holds a message body"
