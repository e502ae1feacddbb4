"""The one sender: every outbound message goes through here, to Twilio or to the outbox.

One attempt per call, classified so the caller knows what it may do next:

- `SENT`: Twilio accepted it (its MessageSid), or the outbox kept it;
- `RETRY`: it certainly did not go (429 / error 20429, a refused connection): safe to
  send again after a backoff;
- `UNCERTAIN`: the request went out and the answer was lost (a timeout, a 5xx, a broken
  connection): Twilio may have created the message. It is never blindly resent: `find`
  looks for it in Twilio's own list first;
- `FAILED`: a permanent error, with Twilio's code and Puente's reason (`opted_out` for
  21610, `invalid_number` for 21211 and 21614, `unreachable` for 30003/30005/30006).

Pacing (`TWILIO_SEND_RATE` across every worker) is `Pace`: one reservation per batch in
the shared database, then each message waits for its own slot inside it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import aiohttp
import requests
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from puente.broadcasts.models import SendPace
from puente.config import Settings

logger = logging.getLogger(__name__)

# twilio's HTTP client logs every request's parameters (the number, the body) at INFO:
# `puente.messaging.twilio_client` gives it a logger of its own, kept at WARNING.

#: Seconds one request may take before it counts as uncertain.
REQUEST_TIMEOUT = 10.0
#: How far Twilio's clock may be from Puente's: its list is searched from the claim minus this.
#: Servers keep NTP time and Twilio's dates are to the second; a wider window would take an
#: earlier message to the same person for this one, and make more deliveries `unknown`.
CLOCK_SKEW = timedelta(seconds=5)

PERMANENT = {
    21610: "opted_out",
    21211: "invalid_number",
    21614: "invalid_number",
    30003: "unreachable",
    30005: "unreachable",
    30006: "unreachable",
}


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    UNCERTAIN = "uncertain"
    FAILED = "failed"


@dataclass(frozen=True)
class Outgoing:
    """One message to one address: free text (`body`) or a WhatsApp template."""

    channel: str  # "sms" or "whatsapp"
    to: str  # E.164
    body: str | None = None
    content_sid: str | None = None
    content_variables: str | None = None  # JSON

    @property
    def to_urn(self) -> str:
        return f"whatsapp:{self.to}" if self.channel == "whatsapp" else self.to


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    sid: str | None = None
    error_code: int | None = None
    reason: str | None = None


class NoSender(Exception):
    """No Twilio sender is configured for a channel (no number, no messaging service)."""


def classify(error: BaseException) -> Result:
    """What a failed attempt means (see the module docstring)."""
    if isinstance(error, TwilioRestException):
        code = int(error.code) if isinstance(error.code, int) else None
        if error.status == 429 or code == 20429:
            return Result(Outcome.RETRY, error_code=code or 20429, reason="rate_limited")
        if code in PERMANENT:
            return Result(Outcome.FAILED, error_code=code, reason=PERMANENT[code])
        if error.status >= 500:
            return Result(Outcome.UNCERTAIN, error_code=code, reason="server_error")
        return Result(Outcome.FAILED, error_code=code, reason="rejected")
    if isinstance(error, aiohttp.ClientConnectorError):
        # The connection was never made (refused, no route, DNS): the request never left.
        return Result(Outcome.RETRY, reason="connection_refused")
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return Result(Outcome.UNCERTAIN, reason="timeout")
    if isinstance(error, aiohttp.ClientError):
        return Result(Outcome.UNCERTAIN, reason="connection_lost")  # after the request may have gone
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return Result(Outcome.RETRY, reason="connect_timeout")
    if isinstance(error, requests.exceptions.ConnectionError) and not isinstance(
        error, requests.exceptions.ReadTimeout
    ):
        # A refused connection never carried the request; a reset after it may have.
        text = repr(error.args[0]) if error.args else ""
        if "NewConnectionError" in text or "Connection refused" in text:
            return Result(Outcome.RETRY, reason="connection_refused")
        return Result(Outcome.UNCERTAIN, reason="connection_lost")
    if isinstance(error, requests.exceptions.Timeout):
        return Result(Outcome.UNCERTAIN, reason="timeout")
    return Result(Outcome.UNCERTAIN, reason=type(error).__name__[:32])


class _Loop:
    """An event loop on a thread of its own, with twilio's async client on it: one per process
    (a worker's task threads share it), started on first use, again after a fork."""

    def __init__(self, settings: Settings, concurrency: int) -> None:
        from puente.messaging.twilio_client import async_twilio_client

        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sender-loop", daemon=True)
        self.thread.start()

        async def setup() -> tuple[Client, asyncio.Semaphore]:
            client = async_twilio_client(
                settings.twilio_api_base_url, settings.twilio_account_sid, settings.twilio_auth_token
            )
            return client, asyncio.Semaphore(concurrency)

        self.client, self.semaphore = asyncio.run_coroutine_threadsafe(setup(), self.loop).result()

    def run(self, coroutine: Coroutine[Any, Any, list[Result]]) -> list[Result]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        """Close the client's connections and stop the loop."""

        async def shut() -> None:
            await self.client.http_client.close()

        try:
            asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            if not self.thread.is_alive():
                self.loop.close()


class Sender:
    """Sends through Twilio's client, or keeps messages in the outbox when there are no
    credentials (a dry run a new user can look at).

    Messages go out on twilio's asyncio client, at most `concurrency` in flight per process;
    lookups (`find`, rare) use its plain client.
    """

    def __init__(self, settings: Settings, concurrency: int = 8) -> None:
        self.settings = settings
        self.concurrency = concurrency
        # No account: nothing can be sent (set-up writes a local auth token, for signatures only).
        self.outbox = not settings.twilio_account_sid
        self._lock = threading.Lock()
        self._loop: _Loop | None = None
        self._local = threading.local()

    def _event_loop(self) -> _Loop:
        with self._lock:
            if self._loop is None or self._loop.pid != os.getpid():
                self._loop = _Loop(self.settings, self.concurrency)
            return self._loop

    def close(self) -> None:
        """Close what this process opened (the worker, a command and a test, as they end)."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None and loop.pid == os.getpid():
            loop.close()

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            from puente.messaging.twilio_client import twilio_client

            client = twilio_client(
                self.settings.twilio_api_base_url,
                self.settings.twilio_account_sid,
                self.settings.twilio_auth_token,
                timeout=REQUEST_TIMEOUT,
                pool_size=2,
            )
            self._local.client = client
        return client

    def sender_fields(self, channel: str) -> dict[str, str]:
        """Where a message on `channel` is sent from."""
        s = self.settings
        if channel == "whatsapp":
            if s.twilio_whatsapp_from:
                sender = s.twilio_whatsapp_from
                return {"from_": sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"}
            if s.twilio_messaging_service_sid:
                return {"messaging_service_sid": s.twilio_messaging_service_sid}
            raise NoSender("TWILIO_WHATSAPP_FROM (or TWILIO_MESSAGING_SERVICE_SID) is not set")
        if s.twilio_messaging_service_sid:
            return {"messaging_service_sid": s.twilio_messaging_service_sid}
        if s.twilio_from_number:
            return {"from_": s.twilio_from_number}
        raise NoSender("TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER is not set")

    def status_callback(self) -> str | None:
        base = self.settings.public_base_url
        return f"{base}/twilio/status" if base else None

    def _params(self, message: Outgoing) -> dict[str, Any]:
        params: dict[str, Any] = {"to": message.to_urn, **self.sender_fields(message.channel)}
        if message.content_sid:
            params["content_sid"] = message.content_sid
            params["content_variables"] = message.content_variables or "{}"
        else:
            params["body"] = message.body or ""
        callback = self.status_callback()
        if callback:
            params["status_callback"] = callback
        return params

    def send(self, message: Outgoing) -> Result:
        """One message, now (a test send)."""
        return self.send_many([message], [0.0])[0]

    def send_many(
        self, messages: Sequence[Outgoing], slots: Sequence[float], deadline: float | None = None
    ) -> list[Result]:
        """Each message once, none before its slot nor after `deadline` (epoch seconds: the
        claim's lease; one that would start later is a `RETRY` that never left), at most
        `concurrency` at a time in this process; a result for every one (never raises for
        what Twilio or the network does)."""
        if self.outbox:
            return [Result(Outcome.SENT, sid=f"OB{uuid.uuid4().hex}") for _ in messages]
        try:
            params = [self._params(m) for m in messages]
        except NoSender as missing:
            logger.warning("not sent: %s", missing)
            return [Result(Outcome.FAILED, reason="no_sender") for _ in messages]
        loop = self._event_loop()

        async def one(each: dict[str, Any], slot: float) -> Result:
            delay = slot - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            async with loop.semaphore:
                if deadline is not None and time.time() > deadline:
                    return Result(Outcome.RETRY, reason="claim_expired")  # never started
                try:
                    created = await asyncio.wait_for(
                        loop.client.messages.create_async(**each), REQUEST_TIMEOUT
                    )
                except Exception as error:  # noqa: BLE001 - classified; only its type and code are kept
                    return classify(error)
            return Result(Outcome.SENT, sid=str(created.sid))

        async def all_of() -> list[Result]:
            return list(await asyncio.gather(*(one(p, slot) for p, slot in zip(params, slots, strict=True))))

        return loop.run(all_of())

    def find(self, message: Outgoing, since: datetime) -> str | None:
        """The MessageSid of this very message, if Twilio created it since `since` (an uncertain
        attempt that did go); None when Twilio lists no message of Puente's to that number since.

        Only messages Puente sent through the API from its own sender count (not the replies it
        gave in conversation, which are `outbound-reply`). One of them with the same body is
        this message. Any other one (a template, whose text is Twilio's; another alert of the
        same minutes; a body Twilio changed) makes the question unanswerable: `Ambiguous`, and
        the delivery is `unknown`, never sent again. Raises too when Twilio cannot be asked.
        """
        if self.outbox:
            return None
        ours = self.sender_fields(message.channel)
        candidates = []
        for found in self._client().messages.list(to=message.to_urn, limit=50):
            created = found.date_created
            if created is None or created < since - CLOCK_SKEW:
                continue
            if (found.direction or "outbound-api") != "outbound-api":
                continue
            if "from_" in ours and found.from_ and found.from_ != ours["from_"]:
                continue
            if "messaging_service_sid" in ours and found.messaging_service_sid not in (
                None,
                ours["messaging_service_sid"],
            ):
                continue
            if message.body is not None and (found.body or "") == message.body:
                return str(found.sid)
            candidates.append(found)
        if candidates:
            raise Ambiguous(f"{len(candidates)} other messages to that number since the attempt")
        return None


class Ambiguous(Exception):
    """Twilio lists messages of Puente's to the number, none of them plainly this one."""


class Pace:
    """`TWILIO_SEND_RATE` segments a second, across every worker, kept in the shared database."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def reserve(self, session: Session, sender: str, cost: float) -> float:
        """Reserve `cost` segments' worth of time, in `session`'s transaction; the epoch second
        the slot starts (now when the rate is lifted: TWILIO_SEND_RATE=0)."""
        now = time.time()
        if self.rate <= 0 or cost <= 0:
            return now
        length = cost / self.rate
        if session.get(SendPace, sender) is None:
            try:
                with session.begin_nested():
                    session.add(SendPace(sender=sender, next_free_at=0.0))
            except IntegrityError:
                pass  # another worker made the row first
        session.execute(
            update(SendPace)
            .where(SendPace.sender == sender)
            .values(next_free_at=_later(SendPace.next_free_at, now) + length)
        )
        end = float(session.scalar(select(SendPace.next_free_at).where(SendPace.sender == sender)) or 0)
        return end - length


def _later(column: Any, now: float) -> Any:
    from sqlalchemy import case

    return case((column < now, now), else_=column)


def wait_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)
