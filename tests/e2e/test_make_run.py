"""`make run`'s supervisor (`puente run`), as a person runs it: real processes, real signals.

One stack serves the tests in file order (a Rasa start costs ~15 s): it says where to
point Twilio and nothing noisy, listens on loopback only, keeps secrets from Rasa, comes
back after Rasa is killed, and two Ctrl-C in a row leave no process behind. Two short
runs, stopped while Rasa is still loading, check SIGTERM during start-up and a
SIGKILLed supervisor.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from puente.config import ENV_VARS, Settings
from puente.migrate import upgrade
from puente.runner import PROCESS_SETTINGS, RASA_BIN, settings_env
from puente.simulator import Delivery, deliver, inbound_form, new_message_sid
from tests.conftest import make_settings
from tests.e2e.conftest import free_port
from tests.e2e.procs import Proc, environ, in_sessions, kill, listening_sockets, tree, wait_until_gone
from tests.e2e.texts import FALLBACK, GREETING, tr

pytestmark = pytest.mark.e2e

PERSON = "+13235550117"  # fictional (555-01xx)
# How each child shows in its command line.
MARKERS = {"actions": "puente.action_server", "rasa": str(RASA_BIN), "webhooks": "gunicorn",
           "worker": "bin/puente worker"}
# Lines `make run` must never print (they were all there before).
NOISE = (
    "Warning:",  # Python warnings: DeprecationWarning, UserWarning, PyparsingDeprecationWarning…
    "might not be compatible",  # rasa-sdk 3.21 on Rasa 3.6
    "Failed to read endpoint configuration",
    "Traceback",
    "KeyboardInterrupt",
)
CHILD_LINE = re.compile(r"\[(actions|rasa|webhooks|worker)\] .*\b(WARNING|ERROR|CRITICAL)\b")


def answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class PuenteRun:
    """A `puente run` on its own ports, database and log folder."""

    process: subprocess.Popen[str]
    settings: Settings
    log_dir: Path
    output: list[str] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)
    seen_sessions: set[int] = field(default_factory=set)

    def read_output(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))

    @property
    def ports(self) -> list[int]:
        return [self.settings.port, self.settings.rasa_port, self.settings.actions_port]

    def wait_for(self, prefix: str, timeout: float, after: int = 0) -> int:
        """The index of the first output line from `after` on that starts with `prefix`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(after, len(self.output)):
                if self.output[index].startswith(prefix):
                    return index
            if self.process.poll() is not None and not self.reading():
                break
            time.sleep(0.1)
        tail = "\n".join(self.output[-40:])
        raise AssertionError(f"no line starting {prefix!r} within {timeout:.0f} s:\n{tail}")

    def reading(self) -> bool:
        return any(t.name == f"output-{self.process.pid}" and t.is_alive() for t in threading.enumerate())

    def children(self) -> dict[str, Proc]:
        """The supervisor's children, by name."""
        found = {}
        for proc in tree(self.process.pid):
            if proc.ppid == self.process.pid:
                found.update({name: proc for name, marker in MARKERS.items() if marker in proc.command})
        return found

    def sessions(self) -> set[int]:
        """The sessions of everything the supervisor started (each child leads its own)."""
        sessions = {proc.sid for proc in tree(self.process.pid) if proc.pid != self.process.pid}
        self.seen_sessions |= sessions
        return sessions

    def text(self, body: str) -> Delivery:
        url = f"http://{self.settings.host}:{self.settings.port}/twilio/messages"
        form = inbound_form(body, sender=PERSON, message_sid=new_message_sid())
        return deliver(url, form, self.settings.twilio_auth_token, self.http)

    def health(self) -> requests.Response:
        return self.http.get(f"http://{self.settings.host}:{self.settings.port}/healthz", timeout=10)

    def end(self) -> None:
        """Stop it, and kill whatever a failed test left behind."""
        if self.process.poll() is None:
            self.sessions()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for thread in threading.enumerate():
            if thread.name == f"output-{self.process.pid}":
                thread.join(10)
        self.http.close()
        kill(in_sessions(self.seen_sessions))


def start_puente_run(workdir: Path) -> PuenteRun:
    ports = {"port": free_port(), "rasa_port": free_port(), "actions_port": free_port()}
    settings = make_settings(f"sqlite:///{workdir / 'puente.db'}", rasa_url="", actions_url="",
                             state_dir=str(workdir / "var"), **ports)
    assert settings.rasa_url == f"http://127.0.0.1:{ports['rasa_port']}"
    upgrade(settings.database_url)
    env = {**os.environ, **settings_env(settings), "PUENTE_ENV_FILE": str(workdir / "none")}
    log_dir = workdir / "logs"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "puente"), "run", "--log-dir", str(log_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    run = PuenteRun(process, settings, log_dir)
    threading.Thread(target=run.read_output, name=f"output-{process.pid}", daemon=True).start()
    return run


@pytest.fixture(scope="module")
def puente_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuenteRun]:
    run = start_puente_run(tmp_path_factory.mktemp("puente-run"))
    try:
        run.wait_for("puente: ready", timeout=300)
        yield run
    finally:
        run.end()


def test_it_says_when_it_is_ready_and_where_to_point_twilio(puente_run: PuenteRun) -> None:
    ready = puente_run.wait_for("puente: ready", timeout=1)
    said = "\n".join(puente_run.output[ready:])
    port = puente_run.settings.port
    assert f"http://127.0.0.1:{port}/twilio/messages" in said
    assert "puente chat" in said
    assert str(puente_run.log_dir / "rasa.log") in said and str(puente_run.log_dir / "worker.log") in said
    assert puente_run.health().status_code == 200
    assert all(answers(port) for port in puente_run.ports)


def test_every_listening_socket_is_on_loopback(puente_run: PuenteRun) -> None:
    """Not 0.0.0.0 or :: : on a shared network anyone could call the actions."""
    pids = [proc.pid for proc in tree(puente_run.process.pid)]
    listening = listening_sockets(pids)
    assert {port for _, port in listening} >= set(puente_run.ports), listening
    assert {address for address, _ in listening} <= {"127.0.0.1", "::1"}, listening


def test_rasa_and_the_action_server_get_no_secrets(puente_run: PuenteRun) -> None:
    children = puente_run.children()
    settings = puente_run.settings
    rasa, actions = environ(children["rasa"].pid), environ(children["actions"].pid)
    worker = environ(children["worker"].pid)
    rasa_text, actions_text = "\n".join(f"{k}={v}" for k, v in rasa.items()), "\n".join(actions.values())
    secrets = {"TWILIO_AUTH_TOKEN": settings.twilio_auth_token, "PUENTE_SECRET_KEY": settings.secret_key}
    for name, value in secrets.items():
        assert name not in rasa and value not in rasa_text
    for name, value in secrets.items():
        assert name not in actions and value not in actions_text
    # The worker sends broadcasts: it decrypts the numbers it sends to and signs in to Twilio, so it
    # gets those two, and none of Puente's settings beyond its own.
    assert (worker["PUENTE_SECRET_KEY"], worker["TWILIO_AUTH_TOKEN"]) == (settings.secret_key,
                                                                         settings.twilio_auth_token)
    assert set(worker) & set(ENV_VARS) <= PROCESS_SETTINGS["worker"]
    assert "DATABASE_URL" not in rasa and "TRACKER_STORE_URL" in rasa
    # What they do get still works: the action server's database.
    assert actions["DATABASE_URL"] == settings.database_url
    assert worker["DATABASE_URL"] == settings.database_url and worker["PUENTE_VAR_DIR"] == settings.state_dir
    assert environ(children["webhooks"].pid)["TWILIO_AUTH_TOKEN"] == settings.twilio_auth_token


def test_a_killed_rasa_comes_back_and_meanwhile_people_get_the_fallback(puente_run: PuenteRun) -> None:
    rasa = puente_run.children()["rasa"]
    seen = len(puente_run.output)
    started = time.monotonic()
    os.kill(rasa.pid, signal.SIGKILL)
    puente_run.wait_for("puente: rasa stopped (exit -9); restarting in 1 s", timeout=10, after=seen)

    assert puente_run.text("hola").replies == [tr("es", FALLBACK)]
    health = puente_run.health()
    assert health.status_code == 503 and health.json()["down"] == ["rasa"]

    puente_run.wait_for("puente: rasa is back", timeout=90, after=seen)
    print(f"rasa back {time.monotonic() - started:.1f} s after SIGKILL")
    assert puente_run.text("hola").replies == [tr("es", GREETING)]
    assert puente_run.health().status_code == 200
    assert puente_run.children()["rasa"].pid != rasa.pid


def test_two_ctrl_c_in_a_row_stop_everything(puente_run: PuenteRun) -> None:
    """The second during shutdown used to raise inside it and orphan rasa, actions, gunicorn."""
    # An action call first: rasa-sdk warned about Rasa's version on each.
    assert puente_run.text("hola").replies == [tr("es", GREETING)]
    sessions = puente_run.sessions()
    assert len(sessions) == 4
    seen = len(puente_run.output)
    puente_run.process.send_signal(signal.SIGINT)
    puente_run.wait_for("puente: stopping", timeout=10, after=seen)
    puente_run.process.send_signal(signal.SIGINT)
    assert puente_run.process.wait(30) == 0
    assert wait_until_gone(sessions, timeout=10) == []
    assert not any(answers(port) for port in puente_run.ports)

    # All it said, from start to end: its own lines and children's warnings and errors.
    puente_run.wait_for("puente: stopped.", timeout=5, after=seen)
    for line in puente_run.output:
        assert not any(noise in line for noise in NOISE), line
        assert line.startswith(("puente: ", "  ")) or CHILD_LINE.match(line), line
    # The causes are fixed, not only hidden from the terminal.
    actions_log = (puente_run.log_dir / "actions.log").read_text()
    assert "might not be compatible" not in actions_log
    assert "Failed to read endpoint configuration" not in actions_log


@pytest.fixture
def loading_run(tmp_path: Path) -> Iterator[PuenteRun]:
    """A `puente run` with actions and webhooks up and Rasa still loading."""
    run = start_puente_run(tmp_path)
    try:
        run.wait_for("puente: actions is up", timeout=60)
        deadline = time.monotonic() + 30
        while not answers(run.settings.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(run.children()) == {"actions", "rasa", "webhooks", "worker"}
        run.sessions()
        assert not any(line.startswith("puente: rasa is up") for line in run.output)
        yield run
    finally:
        run.end()


def test_sigterm_during_start_up_stops_everything(loading_run: PuenteRun) -> None:
    sessions = loading_run.sessions()
    loading_run.process.send_signal(signal.SIGTERM)
    assert loading_run.process.wait(30) == 0
    assert wait_until_gone(sessions, timeout=10) == []
    assert not any(answers(port) for port in loading_run.ports)


def test_children_die_with_a_killed_supervisor(loading_run: PuenteRun) -> None:
    """SIGKILL cleans nothing up: the kernel ends the children (PR_SET_PDEATHSIG)."""
    family = tree(loading_run.process.pid)
    assert len(family) >= 7, family  # the supervisor, actions, rasa, gunicorn and its 2 workers, worker
    sessions = loading_run.sessions()
    loading_run.process.kill()
    loading_run.process.wait()
    # gunicorn's workers notice their master is gone within a second or so.
    assert wait_until_gone(sessions, timeout=15) == []
    assert not any(answers(port) for port in loading_run.ports)
