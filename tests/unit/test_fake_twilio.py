"""The fake Twilio REST server, driven by the real twilio client as Puente's sender drives it.

What the sender's tests will lean on is checked here against twilio-python itself:
that it parses the fake's answers, raises TwilioRestException with Twilio's codes, pages
through its lists, and that the callbacks validate as Twilio's do.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from puente.config import ConfigError
from puente.messaging.twilio_client import TWILIO_API_BASE, close_client, twilio_client
from tests.conftest import PHONE_EN, PHONE_ES, PHONE_WA
from tests.fake_twilio import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    LISTENING,
    FailurePlan,
    FakeTwilio,
    FakeTwilioControl,
    FakeTwilioServer,
    Outcome,
    run_fake_twilio_process,
    serve_fake_twilio,
)

SENDER = "+12135550100"
SERVICE = "MG" + "1" * 32
BODY = "Su cita es mañana a las 10."


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with serve_fake_twilio(FakeTwilio()) as served:
        yield served


@pytest.fixture
def client(fake: FakeTwilio) -> Iterator[Client]:
    made = twilio_client(fake.url, fake.account_sid, fake.auth_token, timeout=5)
    yield made
    close_client(made)


def send(client: Client, to: str = PHONE_ES, body: str = BODY, **extra: Any) -> Any:
    return client.messages.create(to=to, from_=SENDER, body=body, **extra)


def rest_error(call: Any) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value


# -- create --------------------------------------------------------------------------------


def test_create_answers_like_twilio_and_is_stored(fake: FakeTwilio, client: Client) -> None:
    message = send(client)
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.to, message.from_, message.body) == ("queued", PHONE_ES, SENDER, BODY)
    assert message.num_segments == "1" and message.error_code is None
    assert message.account_sid == DEFAULT_ACCOUNT_SID and message.direction == "outbound-api"
    assert abs(message.date_created - datetime.now(UTC)) < timedelta(seconds=5)
    assert message.uri == f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{message.sid}.json"
    [stored] = fake.messages
    assert (stored.sid, stored.to, stored.from_, stored.body) == (message.sid, PHONE_ES, SENDER, BODY)
    assert fake.counts() == {PHONE_ES: 1} and fake.count(PHONE_EN) == 0
    assert [(c.method, c.status, c.outcome) for c in fake.calls] == [("POST", 201, Outcome.OK)]


def test_template_through_a_messaging_service(fake: FakeTwilio, client: Client) -> None:
    message = client.messages.create(to="whatsapp:" + PHONE_WA, messaging_service_sid=SERVICE,
                                     content_sid="HX" + "2" * 32, content_variables='{"1": "Ana"}',
                                     status_callback="http://127.0.0.1:9/status")
    # Twilio's answer when the service picks the sender later: accepted, no From, 0 segments.
    assert (message.status, message.from_, message.num_segments) == ("accepted", None, "0")
    [stored] = fake.messages
    assert stored.content_variables == {"1": "Ana"} and stored.messaging_service_sid == SERVICE
    assert stored.status_callback == "http://127.0.0.1:9/status" and stored.body is None


def test_segments_are_counted(client: Client) -> None:
    assert send(client, body="x" * 161).num_segments == "2"


@pytest.mark.parametrize(("fields", "code"), [
    ({"to": PHONE_ES, "body": BODY}, 21603),  # neither From nor MessagingServiceSid
    ({"to": "", "from_": SENDER, "body": BODY}, 21604),
    ({"to": PHONE_ES, "from_": SENDER}, 21602),
    ({"to": PHONE_ES, "from_": SENDER, "body": "x" * 1601}, 21617),
    ({"to": "213-555-0142", "from_": SENDER, "body": BODY}, 21211),
    ({"to": "whatsapp:" + PHONE_WA, "from_": SENDER, "body": BODY}, 21910),
    ({"to": PHONE_ES, "from_": SENDER, "content_sid": "HX1", "content_variables": "{no"}, 21656),
    ({"to": PHONE_ES, "from_": SENDER, "body": BODY, "status_callback": "ftp://x"}, 21609),
])
def test_invalid_creates_answer_twilio_codes(fake: FakeTwilio, client: Client, fields: dict[str, str],
                                             code: int) -> None:
    error = rest_error(lambda: client.messages.create(**fields))
    assert (error.status, error.code) == (400, code)
    assert fake.messages == []


def test_wrong_credentials_are_20003(fake: FakeTwilio) -> None:
    wrong = twilio_client(fake.url, fake.account_sid, "not-the-token")
    try:
        error = rest_error(lambda: send(wrong))
    finally:
        close_client(wrong)
    assert (error.status, error.code) == (401, 20003)
    answer = requests.post(f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json", timeout=5)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Basic")
    assert answer.json()["more_info"] == "https://www.twilio.com/docs/errors/20003"
    assert fake.messages == []


@pytest.mark.parametrize("code", [21610, 21211, 21614])
def test_permanent_errors_per_number(fake: FakeTwilio, client: Client, code: int) -> None:
    fake.number_errors[PHONE_EN] = code
    error = rest_error(lambda: send(client, PHONE_EN))
    assert (error.status, error.code) == (400, code)
    assert send(client, PHONE_ES).status == "queued"
    assert fake.counts() == {PHONE_ES: 1}


def test_number_errors_match_whatsapp_addresses_too(fake: FakeTwilio, client: Client) -> None:
    fake.number_errors[PHONE_WA] = 21610
    error = rest_error(lambda: client.messages.create(to="whatsapp:" + PHONE_WA, from_="whatsapp:" + SENDER,
                                                      body=BODY))
    assert error.code == 21610


# -- the failure plan ----------------------------------------------------------------------


def test_rate_limited_create_stores_nothing(fake: FakeTwilio, client: Client) -> None:
    fake.plan = FailurePlan(script=(Outcome.RATE_LIMIT,))
    error = rest_error(lambda: send(client))
    assert (error.status, error.code) == (429, 20429)
    assert fake.messages == []
    send(client)  # the retry
    assert len(fake.messages) == 1


def test_error_before_create_stores_nothing_and_after_create_stores_one(fake: FakeTwilio,
                                                                        client: Client) -> None:
    fake.plan = FailurePlan(script=(Outcome.ERROR, Outcome.ERROR_AFTER_CREATE))
    assert rest_error(lambda: send(client)).status == 500
    assert fake.messages == []
    error = rest_error(lambda: send(client))
    assert (error.status, error.code) == (500, 20500)
    [stored] = fake.messages
    # What the sender does when it cannot know: look for it before sending again.
    [found] = client.messages.list(to=PHONE_ES, date_sent_after=datetime.now(UTC) - timedelta(minutes=5))
    assert found.sid == stored.sid


def test_dropped_connection_after_create(fake: FakeTwilio, client: Client) -> None:
    fake.plan = FailurePlan(script=(Outcome.DROP_AFTER_CREATE, Outcome.DROP))
    with pytest.raises(requests.ConnectionError):
        send(client)
    assert len(fake.messages) == 1
    with pytest.raises(requests.ConnectionError):
        send(client)
    assert len(fake.messages) == 1
    assert [c.status for c in fake.calls] == [0, 0]


def test_slow_answer_times_the_client_out_but_creates(fake: FakeTwilio) -> None:
    fake.plan = FailurePlan(script=(Outcome.SLOW,), slow_seconds=0.25)
    impatient = twilio_client(fake.url, fake.account_sid, fake.auth_token, timeout=0.1)
    try:
        with pytest.raises(requests.Timeout):
            send(impatient)
    finally:
        close_client(impatient)
    deadline = time.monotonic() + 3
    while not fake.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake.messages) == 1


def test_plan_counts_attempts_deterministically() -> None:
    plan = FailurePlan(script=(Outcome.ERROR,), rate_limit_every=3, error_after_create_every=2)
    # After the script, m = n - 1: every 3rd m is a 429, every 2nd a 500 after creating; m = 6
    # is both, and the rate limit (the first field) wins.
    assert [plan.outcome_for(n) for n in range(1, 8)] == [
        Outcome.ERROR, Outcome.OK, Outcome.ERROR_AFTER_CREATE, Outcome.RATE_LIMIT,
        Outcome.ERROR_AFTER_CREATE, Outcome.OK, Outcome.RATE_LIMIT,
    ]


def test_plan_from_spec_and_json() -> None:
    plan = FailurePlan.parse("rate_limit_every=5, error_every=7,slow_seconds=0.5,"
                             "script=ok+error_after_create")
    assert plan == FailurePlan(script=(Outcome.OK, Outcome.ERROR_AFTER_CREATE), rate_limit_every=5,
                               error_every=7, slow_seconds=0.5)
    assert FailurePlan.from_dict(plan.to_dict()) == plan
    assert FailurePlan.parse("") == FailurePlan()
    with pytest.raises(ValueError, match="unknown"):
        FailurePlan.parse("rate_limit=5")
    with pytest.raises(ValueError):
        FailurePlan.parse("script=explode")
    with pytest.raises(ValueError):
        FailurePlan(error_every=-1)


def test_plan_is_exact_under_concurrent_senders(fake: FakeTwilio) -> None:
    """Thread-safe: 8 senders, 200 attempts, every 5th rate-limited: exactly 40 429s."""
    fake.plan = FailurePlan(rate_limit_every=5)
    endpoint = f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    statuses: list[int] = []

    def sender(k: int) -> None:
        with requests.Session() as session:
            session.auth = (fake.account_sid, fake.auth_token)
            for i in range(25):
                answer = session.post(endpoint, data={"To": f"+1213555{k:02d}{i:02d}", "From": SENDER,
                                                      "Body": BODY}, timeout=5)
                statuses.append(answer.status_code)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 160 + [429] * 40
    assert len(fake.messages) == 160 and fake.stats()["by_http_status"] == {"201": 160, "429": 40}
    assert fake.stats()["connections"] == 8  # keep-alive: one connection per session


def test_max_concurrent_answers_429_beyond_the_limit(fake: FakeTwilio, client: Client) -> None:
    fake.plan = FailurePlan(script=(Outcome.SLOW,), slow_seconds=0.3, max_concurrent=1)
    slow = threading.Thread(target=lambda: send(client))
    slow.start()
    time.sleep(0.15)
    other = twilio_client(fake.url, fake.account_sid, fake.auth_token)
    try:
        assert rest_error(lambda: send(other)).code == 20429
    finally:
        close_client(other)
    slow.join()
    assert len(fake.messages) == 1


def test_stopped_server_refuses_and_can_come_back(fake: FakeTwilio, client: Client) -> None:
    send(client)  # a pooled keep-alive connection now exists
    server = fake.server
    assert server is not None
    port = server.port
    server.stop()
    with pytest.raises(requests.ConnectionError):
        send(client)
    with FakeTwilioServer(fake, port=port):
        assert send(client).status == "queued"
    assert len(fake.messages) == 2


# -- lookups -------------------------------------------------------------------------------


def test_fetch_by_sid(fake: FakeTwilio, client: Client) -> None:
    sid = send(client).sid
    fetched = client.messages(sid).fetch()
    assert (fetched.sid, fetched.to, fetched.body) == (sid, PHONE_ES, BODY)
    error = rest_error(lambda: client.messages("SM" + "f" * 32).fetch())
    assert (error.status, error.code) == (404, 20404)


def test_list_by_to_and_date_pages_like_twilio(fake: FakeTwilio, client: Client) -> None:
    sids = [send(client, PHONE_ES).sid for _ in range(5)]
    send(client, PHONE_EN)
    today = datetime.now(UTC)
    streamed = list(client.messages.stream(to=PHONE_ES, date_sent_after=today - timedelta(hours=1),
                                           page_size=2))
    assert [m.sid for m in streamed] == sids[::-1]  # newest first, over three pages
    assert len([c for c in fake.calls if c.method == "GET"]) == 3
    assert client.messages.list(to=PHONE_ES, date_sent_after=today + timedelta(days=1)) == []
    assert len(client.messages.list(to=PHONE_ES, date_sent_before=today + timedelta(hours=1))) == 5
    assert len(client.messages.list(from_=SENDER, limit=100)) == 6
    assert len(client.messages.list(to=PHONE_EN)) == 1


def test_list_filters_by_day_as_typed_in_a_url(fake: FakeTwilio) -> None:
    """`DateSent>=YYYY-MM-DD` in a URL is the parameter `DateSent>` with a day: on or after."""
    with requests.Session() as session:
        session.auth = (fake.account_sid, fake.auth_token)
        base = f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
        session.post(base, data={"To": PHONE_ES, "From": SENDER, "Body": BODY}, timeout=5)
        today = datetime.now(UTC).date()
        on_or_after = session.get(f"{base}?To=%2B{PHONE_ES[1:]}&DateSent>={today}", timeout=5).json()
        tomorrow = session.get(f"{base}?DateSent>={today + timedelta(days=1)}", timeout=5).json()
        exact = session.get(f"{base}?DateSent={today}&PageSize=1", timeout=5).json()
        bad = session.get(f"{base}?DateSent>=yesterday", timeout=5)
    assert len(on_or_after["messages"]) == 1 and on_or_after["next_page_uri"] is None
    assert on_or_after["page"] == 0 and on_or_after["page_size"] == 50
    assert tomorrow["messages"] == [] and len(exact["messages"]) == 1
    assert bad.status_code == 400 and bad.json()["code"] == 20001


def test_redact_and_delete(fake: FakeTwilio, client: Client) -> None:
    sid = send(client).sid
    assert client.messages(sid).update(body="").body == ""
    assert client.messages(sid).delete() is True
    assert fake.messages == [] and fake.counts() == {}


# -- status callbacks ----------------------------------------------------------------------


class _Receiver:
    """A webhook that records what it is posted, as Puente's status endpoint would get it."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                receiver.posts.append((self.path, form, dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    made = _Receiver()
    yield made
    made.close()


def test_callbacks_arrive_in_order_and_signed(fake: FakeTwilio, client: Client, receiver: _Receiver) -> None:
    fake.callbacks = True
    fake.unreachable[PHONE_EN] = 30003
    fake.failed[PHONE_WA] = 30005
    callback = receiver.url + "/twilio/status?attempt=1"
    ok = send(client, PHONE_ES, status_callback=callback).sid
    gone = send(client, PHONE_EN, status_callback=callback).sid
    failed = send(client, PHONE_WA, status_callback=callback).sid
    send(client, PHONE_ES)  # no StatusCallback: delivered, nothing posted
    attempts = fake.wait_for_callbacks(5)
    assert [a.http_status for a in attempts] == [204] * 5
    seen = [(form["MessageSid"], form["MessageStatus"], form.get("ErrorCode"))
            for _, form, _ in receiver.posts]
    assert seen == [(ok, "sent", None), (ok, "delivered", None), (gone, "sent", None),
                    (gone, "undelivered", "30003"), (failed, "failed", "30005")]
    validator = RequestValidator(DEFAULT_AUTH_TOKEN)
    for path, form, headers in receiver.posts:
        assert path == "/twilio/status?attempt=1"
        assert validator.validate(receiver.url + path, form, headers["X-Twilio-Signature"])
        assert form["SmsSid"] == form["MessageSid"] and form["SmsStatus"] == form["MessageStatus"]
        assert (form["AccountSid"], form["ApiVersion"], form["From"]) == (DEFAULT_ACCOUNT_SID, "2010-04-01",
                                                                          SENDER)
    _, form, headers = receiver.posts[0]
    assert not validator.validate(receiver.url + "/other", form, headers["X-Twilio-Signature"])
    deadline = time.monotonic() + 3
    while fake.messages[-1].status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [m.status for m in fake.messages] == ["delivered", "undelivered", "failed", "delivered"]
    fetched = client.messages(gone).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)
    assert fetched.date_sent is not None


def test_held_deliveries_wait_until_released(fake: FakeTwilio, client: Client, receiver: _Receiver) -> None:
    fake.callbacks = True
    control = FakeTwilioControl(fake.url)
    try:
        control.configure(hold_deliveries=True)
        first = send(client, PHONE_ES, status_callback=receiver.url + "/status").sid
        second = send(client, PHONE_EN, status_callback=receiver.url + "/status").sid
        time.sleep(0.2)
        assert receiver.posts == [] and [m.status for m in fake.messages] == ["queued", "queued"]
        control.configure(hold_deliveries=False)
    finally:
        control.close()
    attempts = fake.wait_for_callbacks(4)
    assert [(a.sid, a.status) for a in attempts] == [
        (first, "sent"), (first, "delivered"), (second, "sent"), (second, "delivered")]


def test_callbacks_off_posts_nothing(fake: FakeTwilio, client: Client, receiver: _Receiver) -> None:
    send(client, status_callback=receiver.url + "/status")
    time.sleep(0.1)
    assert receiver.posts == [] and fake.messages[0].status == "queued"


def test_callback_to_a_dead_url_is_recorded_not_raised(fake: FakeTwilio, client: Client) -> None:
    fake.callbacks = True
    send(client, status_callback="http://127.0.0.1:9/status")
    attempts = fake.wait_for_callbacks(2)
    assert [(a.status, a.http_status, a.error) for a in attempts] == [
        ("sent", None, "ConnectionError"), ("delivered", None, "ConnectionError")]


# -- inspection, count-only, control API ---------------------------------------------------


def test_reset_forgets_and_restarts_the_plan(fake: FakeTwilio, client: Client) -> None:
    fake.plan = FailurePlan(rate_limit_every=2)
    send(client)
    rest_error(lambda: send(client))
    fake.reset()
    assert fake.messages == [] and fake.calls == [] and fake.counts() == {}
    send(client)  # attempt 1 again, not 3
    assert rest_error(lambda: send(client)).code == 20429


def test_count_only_keeps_no_bodies() -> None:
    with serve_fake_twilio(FakeTwilio(count_only=True)) as fake:
        client = twilio_client(fake.url, fake.account_sid, fake.auth_token)
        try:
            sid = send(client).sid
            assert client.messages(sid).fetch().to == PHONE_ES  # lookups still work
        finally:
            close_client(client)
        [stored] = fake.messages
        assert stored.body is None and fake.calls == []
        assert fake.stats()["created"] == 1 and fake.stats()["requests"] == 2


def test_control_api(fake: FakeTwilio, client: Client) -> None:
    control = FakeTwilioControl(fake.url)
    try:
        assert control.health()
        control.set_plan(FailurePlan(script=(Outcome.RATE_LIMIT,)))
        assert fake.plan.script == (Outcome.RATE_LIMIT,)
        rest_error(lambda: send(client))
        send(client)
        control.configure(number_errors={PHONE_EN: 21610}, callbacks=False)
        assert rest_error(lambda: send(client, PHONE_EN)).code == 21610
        stats = control.stats()
        assert stats["created"] == 1 and stats["by_http_status"] == {"201": 1, "400": 1, "429": 1}
        [listed] = control.messages(to=PHONE_ES)
        assert listed["body"] == BODY and listed["status"] == "queued"
        assert control.counts() == {PHONE_ES: 1}
        assert [c["status"] for c in control.calls()] == [429, 201, 400]
        control.reset()
        assert control.messages() == [] and control.stats()["requests"] == 0
        bad = requests.post(f"{fake.url}/_fake/plan", json={"explode_every": 1}, timeout=5)
        assert bad.status_code == 400
    finally:
        control.close()


def test_process_mode_starts_and_answers_its_control_api() -> None:
    args = ["--failures", "script=rate_limit", "--number-error", f"{PHONE_EN}=21610", "--count-only"]
    with run_fake_twilio_process(extra_args=args) as running:
        assert running.url.startswith("http://127.0.0.1:")
        control = running.control
        assert control.health() and control.stats()["created"] == 0
        client = twilio_client(running.url, DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
        try:
            assert rest_error(lambda: send(client)).code == 20429
            assert send(client).status == "queued"
            assert rest_error(lambda: send(client, PHONE_EN)).code == 21610
        finally:
            close_client(client)
        [listed] = control.messages()
        assert listed["to"] == PHONE_ES and listed["body"] is None  # --count-only
        assert control.stats()["by_outcome"] == {"ok": 1, "rate_limit": 1}


def test_process_prints_one_line_and_never_a_number(tmp_path: Path) -> None:
    """Privacy: nothing but the listening line, whatever it is sent; nothing written to disk."""
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "tests.fake_twilio", "--port", "0"], cwd=tmp_path,
                               env={"PYTHONPATH": str(root)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(LISTENING)
        url = line[len(LISTENING):].strip()
        with requests.Session() as session:
            session.auth = (DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
            base = f"{url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
            session.post(base, data={"To": PHONE_ES, "From": SENDER, "Body": BODY}, timeout=5)
            session.post(base, data={"To": "not a number", "From": SENDER, "Body": BODY}, timeout=5)
            session.get(f"{base}?To={PHONE_ES}&DateSent>=nonsense", timeout=5)
            session.get(f"{url}/nowhere/{PHONE_ES}", timeout=5)
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"GARBAGE " + PHONE_ES.encode() + b"\r\n\r\n")
            raw.recv(1024)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert out == "" and err == ""
    assert process.returncode == 0
    assert list(tmp_path.iterdir()) == []


# -- the client helper ---------------------------------------------------------------------


def test_client_without_base_url_talks_to_twilio() -> None:
    client = twilio_client("", DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
    assert client.api.base_url == TWILIO_API_BASE
    close_client(client)


def test_client_needs_credentials() -> None:
    with pytest.raises(ConfigError):
        twilio_client("http://127.0.0.1:9", "", "token")


def test_base_url_survives_twilio_edge_and_region(monkeypatch: pytest.MonkeyPatch, fake: FakeTwilio) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    client = twilio_client(fake.url + "/", fake.account_sid, fake.auth_token)
    try:
        assert send(client).status == "queued"
    finally:
        close_client(client)


def test_client_logs_no_numbers(caplog: pytest.LogCaptureFixture, fake: FakeTwilio, client: Client) -> None:
    """twilio-python logs each request's URL and query at INFO: not through this client."""
    caplog.set_level(logging.INFO)
    send(client)
    client.messages.list(to=PHONE_ES)
    assert PHONE_ES[2:] not in caplog.text
