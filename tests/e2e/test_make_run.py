"""`make run`'s supervisor (`puente run`): everything comes up, and one signal stops it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from puente.config import Settings
from puente.migrate import upgrade
from puente.runner import RASA_BIN, settings_env
from tests.conftest import make_settings
from tests.e2e.conftest import free_port
from tests.e2e.procs import Proc, environ, listening_sockets, tree

pytestmark = pytest.mark.e2e

# How each child shows in its command line.
MARKERS = {"actions": "puente.action_server", "rasa": str(RASA_BIN), "webhooks": "gunicorn"}


def answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_puente_run_starts_all_and_a_signal_stops_all(tmp_path: Path, stop_signal: signal.Signals) -> None:
    ports = {"PORT": free_port(), "RASA_PORT": free_port(), "ACTIONS_PORT": free_port()}
    settings = make_settings(
        f"sqlite:///{tmp_path / 'puente.db'}",
        rasa_url="",
        actions_url="",
        port=ports["PORT"],
        rasa_port=ports["RASA_PORT"],
        actions_port=ports["ACTIONS_PORT"],
    )
    assert settings.rasa_url == f"http://127.0.0.1:{ports['RASA_PORT']}"
    upgrade(settings.database_url)
    env = {**os.environ, **settings_env(settings), "PUENTE_ENV_FILE": str(tmp_path / "none")}
    run = subprocess.Popen(
        [str(Path(sys.executable).parent / "puente"), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert run.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            assert line, "puente run ended before it was ready:\n" + "".join(lines[-30:])
            lines.append(line)
            if line.startswith("puente: ready"):
                break
        response = requests.get(f"http://127.0.0.1:{ports['PORT']}/healthz", timeout=10)
        assert response.status_code == 200, response.text
        assert all(answers(port) for port in ports.values())
        assert_listening_on_loopback_only(run.pid, set(ports.values()))
        assert_no_secrets_for_rasa_and_actions(run.pid, settings)

        run.send_signal(stop_signal)
        rest, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, rest
    assert "puente: stopping" in rest
    assert not any(answers(port) for port in ports.values())


def children(supervisor: int) -> dict[str, Proc]:
    found = {}
    for proc in tree(supervisor):
        if proc.ppid == supervisor:
            found.update({name: proc for name, marker in MARKERS.items() if marker in proc.command})
    return found


def assert_listening_on_loopback_only(supervisor: int, ports: set[int]) -> None:
    """Not 0.0.0.0 or :: : on a shared network anyone could call the actions."""
    listening = listening_sockets([proc.pid for proc in tree(supervisor)])
    assert {port for _, port in listening} >= ports, listening
    assert {address for address, _ in listening} <= {"127.0.0.1", "::1"}, listening


def assert_no_secrets_for_rasa_and_actions(supervisor: int, settings: Settings) -> None:
    found = children(supervisor)
    rasa, actions = environ(found["rasa"].pid), environ(found["actions"].pid)
    rasa_text, actions_text = "\n".join(f"{k}={v}" for k, v in rasa.items()), "\n".join(actions.values())
    secrets = {"TWILIO_AUTH_TOKEN": settings.twilio_auth_token, "PUENTE_SECRET_KEY": settings.secret_key}
    for name, value in secrets.items():
        assert name not in rasa and value not in rasa_text
    assert "TWILIO_AUTH_TOKEN" not in actions and settings.twilio_auth_token not in actions_text
    assert "DATABASE_URL" not in rasa and "TRACKER_STORE_URL" in rasa
    assert actions["DATABASE_URL"] == settings.database_url
    assert environ(found["webhooks"].pid)["TWILIO_AUTH_TOKEN"] == settings.twilio_auth_token
