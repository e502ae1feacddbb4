"""Fake HTTP peers on loopback: stand-ins for Rasa and the action server in integration tests.

The end-to-end tests use the real ones; these let a test choose how Rasa behaves
(answers, answers nothing, hangs) without a 30-second start-up.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeRasa:
    """Answers Rasa's REST channel and the action server's /health.

    mode: "reply" (echo the language it was sent), "empty" (the action server
    failed: Rasa answers []), "hang" (never answers in time).
    """

    mode: str = "reply"
    hang_seconds: float = 30.0
    #: When set, the text of every reply (a long answer, to test paging).
    reply_text: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def reply_for(self, payload: dict[str, Any]) -> list[dict[str, str]]:
        if self.mode == "empty":
            return []
        language = (payload.get("metadata") or {}).get("language")
        text = self.reply_text if self.reply_text is not None else f"fake reply in {language}"
        return [{"recipient_id": payload["sender"], "text": text}]


@contextmanager
def serve_fake_rasa(fake: FakeRasa) -> Iterator[FakeRasa]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path in ("/", "/health"):
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length))
            fake.requests.append(payload)
            if fake.mode == "hang":
                time.sleep(fake.hang_seconds)
            self._send(200, fake.reply_for(payload))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
