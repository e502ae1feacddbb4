"""The Rasa assistant, reached over its REST channel, and the health of what it needs."""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
HEALTH_TIMEOUT = 2.0


class AssistantUnavailable(RuntimeError):
    """Rasa (or the action server behind it) could not answer in time."""


class RasaClient:
    """Sends a person's text to Rasa's REST channel under their pseudonymous sender id."""

    def __init__(self, rasa_url: str, actions_url: str, timeout: float) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.actions_url = actions_url.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    @property
    def _http(self) -> requests.Session:
        # One keep-alive session per thread: requests.Session is not thread-safe.
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # a loopback or private URL: no proxies, no .netrc lookups
        return session

    def respond(
        self, sender_id: str, text: str, metadata: dict[str, Any], timeout: float | None = None
    ) -> list[str]:
        """Rasa's text replies, in order. Raises AssistantUnavailable on any failure.

        `timeout` shortens the configured wait for Rasa's answer (the time left of a
        reply's budget). Rasa answers an empty list when a custom action failed (the
        action server is down or raised): that is a failure too, not a silent reply.
        """
        payload = {"sender": sender_id, "message": text, "metadata": metadata}
        wait = self.timeout if timeout is None else min(self.timeout, timeout)
        try:
            response = self._http.post(
                f"{self.rasa_url}/webhooks/rest/webhook",
                json=payload,
                timeout=(CONNECT_TIMEOUT, wait),
            )
            response.raise_for_status()
            messages = response.json()
        except (requests.RequestException, ValueError) as error:
            raise AssistantUnavailable(f"rasa: {type(error).__name__}") from None
        texts = [m["text"] for m in messages if isinstance(m, dict) and m.get("text")]
        if not texts:
            raise AssistantUnavailable("rasa: no reply (is the action server up?)")
        return texts

    def check_rasa(self) -> str | None:
        """None when Rasa answers, else what is wrong."""
        return _check(f"{self.rasa_url}/")

    def check_actions(self) -> str | None:
        """None when the action server answers, else what is wrong."""
        return _check(f"{self.actions_url}/health")


def _check(url: str) -> str | None:
    try:
        response = requests.get(url, timeout=(CONNECT_TIMEOUT, HEALTH_TIMEOUT))
    except requests.RequestException as error:
        return f"unreachable ({type(error).__name__})"
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return None
