"""A fake Twilio REST API on loopback: the Messages resource, its errors and its status callbacks.

Puente's outbound sender talks to Twilio through the official client pointed at
TWILIO_API_BASE_URL (puente.messaging.twilio_client). Tests and benchmarks point it here:
what the sender must survive — rate limits, a 500 after the message was created, a slow
answer, a number that opted out, a handset that never gets the text — happens on
demand and deterministically, with no account, no network and no cost.

What it answers, shaped as Twilio answers it (twilio-python parses it as from Twilio):

- POST /2010-04-01/Accounts/{AccountSid}/Messages.json (create; HTTP basic auth)
- GET  .../Messages/{MessageSid}.json (fetch), POST (redact the body), DELETE
- GET  .../Messages.json?To=&From=&DateSent=&DateSent>=&DateSent<=&PageSize= (list, newest
  first, paged with next_page_uri as Twilio pages)
- status callbacks to a message's StatusCallback URL, signed with X-Twilio-Signature
- a control API under /_fake/ (no auth: loopback test tooling) for another process

Two ways to run it: in-process, `with serve_fake_twilio(FakeTwilio()) as fake: fake.url`,
or as a process, `python -m tests.fake_twilio --port 0 ...` (see `main`), steered with
`FakeTwilioControl` or by hand over HTTP.

It never writes a phone number or a body to stdout, stderr or disk: no request log, no
traceback. Records stay in memory, and `count_only` keeps no bodies at all.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import queue
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from email.utils import format_datetime
from enum import StrEnum
from functools import lru_cache
from http import HTTPStatus
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

import requests
from twilio.request_validator import RequestValidator

from puente.messaging.segments import MAX_BODY, segments

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token"
#: The sender a Messaging Service "picks" when a message names no From (Twilio's test number).
SERVICE_NUMBER = "+15005550006"
LISTENING = "fake twilio listening on "

# Twilio's error codes, with the HTTP status and the message Twilio answers with.
ERRORS: dict[int, tuple[int, str]] = {
    20001: (400, "Invalid parameter"),
    20003: (401, "Authenticate"),
    20004: (405, "Method not allowed"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    21211: (400, "Invalid 'To' Phone Number"),
    21408: (400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
                 "number"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21609: (400, "Invalid StatusCallback url"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number is not currently reachable via SMS"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21656: (400, "The ContentVariables Parameter is invalid."),
    21701: (400, "The Messaging Service Sid is invalid."),
    21910: (400, "Invalid From and To pair. From and To should be of the same channel"),
}
# Delivery errors, as a failed or undelivered message carries them (error_message).
DELIVERY_ERRORS: dict[int, str] = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    63016: "Failed to send freeform message because you are outside the allowed window.",
}

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages(?:/([^/]+))?\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _parse_form(text: str) -> dict[str, str]:
    """A form or query string; for a repeated name the last value wins (Twilio's fields are single).

    urllib's parse_qsl, minus its generality: the create path parses one per request.
    """
    out: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        out[name] = value
    return out


@lru_cache(maxsize=4096)
def _segments(body: str) -> int:
    """Puente's own segment count; cached, as benchmarks send the same few bodies."""
    return segments(body)


@lru_cache(maxsize=64)
def _rfc2822_second(moment: datetime) -> str:
    return format_datetime(moment)


def _rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format: "Thu, 24 Aug 2023 05:01:45 +0000" (cached: a second has many messages)."""
    return _rfc2822_second(moment.replace(microsecond=0)) if moment is not None else None


class Outcome(StrEnum):
    """What the fake does with one create request the failure plan picks."""

    OK = "ok"
    #: 429, code 20429; nothing created.
    RATE_LIMIT = "rate_limit"
    #: 500, code 20500, before creating: nothing created.
    ERROR = "error"
    #: The message is created, but the answer is a 500: the sender cannot know it was.
    ERROR_AFTER_CREATE = "error_after_create"
    #: The connection is closed without an answer, nothing created.
    DROP = "drop"
    #: The message is created, then the connection is closed without an answer.
    DROP_AFTER_CREATE = "drop_after_create"
    #: The message is created after `slow_seconds`: a client with a shorter timeout gives up.
    SLOW = "slow"


@dataclass(frozen=True)
class FailurePlan:
    """Which create requests fail, and how: deterministic, from the attempt's number alone.

    Attempts are counted from 1 over the create requests that would succeed otherwise
    (authenticated, valid, not to a number with a permanent error). Attempt n takes
    `script[n-1]` while the script lasts; after it, with m = n - len(script), the first
    rule whose `*_every` divides m (in the order of the fields) decides, else OK.
    Setting `fake.plan` restarts the count, so a test knows exactly which attempt fails.
    `max_concurrent` answers 429 to a create beyond that many in flight at once (Twilio's
    concurrency limit); such a 429 takes no attempt number.
    """

    script: tuple[Outcome, ...] = ()
    rate_limit_every: int = 0
    error_every: int = 0
    error_after_create_every: int = 0
    drop_after_create_every: int = 0
    slow_every: int = 0
    slow_seconds: float = 2.0
    max_concurrent: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "script", tuple(Outcome(o) for o in self.script))
        for f in fields(self):
            if f.name != "script" and getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must not be negative")

    def outcome_for(self, attempt: int) -> Outcome:
        """The outcome of create attempt number `attempt` (1-based)."""
        if attempt <= len(self.script):
            return self.script[attempt - 1]
        n = attempt - len(self.script)
        for every, outcome in (
            (self.rate_limit_every, Outcome.RATE_LIMIT),
            (self.error_every, Outcome.ERROR),
            (self.error_after_create_every, Outcome.ERROR_AFTER_CREATE),
            (self.drop_after_create_every, Outcome.DROP_AFTER_CREATE),
            (self.slow_every, Outcome.SLOW),
        ):
            if every and n % every == 0:
                return outcome
        return Outcome.OK

    @classmethod
    def parse(cls, spec: str) -> FailurePlan:
        """From the CLI's `--failures`: "rate_limit_every=5,error_every=7,script=ok+rate_limit"."""
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"{item!r}: expected key=value")
            values[key.strip()] = value.strip().split("+") if key.strip() == "script" else value.strip()
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FailurePlan:
        """From JSON (the control API): the field names, `script` a list of outcome names."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown failure plan fields: {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key == "script":
                kwargs[key] = tuple(Outcome(str(v)) for v in value if str(v))
            elif key == "slow_seconds":
                kwargs[key] = float(value)
            else:
                kwargs[key] = int(value)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["script"] = [o.value for o in self.script]
        return out


@dataclass(slots=True, eq=False)
class StoredMessage:
    """One message the fake created. `status`, `error_code` and `date_sent` change as it is delivered."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str | None
    content_sid: str | None
    content_variables: dict[str, Any] | None
    status_callback: str | None
    created_at: datetime
    status: str = "queued"
    error_code: int | None = None
    date_sent: datetime | None = None
    num_segments: int = 1
    #: Bumped by reset(): deliveries of an earlier generation are dropped.
    generation: int = 0

    def resource(self) -> dict[str, Any]:
        """The Message resource as Twilio answers it (create, fetch, list)."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        created = _rfc2822(self.created_at)
        updated = _rfc2822(self.date_sent) if self.date_sent is not None else created
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body if self.body is not None else "",
            "date_created": created,
            "date_sent": _rfc2822(self.date_sent),
            "date_updated": updated,
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": DELIVERY_ERRORS.get(self.error_code) if self.error_code else None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }

    def to_json(self) -> dict[str, Any]:
        """For the control API: the fields of this record, dates in ISO 8601."""
        return {
            "sid": self.sid, "to": self.to, "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid, "body": self.body,
            "content_sid": self.content_sid, "content_variables": self.content_variables,
            "status_callback": self.status_callback, "created_at": self.created_at.isoformat(),
            "status": self.status, "error_code": self.error_code,
        }


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake answered (control API excluded), failed ones included."""

    method: str
    path: str  # with its query string
    status: int  # HTTP status answered; 0 when the connection was dropped
    code: int | None  # Twilio error code, None on success
    outcome: Outcome | None  # what the failure plan picked, for creates that reached it
    at: float  # time.time()


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    """One status callback the fake posted: what it answered (`http_status`) or why not (`error`)."""

    sid: str
    status: str
    url: str
    params: dict[str, str]
    signature: str
    http_status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Reply:
    """What the HTTP layer writes back (or, with `drop`, the connection it closes)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    #: A message this request created: its delivery (callbacks) starts after the answer is written.
    created: StoredMessage | None = None


class TwilioError(Exception):
    """An error answer: Twilio's JSON `{"code", "message", "more_info", "status"}`."""

    def __init__(self, code: int, message: str | None = None, status: int | None = None) -> None:
        known_status, known_message = ERRORS.get(code, (400, "Error"))
        self.code = code
        self.status = status or known_status
        self.message = message or known_message
        super().__init__(code)

    def reply(self) -> Reply:
        headers: tuple[tuple[str, str], ...] = ()
        if self.status == 401:
            headers = (("WWW-Authenticate", 'Basic realm="Twilio API"'),)
        body = {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}
        return Reply(self.status, _dumps(body), headers)


def _parse_date_filter(name: str, value: str) -> date | datetime:
    """Twilio's DateSent values: a day (YYYY-MM-DD) or a moment (YYYY-MM-DDTHH:MM:SSZ)."""
    try:
        if "T" in value:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return date.fromisoformat(value)
    except ValueError:
        raise TwilioError(20001, f"Invalid {name}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") from None


def _matches_date(created: datetime, op: str, bound: date | datetime) -> bool:
    """`DateSent` (same day or moment), `DateSent>` (on or after), `DateSent<` (on or before)."""
    if isinstance(bound, datetime):
        moment = created.replace(microsecond=0)
        return moment >= bound if op == ">" else moment <= bound if op == "<" else moment == bound
    day = created.date()
    return day >= bound if op == ">" else day <= bound if op == "<" else day == bound


class FakeTwilio:
    """The state and behaviour of the fake: what is stored, what fails, what is called back.

    account_sid, auth_token: the credentials it accepts (and signs callbacks with).
    plan: the failure plan (see FailurePlan); `fake.plan = ...` restarts its count.
    number_errors: To -> Twilio code answered at create, e.g. 21610 (opted out), 21211
        (invalid), 21614 (not mobile): HTTP 400, nothing created.
    unreachable: To -> delivery error (30003, 30005, 30006...): created, then `sent` and
        `undelivered` with that ErrorCode.
    failed: To -> delivery error: created, then `failed` with that ErrorCode.
    callbacks: deliver messages in a background thread (status sent/delivered/...) and post
        the status callbacks of those that asked for one. Off by default: benchmarks.
    callback_delay: seconds before each delivery step.
    hold_deliveries: created messages wait, `queued` and with no callback, until it is set
        back to False (then they are delivered in order): a test can see what a sender
        records before any status arrives.
    count_only: keep no bodies or content variables and no `calls` log, for long runs;
        records still hold sid, numbers, status and time, so lookups keep working.

    Numbers in the maps match the To as sent or without its "whatsapp:" prefix.
    Everything is guarded by one lock: handler threads, the delivery thread and the test
    read and write it at once.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        plan: FailurePlan | None = None,
        number_errors: Mapping[str, int] | None = None,
        unreachable: Mapping[str, int] | None = None,
        failed: Mapping[str, int] | None = None,
        callbacks: bool = False,
        callback_delay: float = 0.0,
        hold_deliveries: bool = False,
        count_only: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        #: What "now" is for the messages' dates (a test's clock, when the test moves time).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.number_errors: dict[str, int] = dict(number_errors or {})
        self.unreachable: dict[str, int] = dict(unreachable or {})
        self.failed: dict[str, int] = dict(failed or {})
        self.callbacks = callbacks
        self.callback_delay = callback_delay
        self.count_only = count_only
        #: Set by the server that serves this fake: "http://127.0.0.1:PORT".
        self.url = ""
        self.server: FakeTwilioServer | None = None
        self._auth_header = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._validator = RequestValidator(auth_token)
        self._lock = threading.Lock()
        self._callbacks_posted = threading.Condition(self._lock)
        self._plan = plan or FailurePlan()
        self._attempts = 0
        self._in_flight = 0
        self._generation = 0
        self._messages: list[StoredMessage] = []
        self._by_sid: dict[str, StoredMessage] = {}
        self._by_to: dict[str, list[StoredMessage]] = {}
        self._created = 0
        self._connections = 0
        self._calls: list[Call] = []
        self._statuses: Counter[int] = Counter()
        self._outcomes: Counter[str] = Counter()
        self._callback_attempts: list[CallbackAttempt] = []
        self._deliveries: queue.Queue[StoredMessage | None] = queue.Queue()
        self._delivery_thread: threading.Thread | None = None
        self._released = threading.Event()
        self.hold_deliveries = hold_deliveries

    # -- inspection and steering (tests) --------------------------------------------------

    @property
    def plan(self) -> FailurePlan:
        return self._plan

    @plan.setter
    def plan(self, plan: FailurePlan) -> None:
        with self._lock:
            self._plan = plan
            self._attempts = 0

    @property
    def hold_deliveries(self) -> bool:
        return not self._released.is_set()

    @hold_deliveries.setter
    def hold_deliveries(self, hold: bool) -> None:
        if hold:
            self._released.clear()
        else:
            self._released.set()

    @property
    def messages(self) -> list[StoredMessage]:
        """The messages created, oldest first (a snapshot of the list; records are live)."""
        with self._lock:
            return list(self._messages)

    def messages_to(self, to: str) -> list[StoredMessage]:
        with self._lock:
            return list(self._by_to.get(to, ()))

    def message(self, sid: str) -> StoredMessage | None:
        with self._lock:
            return self._by_sid.get(sid)

    def counts(self) -> dict[str, int]:
        """How many messages were created for each To."""
        with self._lock:
            return {to: len(records) for to, records in self._by_to.items()}

    def count(self, to: str) -> int:
        with self._lock:
            return len(self._by_to.get(to, ()))

    @property
    def calls(self) -> list[Call]:
        """Every API request answered, failed ones included (empty with count_only)."""
        with self._lock:
            return list(self._calls)

    @property
    def callback_attempts(self) -> list[CallbackAttempt]:
        with self._lock:
            return list(self._callback_attempts)

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[CallbackAttempt]:
        """The callbacks posted once there are at least `count`; TimeoutError if not in time."""
        deadline = time.monotonic() + timeout
        with self._callbacks_posted:
            while len(self._callback_attempts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._callback_attempts)} of {count} callbacks posted")
                self._callbacks_posted.wait(left)
            return list(self._callback_attempts)

    def stats(self) -> dict[str, Any]:
        """Counts only (no numbers, no bodies): what a benchmark reads at the end."""
        with self._lock:
            repeats = sum(len(r) - 1 for r in self._by_to.values() if len(r) > 1)
            return {
                "created": self._created,
                "stored": len(self._messages),
                "recipients": len(self._by_to),
                "repeat_sends": repeats,
                "requests": sum(self._statuses.values()),
                "by_http_status": {str(k): v for k, v in sorted(self._statuses.items())},
                "by_outcome": dict(sorted(self._outcomes.items())),
                "attempts": self._attempts,
                "in_flight": self._in_flight,
                "connections": self._connections,
                "callbacks_posted": len(self._callback_attempts),
                "callbacks_pending": self._deliveries.qsize(),
            }

    def reset(self) -> None:
        """Forgets every message, call, count and callback, and restarts the plan's count.

        The plan and the number maps stay: set `fake.plan = FailurePlan()` to stop failing.
        Deliveries still queued from before are dropped.
        """
        with self._lock:
            self._generation += 1
            self._attempts = 0
            self._messages.clear()
            self._by_sid.clear()
            self._by_to.clear()
            self._created = 0
            self._connections = 0
            self._calls.clear()
            self._statuses.clear()
            self._outcomes.clear()
            self._callback_attempts.clear()

    def note_connection(self) -> None:
        """The server accepted a connection: `stats()["connections"]` shows keep-alive at work."""
        with self._lock:
            self._connections += 1

    def close(self) -> None:
        """Stops the delivery thread (after the deliveries already queued, held ones too)."""
        self._released.set()
        with self._lock:
            thread, self._delivery_thread = self._delivery_thread, None
        if thread is not None:
            self._deliveries.put(None)
            thread.join(timeout=10)

    # -- the API --------------------------------------------------------------------------

    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> Reply:
        """Answers one HTTP request; the server calls it from its handler threads."""
        path, _, query = target.partition("?")
        if path.startswith("/_fake/"):
            try:
                return self._control(method, path, query, body)
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                return Reply(400, _dumps({"error": type(error).__name__, "message": str(error)}))
        outcome: list[Outcome] = []
        try:
            reply = self._api(method, path, query, authorization, body, outcome)
        except TwilioError as error:
            reply = error.reply()
        except Exception:  # noqa: BLE001 - a bug in the fake must answer, never print a traceback
            reply = TwilioError(20500).reply()
        code = None
        if reply.status >= 400:
            code = json.loads(reply.body).get("code")
        with self._lock:
            self._statuses[0 if reply.drop else reply.status] += 1
            if outcome:
                self._outcomes[outcome[0].value] += 1
            if not self.count_only:
                self._calls.append(Call(method, target, 0 if reply.drop else reply.status, code,
                                        outcome[0] if outcome else None, time.time()))
        return reply

    def _api(
        self, method: str, path: str, query: str, authorization: str | None, body: bytes,
        outcome: list[Outcome],
    ) -> Reply:
        match = _MESSAGES_PATH.match(path)
        if match is None:
            raise TwilioError(20404, f"The requested resource {path} was not found")
        self._authenticate(authorization, match.group(1))
        sid = match.group(2)
        if sid is None:
            if method == "POST":
                return self._create(self._form(body), outcome)
            if method == "GET":
                return self._list(path, query)
        else:
            if method == "GET":
                return Reply(200, _dumps(self._find(sid, path).resource()))
            if method == "POST":
                return self._update(sid, path, self._form(body))
            if method == "DELETE":
                return self._delete(sid, path)
        raise TwilioError(20004)

    def _authenticate(self, authorization: str | None, account_sid: str) -> None:
        if authorization is None or not hmac.compare_digest(authorization, self._auth_header):
            raise TwilioError(20003)
        if account_sid != self.account_sid:
            raise TwilioError(20003)

    @staticmethod
    def _form(body: bytes) -> dict[str, str]:
        try:
            return _parse_form(body.decode())
        except UnicodeDecodeError:
            raise TwilioError(20001, "The request body is not UTF-8") from None

    def _find(self, sid: str, path: str) -> StoredMessage:
        with self._lock:
            found = self._by_sid.get(sid)
        if found is None:
            raise TwilioError(20404, f"The requested resource {path} was not found")
        return found

    def _create(self, form: dict[str, str], outcome: list[Outcome]) -> Reply:
        message = self._validate(form)
        with self._lock:
            plan = self._plan
            self._in_flight += 1
            over = bool(plan.max_concurrent) and self._in_flight > plan.max_concurrent
            if not over:
                self._attempts += 1
                attempt = self._attempts
        try:
            if over:
                raise TwilioError(20429)
            chosen = plan.outcome_for(attempt)
            outcome.append(chosen)
            if chosen is Outcome.RATE_LIMIT:
                raise TwilioError(20429)
            if chosen is Outcome.ERROR:
                raise TwilioError(20500)
            if chosen is Outcome.DROP:
                return Reply(0, drop=True)
            if chosen is Outcome.SLOW:
                time.sleep(plan.slow_seconds)
            self._store(message)
            if chosen is Outcome.ERROR_AFTER_CREATE:
                error = TwilioError(20500).reply()
                return Reply(error.status, error.body, created=message)
            if chosen is Outcome.DROP_AFTER_CREATE:
                return Reply(0, drop=True, created=message)
            return Reply(201, _dumps(message.resource()), created=message)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _validate(self, form: dict[str, str]) -> StoredMessage:
        """Twilio's checks, in Twilio's order; the message to store when they pass."""
        to = form.get("To", "")
        if not to:
            raise TwilioError(21604)
        from_ = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        if from_ is None and service is None:
            raise TwilioError(21603)
        if service is not None and not _SERVICE_SID.match(service):
            raise TwilioError(21701)
        body = form.get("Body") or None
        content_sid = form.get("ContentSid") or None
        if body is None and content_sid is None and not form.get("MediaUrl"):
            raise TwilioError(21602)
        if body is not None and len(body) > MAX_BODY:
            raise TwilioError(21617)
        variables: dict[str, Any] | None = None
        if form.get("ContentVariables"):
            try:
                variables = json.loads(form["ContentVariables"])
            except ValueError:
                raise TwilioError(21656) from None
            if not isinstance(variables, dict):
                raise TwilioError(21656)
        callback = form.get("StatusCallback") or None
        if callback is not None and not callback.startswith(("http://", "https://")):
            raise TwilioError(21609)
        whatsapp = to.startswith("whatsapp:")
        bare = to.removeprefix("whatsapp:")
        if not _E164.match(bare):
            raise TwilioError(21211, f"Invalid 'To' Phone Number: {to}")
        if from_ is not None and from_.startswith("whatsapp:") != whatsapp:
            raise TwilioError(21910)
        code = self.number_errors.get(to) or self.number_errors.get(bare)
        if code:
            raise TwilioError(code)
        if whatsapp or body is None:
            pieces = 1
        else:
            pieces = _segments(body)
        message = StoredMessage(
            sid="SM" + os.urandom(16).hex(),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=None if self.count_only else body,
            content_sid=content_sid,
            content_variables=None if self.count_only else variables,
            status_callback=callback,
            created_at=self.clock(),
            # Through a Messaging Service with no From, Twilio answers "accepted", 0 segments:
            # the sender number is picked later.
            status="queued" if from_ is not None else "accepted",
            num_segments=pieces if from_ is not None else 0,
        )
        return message

    def _store(self, message: StoredMessage) -> None:
        with self._lock:
            message.created_at = self.clock()
            message.generation = self._generation
            self._messages.append(message)
            self._by_sid[message.sid] = message
            self._by_to.setdefault(message.to, []).append(message)
            self._created += 1

    def _list(self, path: str, query: str) -> Reply:
        """Twilio's list filters and paging. The DateSent filters apply to the creation time:
        the fake sends at once, and a message still queued must be found by a sender that
        looks for it (Twilio's date_sent is null until then)."""
        params = _parse_form(query)
        filters = []
        for name in ("DateSent", "DateSent>", "DateSent<"):
            if params.get(name):
                filters.append((name[8:], _parse_date_filter(name, params[name])))
        try:
            size = min(max(int(params.get("PageSize") or 50), 1), 1000)
            page = max(int(params.get("Page") or 0), 0)
        except ValueError:
            raise TwilioError(20001, "Invalid PageSize or Page") from None
        to, from_ = params.get("To"), params.get("From")
        with self._lock:
            pool = list(self._by_to.get(to, ())) if to else list(self._messages)
        chosen = [
            m for m in reversed(pool)  # newest first, as Twilio lists
            if (not from_ or m.from_ == from_)
            and all(_matches_date(m.created_at, op, bound) for op, bound in filters)
        ]
        start = 0
        token = params.get("PageToken", "")
        if token.startswith("PA"):
            # The token names the last message of the previous page: the next page starts
            # after it, even when newer messages arrived in between (Twilio's paging).
            after = next((i for i, m in enumerate(chosen) if m.sid == token[2:]), None)
            start = after + 1 if after is not None else len(chosen)
        elif page:
            start = page * size
        records = chosen[start:start + size]
        kept = [(k, v) for k, v in params.items() if k not in ("Page", "PageSize", "PageToken")]

        def uri(**paging: Any) -> str:
            return f"{path}?{urlencode([*kept, *(('PageSize', size),), *paging.items()])}"

        with self._lock:
            resources = [m.resource() for m in records]
        more = start + size < len(chosen)
        answer = {
            "end": start + len(records) - 1 if records else start,
            "first_page_uri": uri(Page=0),
            "messages": resources,
            "next_page_uri": uri(Page=page + 1, PageToken="PA" + records[-1].sid) if more else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(Page=page - 1) if page > 0 else None,
            "start": start,
            "uri": f"{path}?{query}" if query else path,
        }
        return Reply(200, _dumps(answer))

    def _update(self, sid: str, path: str, form: dict[str, str]) -> Reply:
        """Twilio lets a sender redact a body (Body="") and cancel a scheduled message."""
        message = self._find(sid, path)
        if "Body" in form:
            if form["Body"]:
                raise TwilioError(20001, "Body can only be set to an empty string (redaction)")
            with self._lock:
                message.body = ""
        if form.get("Status") == "canceled":
            raise TwilioError(20001, "Only scheduled messages can be canceled")
        with self._lock:
            return Reply(200, _dumps(message.resource()))

    def _delete(self, sid: str, path: str) -> Reply:
        message = self._find(sid, path)
        with self._lock:
            self._by_sid.pop(sid, None)
            if message in self._messages:
                self._messages.remove(message)
            records = self._by_to.get(message.to, [])
            if message in records:
                records.remove(message)
            if not records:
                self._by_to.pop(message.to, None)
        return Reply(204)

    # -- delivery and status callbacks ----------------------------------------------------

    def deliver_later(self, message: StoredMessage) -> None:
        """Queues `message` for delivery (when callbacks are on): called after its answer is written."""
        if not self.callbacks:
            return
        with self._lock:
            if self._delivery_thread is None:
                self._delivery_thread = threading.Thread(
                    target=self._deliver_loop, name="fake-twilio-delivery", daemon=True)
                self._delivery_thread.start()
        self._deliveries.put(message)

    def _lifecycle(self, message: StoredMessage) -> list[tuple[str, int | None]]:
        bare = message.to.removeprefix("whatsapp:")
        code = self.failed.get(message.to) or self.failed.get(bare)
        if code:
            return [("failed", code)]
        code = self.unreachable.get(message.to) or self.unreachable.get(bare)
        if code:
            return [("sent", None), ("undelivered", code)]
        return [("sent", None), ("delivered", None)]

    def _deliver_loop(self) -> None:
        """One thread delivers every message in creation order, each step in Twilio's order."""
        session = requests.Session()
        try:
            while (message := self._deliveries.get()) is not None:
                self._released.wait()
                for status, code in self._lifecycle(message):
                    if self.callback_delay:
                        time.sleep(self.callback_delay)
                    with self._lock:
                        if message.generation != self._generation:
                            break
                        message.status, message.error_code = status, code
                        if status == "sent":
                            message.date_sent = self.clock()
                    if message.status_callback:
                        self._post_callback(session, message, status, code)
        finally:
            session.close()

    def callback_params(self, message: StoredMessage, status: str, code: int | None) -> dict[str, str]:
        """The form Twilio posts to a StatusCallback URL."""
        whatsapp = message.to.startswith("whatsapp:")
        sender = message.from_ or ("whatsapp:" + SERVICE_NUMBER if whatsapp else SERVICE_NUMBER)
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": sender,
            "MessageSid": message.sid,
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if code is not None:
            params["ErrorCode"] = str(code)
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if whatsapp:
            params["ChannelPrefix"] = "whatsapp"
            params["ChannelToAddress"] = message.to.removeprefix("whatsapp:")
        elif status == "delivered":
            params["RawDlrDoneDate"] = self.clock().strftime("%y%m%d%H%M")
        return params

    def _post_callback(self, session: requests.Session, message: StoredMessage, status: str,
                       code: int | None) -> None:
        url = message.status_callback
        assert url is not None
        params = self.callback_params(message, status, code)
        signature = self._validator.compute_signature(url, params)
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        http_status: int | None = None
        error: str | None = None
        try:
            answer = session.post(url, data=params, headers=headers, timeout=5, allow_redirects=False)
            http_status = answer.status_code
            answer.close()
        except requests.RequestException as failure:
            error = type(failure).__name__
        with self._callbacks_posted:
            if message.generation == self._generation:
                self._callback_attempts.append(
                    CallbackAttempt(message.sid, status, url, params, signature, http_status, error))
                self._callbacks_posted.notify_all()

    # -- control API ----------------------------------------------------------------------

    def _control(self, method: str, path: str, query: str, body: bytes) -> Reply:
        """/_fake/...: inspect and steer the fake from another process (JSON in and out)."""
        params = dict(parse_qsl(query))
        payload: Any = json.loads(body) if body else {}
        route = (method, path.removeprefix("/_fake/").rstrip("/"))
        if route == ("GET", "health"):
            return Reply(200, _dumps({"ok": True}))
        if route == ("GET", "stats"):
            return Reply(200, _dumps(self.stats()))
        if route == ("GET", "messages"):
            records = self.messages_to(params["to"]) if "to" in params else self.messages
            if "limit" in params:
                records = records[max(len(records) - int(params["limit"]), 0):]
            with self._lock:
                listed = [m.to_json() for m in records]
            return Reply(200, _dumps({"messages": listed}))
        if route == ("GET", "counts"):
            return Reply(200, _dumps({"counts": self.counts()}))
        if route == ("GET", "calls"):
            calls = self.calls
            calls = calls[max(len(calls) - int(params.get("limit", "1000")), 0):]
            return Reply(200, _dumps({"calls": [
                {"method": c.method, "path": c.path, "status": c.status, "code": c.code,
                 "outcome": c.outcome.value if c.outcome else None, "at": c.at} for c in calls]}))
        if route == ("GET", "callbacks"):
            return Reply(200, _dumps({"callbacks": [
                {"sid": a.sid, "status": a.status, "url": a.url, "params": a.params,
                 "http_status": a.http_status, "error": a.error} for a in self.callback_attempts]}))
        if route == ("GET", "plan"):
            return Reply(200, _dumps(self.plan.to_dict()))
        if route == ("POST", "plan"):
            self.plan = FailurePlan.from_dict(payload)
            return Reply(200, _dumps(self.plan.to_dict()))
        if route == ("POST", "reset"):
            self.reset()
            return Reply(200, _dumps({"ok": True}))
        if route == ("POST", "config"):
            self._configure(payload)
            return Reply(200, _dumps({"ok": True}))
        return Reply(404, _dumps({"error": "unknown control endpoint", "path": path}))

    def _configure(self, payload: Mapping[str, Any]) -> None:
        known = {"callbacks", "callback_delay", "hold_deliveries", "count_only", "number_errors",
                 "unreachable", "failed"}
        unknown = set(payload) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        if "callbacks" in payload:
            self.callbacks = bool(payload["callbacks"])
        if "callback_delay" in payload:
            self.callback_delay = float(payload["callback_delay"])
        if "hold_deliveries" in payload:
            self.hold_deliveries = bool(payload["hold_deliveries"])
        if "count_only" in payload:
            self.count_only = bool(payload["count_only"])
        for name in ("number_errors", "unreachable", "failed"):
            if name in payload:
                setattr(self, name, {str(k): int(v) for k, v in payload[name].items()})


# -- HTTP -----------------------------------------------------------------------------------

_MAX_LINE = 65536
_MAX_HEADERS = 100


class _Server(socketserver.ThreadingTCPServer):
    """One thread per connection (keep-alive), daemon threads, a deep accept backlog, no stderr.

    A TCPServer rather than http.server's: HTTPServer looks the host name up at bind time
    (getfqdn), which can stall where there is no DNS.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], fake: FakeTwilio) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        self.fake.note_connection()
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a traceback could quote a number, and a client hanging up is routine here."""

    def close_connections(self) -> None:
        """Ends open keep-alive connections: a stopped fake must look stopped to pooled clients."""
        with self.connections_lock:
            open_now = list(self.connections)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _BadRequest(Exception):
    """A request the fake cannot read: answered with `status`, then the connection is closed."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(status)


class _Handler(socketserver.StreamRequestHandler):
    """A lean HTTP/1.1 server loop: keep-alive, Content-Length bodies, one write per answer.

    Not http.server's BaseHTTPRequestHandler: its header parsing (the email package) and
    per-request bookkeeping cost more than everything the fake does with a request, and a
    benchmark pushes 100,000 messages through here. What the clients send (requests,
    urllib, curl) is all it needs to read: a request line, headers, a Content-Length body
    (Expect: 100-continue answered; chunked bodies refused with 411). No request log.
    """

    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection ends, and its thread with it
    server: _Server

    def handle(self) -> None:
        fake = self.server.fake
        while True:
            try:
                request = self._read_request()
            except _BadRequest as bad:
                self._write(bad.status, b"", (), keep_alive=False, head_only=False)
                return
            if request is None:
                return
            method, target, headers, body, keep_alive = request
            reply = fake.handle(method, target, headers.get("authorization"), body)
            try:
                if reply.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._write(reply.status, reply.body, reply.headers, keep_alive, head_only=method == "HEAD")
            finally:
                # Twilio calls back after it answered; a client that hung up (slow) changes nothing.
                if reply.created is not None:
                    fake.deliver_later(reply.created)
            if not keep_alive:
                return

    def _read_request(self) -> tuple[str, str, dict[str, str], bytes, bool] | None:
        """The next request on this connection, or None when the client closed it."""
        line = self.rfile.readline(_MAX_LINE)
        while line in (b"\r\n", b"\n"):  # stray empty lines before a request are allowed
            line = self.rfile.readline(_MAX_LINE)
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400)
        method, target, version = parts
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(_MAX_LINE)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
            if len(headers) > _MAX_HEADERS:
                raise _BadRequest(431)
        if "transfer-encoding" in headers:
            raise _BadRequest(411)
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise _BadRequest(400) from None
        if length and headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            return None
        connection = headers.get("connection", "").lower()
        keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
        return method, target, headers, body, keep_alive

    def _write(self, status: int, body: bytes, headers: Sequence[tuple[str, str]], keep_alive: bool,
               head_only: bool) -> None:
        head = f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
        if status != 204:
            head += f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        for name, value in headers:
            head += f"{name}: {value}\r\n"
        head += "Connection: keep-alive\r\n\r\n" if keep_alive else "Connection: close\r\n\r\n"
        self.wfile.write(head.encode("latin-1") if head_only else head.encode("latin-1") + body)


class FakeTwilioServer:
    """Serves a FakeTwilio over HTTP on `host:port` (0: any free port) until stop().

    stop() also ends open keep-alive connections, so a test can stop the server to make
    the sender see refused connections, then start a new one on the same port.
    """

    def __init__(self, fake: FakeTwilio, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self.host = host
        self.port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeTwilioServer:
        self._httpd = _Server((self.host, self.port), self.fake)
        self.port = self._httpd.server_address[1]
        # A short poll: stop() (shutdown) waits for it, and tests stop many servers.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), name="fake-twilio",
                                        daemon=True)
        self._thread.start()
        self.fake.url = self.url
        self.fake.server = self
        return self

    def serve_forever(self) -> None:
        """In the calling thread (the process mode)."""
        self._httpd = _Server((self.host, self.port), self.fake)
        self.port = self._httpd.server_address[1]
        self.fake.url = self.url
        self.fake.server = self
        print(LISTENING + self.url, flush=True)
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.close_connections()
            self._httpd.server_close()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serve_fake_twilio(fake: FakeTwilio | None = None, port: int = 0) -> Iterator[FakeTwilio]:
    """`fake` served on 127.0.0.1 for the block: `fake.url` is the base URL to send to."""
    fake = fake or FakeTwilio()
    server = FakeTwilioServer(fake, port=port).start()
    try:
        yield fake
    finally:
        server.stop()
        fake.close()


# -- another process ------------------------------------------------------------------------


class FakeTwilioControl:
    """The control API of a fake in another process, for tests and benchmarks."""

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()

    def _get(self, what: str, **params: Any) -> Any:
        answer = self.session.get(f"{self.url}/_fake/{what}", params=params, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def _post(self, what: str, payload: Any = None) -> Any:
        answer = self.session.post(f"{self.url}/_fake/{what}", json=payload or {}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def health(self) -> bool:
        return bool(self._get("health")["ok"])

    def stats(self) -> dict[str, Any]:
        return dict(self._get("stats"))

    def messages(self, to: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("to", to), ("limit", limit)) if v is not None}
        return list(self._get("messages", **params)["messages"])

    def counts(self) -> dict[str, int]:
        return dict(self._get("counts")["counts"])

    def calls(self, limit: int = 1000) -> list[dict[str, Any]]:
        return list(self._get("calls", limit=limit)["calls"])

    def callbacks(self) -> list[dict[str, Any]]:
        return list(self._get("callbacks")["callbacks"])

    def set_plan(self, plan: FailurePlan) -> None:
        self._post("plan", plan.to_dict())

    def configure(self, **settings: Any) -> None:
        """callbacks, callback_delay, hold_deliveries, count_only, number_errors, unreachable, failed."""
        self._post("config", settings)

    def reset(self) -> None:
        self._post("reset")

    def close(self) -> None:
        self.session.close()


@dataclass
class FakeTwilioProcess:
    """A fake running as `python -m tests.fake_twilio`: its process, URL and control API."""

    process: subprocess.Popen[str]
    url: str
    control: FakeTwilioControl = field(init=False)

    def __post_init__(self) -> None:
        self.control = FakeTwilioControl(self.url)


@contextmanager
def run_fake_twilio_process(
    account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN, *, port: int = 0,
    extra_args: Sequence[str] = (), python: str = sys.executable, startup_timeout: float = 20.0,
) -> Iterator[FakeTwilioProcess]:
    """Starts the fake as its own process (from the project root) and stops it after the block."""
    root = Path(__file__).resolve().parent.parent
    argv = [python, "-m", "tests.fake_twilio", "--port", str(port), "--account-sid", account_sid,
            "--auth-token", auth_token, *extra_args]
    process = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline() if process.stdout else ""),
                         daemon=True).start()
        try:
            line = lines.get(timeout=startup_timeout)
        except queue.Empty:
            raise TimeoutError("the fake Twilio process did not start in time") from None
        if not line.startswith(LISTENING):
            raise RuntimeError(f"the fake Twilio process did not start (exit code {process.poll()})")
        running = FakeTwilioProcess(process, line[len(LISTENING):].strip())
        try:
            yield running
        finally:
            running.control.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _number_map(pairs: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pair in pairs:
        number, sep, code = pair.rpartition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{pair!r}: expected NUMBER=CODE")
        out[number] = int(code)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """The process mode; prints one line, `fake twilio listening on URL`, then nothing."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_twilio", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (read it from the line)")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--callbacks", action="store_true", help="deliver messages and post status callbacks")
    parser.add_argument("--callback-delay", type=float, default=0.0, help="seconds before each delivery step")
    parser.add_argument("--failures", default="", help='failure plan, e.g. "rate_limit_every=5,error_every=7,'
                        'slow_seconds=1,script=ok+error_after_create"')
    parser.add_argument("--count-only", action="store_true", help="keep no bodies, no call log (benchmarks)")
    parser.add_argument("--number-error", action="append", default=[], metavar="NUMBER=CODE",
                        help="answer CODE (21610, 21211, 21614...) to creates for NUMBER")
    parser.add_argument("--unreachable", action="append", default=[], metavar="NUMBER=CODE",
                        help="deliver to NUMBER as undelivered with CODE (30003, 30005, 30006...)")
    parser.add_argument("--failed", action="append", default=[], metavar="NUMBER=CODE",
                        help="deliver to NUMBER as failed with CODE")
    args = parser.parse_args(argv)
    fake = FakeTwilio(
        args.account_sid, args.auth_token, plan=FailurePlan.parse(args.failures),
        number_errors=_number_map(args.number_error), unreachable=_number_map(args.unreachable),
        failed=_number_map(args.failed), callbacks=args.callbacks, callback_delay=args.callback_delay,
        count_only=args.count_only,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        FakeTwilioServer(fake, args.host, args.port).serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
