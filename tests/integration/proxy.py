"""A TCP proxy on loopback in front of PostgreSQL that can refuse or hang on command.

    forward  relays bytes both ways (the database works)
    refuse   closes the listener and resets every open connection (a database that is down)
    hang     keeps accepting, and relays nothing on new or open connections (a server
             that accepts and never answers: its kernel still acknowledges every byte)

One thread runs a selector loop; `set_mode` wakes it. The port stays the same across
modes, so an engine configured once sees the database come and go.
"""

from __future__ import annotations

import random
import selectors
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum


class Mode(StrEnum):
    FORWARD = "forward"
    REFUSE = "refuse"
    HANG = "hang"


# Below Linux's ephemeral range (32768-60999), so no outgoing connection takes the
# port while the proxy is refusing and its listener is closed.
PORT_RANGE = (20000, 32000)


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a crashed server's kernel does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = Mode.FORWARD
        self.port = 0
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener: socket.socket | None = None
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._held: list[socket.socket] = []  # accepted while hanging
        self._lock = threading.Lock()
        self._pending: Mode | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)

    # --- control, from the test's thread ---------------------------------------
    def start(self) -> None:
        for _ in range(100):
            port = random.randint(*PORT_RANGE)
            try:
                self._listener = self._listen(port)
            except OSError:
                continue
            self.port = port
            break
        else:
            raise RuntimeError("no free port for the proxy")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._thread.start()

    def set_mode(self, mode: Mode) -> None:
        """Switch modes; returns once the loop has applied it."""
        done = threading.Event()
        with self._lock:
            self._pending = mode
            self._applied = done
        self._wake_w.send(b"x")
        if not done.wait(5):
            raise RuntimeError("the proxy did not switch modes")

    def stop(self) -> None:
        self._stopping = True
        self._wake_w.send(b"x")
        self._thread.join(5)
        for sock in [*self._pairs, *self._held]:
            sock.close()
        if self._listener is not None:
            self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        self._selector.close()

    # --- the loop ---------------------------------------------------------------
    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        listener.setblocking(False)
        return listener

    def _run(self) -> None:
        while not self._stopping:
            for key, _events in self._selector.select(timeout=0.5):
                if key.data == "wake":
                    self._wake_r.recv(64)
                    self._apply_pending()
                elif key.data == "accept":
                    self._accept()
                else:
                    self._relay(key.fileobj)  # type: ignore[arg-type]

    def _apply_pending(self) -> None:
        with self._lock:
            mode, self._pending = self._pending, None
            applied = getattr(self, "_applied", None)
        if mode is None:
            return
        self.mode = mode
        if mode is Mode.HANG:
            # Open connections stay open, and what is sent on them is never relayed.
            for sock in list(self._pairs):
                self._selector.unregister(sock)
                self._held.append(sock)
            self._pairs.clear()
        else:
            # Every open connection goes, as when a server restarts or its host drops off.
            for sock in list(self._pairs):
                self._drop(sock, reset=True)
            for sock in self._held:
                _reset(sock)
            self._held.clear()
        if mode is Mode.REFUSE and self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        elif mode is not Mode.REFUSE and self._listener is None:
            self._listener = self._listen(self.port)
            self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        if applied is not None:
            applied.set()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self.mode is Mode.HANG:
            self._held.append(client)  # never read, never answered
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            _reset(client)
            return
        for sock in (client, upstream):
            sock.setblocking(False)
        self._pairs[client], self._pairs[upstream] = upstream, client
        self._selector.register(client, selectors.EVENT_READ, "relay")
        self._selector.register(upstream, selectors.EVENT_READ, "relay")

    def _relay(self, sock: socket.socket) -> None:
        peer = self._pairs.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(sock, reset=False)
            return
        try:
            peer.setblocking(True)
            peer.sendall(data)
            peer.setblocking(False)
        except OSError:
            self._drop(sock, reset=False)

    def _drop(self, sock: socket.socket, *, reset: bool) -> None:
        peer = self._pairs.pop(sock, None)
        for each in (sock, peer):
            if each is None:
                continue
            self._pairs.pop(each, None)
            try:
                self._selector.unregister(each)
            except (KeyError, ValueError):
                pass
            if reset:
                _reset(each)
            else:
                each.close()


@contextmanager
def proxy_to(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
