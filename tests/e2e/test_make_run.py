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

from puente.migrate import upgrade
from puente.runner import settings_env
from tests.conftest import make_settings
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e


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

        run.send_signal(stop_signal)
        rest, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, rest
    assert "puente: stopping" in rest
    assert not any(answers(port) for port in ports.values())
