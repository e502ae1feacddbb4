"""Puente installed as the Docker image installs it: non-editable, data under PUENTE_ROOT.

No Docker engine runs here, so the image is rebuilt by hand from the Dockerfile: its
COPY lines decide what lands in the app folder, the package is installed into a fresh
venv with the same uv command and lock file, and everything then runs from another
working directory, so nothing can come from this checkout by accident.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from puente.config import PROJECT_ROOT
from tests.e2e.conftest import free_port

UV = PROJECT_ROOT / ".uv" / "bin" / "uv"


def dockerfile_copies() -> list[str]:
    """The sources of the base stage's COPY lines (what the image holds besides site-packages)."""
    sources: list[str] = []
    for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines():
        if match := re.match(r"COPY (.+) \S+$", line):
            sources.extend(match.group(1).split())
    return sources


def install_command(stage: str) -> str:
    """The stage's RUN command from the Dockerfile, its continuation lines joined."""
    text = (PROJECT_ROOT / "Dockerfile").read_text().split(f" AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
    match = re.search(r"^RUN ((?:.*\\\n)*.*)$", text, flags=re.MULTILINE)
    assert match and "uv pip install" in match.group(1), f"no uv pip install in the {stage} stage"
    return match.group(1).replace("\\\n", " ")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """/app and a venv, laid out as the webhooks image has them."""
    root = tmp_path_factory.mktemp("image")
    app, venv = root / "app", root / "venv"
    app.mkdir()
    for source in dockerfile_copies():
        path = PROJECT_ROOT / source
        if path.is_dir():
            shutil.copytree(path, app / source, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.pot"))
        else:
            shutil.copy(path, app / source)
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    # The Dockerfile's own command, run in the fresh venv instead of the system Python.
    command = install_command("webhooks").replace("--system", f"--python {venv / 'bin' / 'python'}")
    search_path = f"{venv / 'bin'}:{UV.parent}:{os.environ['PATH']}"
    subprocess.run(["sh", "-c", command], cwd=app, check=True, env={**os.environ, "PATH": search_path})
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return {"root": root, "app": app, "venv": venv, "cwd": elsewhere}


def run_env(image: dict[str, Path], **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "PUENTE_ROOT": str(image["app"]),
        "PUENTE_ENV_FILE": str(image["root"] / "no.env"),
        "PUENTE_SECRET_KEY": "x" * 48,
        "TWILIO_AUTH_TOKEN": "image-test-token",
        "DATABASE_URL": f"sqlite:///{image['root'] / 'puente.db'}",
        **extra,
    }


def test_the_package_is_installed_into_site_packages_not_linked_to_this_checkout(
    image: dict[str, Path],
) -> None:
    found = subprocess.run(
        [str(image["venv"] / "bin" / "python"), "-c", "import puente, webhooks; print(puente.__file__)"],
        cwd=image["cwd"], env=run_env(image), capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert "site-packages" in found and not found.startswith(str(PROJECT_ROOT))
    # The webhooks image leaves the action server's dependencies out.
    missing = subprocess.run([str(image["venv"] / "bin" / "python"), "-c", "import rasa_sdk"],
                             cwd=image["cwd"], env=run_env(image), capture_output=True)
    assert missing.returncode != 0


def test_migrations_run_and_catalogs_load_from_puente_root(image: dict[str, Path]) -> None:
    puente = str(image["venv"] / "bin" / "puente")
    subprocess.run([puente, "db", "upgrade"], cwd=image["cwd"], env=run_env(image), check=True)
    english = "I can only read text. Please write your question in a message."
    script = (
        "from puente.config import load_settings; from puente.i18n import registry;"
        f"print(registry(load_settings().locales_dir).translations('es').gettext({english!r}))"
    )
    spanish = subprocess.run([str(image["venv"] / "bin" / "python"), "-c", script], cwd=image["cwd"],
                             env=run_env(image), capture_output=True, text=True, check=True).stdout.strip()
    assert spanish and spanish != english


def test_without_puente_root_it_says_what_to_set(image: dict[str, Path]) -> None:
    env = run_env(image)
    env.pop("PUENTE_ROOT")
    result = subprocess.run([str(image["venv"] / "bin" / "puente"), "db", "upgrade"], cwd=image["cwd"],
                            env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "set PUENTE_ROOT" in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_serves_healthz_with_the_shipped_config(image: dict[str, Path]) -> None:
    port = free_port()
    env = run_env(image, PORT=str(port), RASA_URL="http://127.0.0.1:9", ACTIONS_URL="http://127.0.0.1:9")
    subprocess.run([str(image["venv"] / "bin" / "puente"), "db", "upgrade"], cwd=image["cwd"], env=env,
                   check=True)
    log = (image["root"] / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [str(image["venv"] / "bin" / "gunicorn"), "--config", str(image["app"] / "gunicorn.conf.py")],
        cwd=image["cwd"], env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline, response = time.monotonic() + 30, None
        while time.monotonic() < deadline and response is None:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            except requests.ConnectionError:
                assert server.poll() is None, "gunicorn exited"
                time.sleep(0.2)
        assert response is not None, "gunicorn never answered"
        # Rasa, actions and a worker are not running here; the database and the app itself are.
        body = json.loads(response.text)
        assert response.status_code == 503
        assert body["services"]["database"] == "ok" and body["services"]["webhooks"] == "ok"
        assert body["down"] == ["actions", "rasa", "worker"]
        assert body["services"]["worker"] == "no heartbeat"
        # The dashboard's templates, assets and catalogs ship with it.
        login = requests.get(f"http://127.0.0.1:{port}/dashboard/login", timeout=5,
                             headers={"Accept-Language": "es"})
        assert login.status_code == 200 and "Inicie sesión" in login.text
        assert 'name="csrf_token"' in login.text
        css = requests.get(f"http://127.0.0.1:{port}/dashboard/static/dashboard.css", timeout=5)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    finally:
        server.terminate()
        server.wait(10)
        log.close()
