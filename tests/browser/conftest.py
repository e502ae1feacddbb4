"""The dashboard in a real browser: Debian's Chromium driven by Playwright, never a downloaded browser.

The stack is real: the Flask app served on a loopback port (werkzeug, in a thread), a real
database, the fake Twilio on loopback (tests/fake_twilio.py) with status callbacks, and a
real `puente worker` process that sends what the dashboard queues. Screenshots of every
step are kept in test-artifacts/browser/ (git-ignored).

Without /usr/bin/chromium these tests fail, with one line saying how to get it: they never skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from puente.config import PROJECT_ROOT, Settings
from puente.directory.store import import_directory
from puente.migrate import upgrade
from puente.runner import settings_env
from puente.services import Services
from tests.conftest import create_postgres_database, drop_postgres_database, make_settings
from tests.dashboard import PASSWORD, add_people, add_users
from tests.fake_twilio import FakeTwilio, serve_fake_twilio
from webhooks import create_app

CHROMIUM = Path("/usr/bin/chromium")
MISSING_CHROMIUM = "make test: browser tests need Debian's Chromium: apt-get install chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"
PUENTE = str(Path(sys.executable).parent / "puente")
FROM, WA_FROM = "+18055550167", "+18055550168"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    launched = playwright_session.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@dataclass
class Stack:
    """One deployment under test: the app's URL, its core, the fake Twilio, the worker."""

    url: str
    services: Services
    settings: Settings
    twilio: FakeTwilio
    shots: Path
    steps: list[str] = field(default_factory=list)

    def page(self, browser: Browser, *, width: int = 1280, javascript: bool = True) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": 900}, java_script_enabled=javascript, locale="en-US"
        )
        context.set_default_timeout(20_000)
        return context.new_page()

    def login(self, page: Page, email: str, password: str = PASSWORD) -> None:
        page.goto(f"{self.url}/dashboard/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_label("Password").press("Enter")  # the keyboard, as a person would
        page.wait_for_load_state()

    def shot(self, page: Page, name: str) -> Path:
        path = self.shots / f"{len(self.steps) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.steps.append(path.name)
        return path


class _Dispatch:
    """A WSGI app whose target is set once the port is known (the settings need the URL)."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("browser")
    if request.param == "sqlite":
        database_url = f"sqlite:///{folder / 'puente.db'}"
    else:
        database_url = create_postgres_database(
            os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        )
    upgrade(database_url)
    dispatch = _Dispatch()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, dispatch, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    with serve_fake_twilio(FakeTwilio(callbacks=True, callback_delay=0.2)) as fake:
        settings = make_settings(
            database_url,
            env="development",
            quiet_hours="off",
            state_dir=str(folder / "var"),
            public_base_url=url,
            twilio_account_sid=fake.account_sid,
            twilio_auth_token=fake.auth_token,
            twilio_api_base_url=fake.url,
            twilio_from_number=FROM,
            twilio_whatsapp_from=WA_FROM,
            twilio_send_rate=3.0,
        )
        app = create_app(settings)
        dispatch.app = app
        services: Services = app.extensions["puente"]
        with services.database.session(timeout=60) as session:
            import_directory(session, yaml.safe_load(settings.sample_directory.read_text()))
        add_users(services)
        add_people(services)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        log = (folder / "worker.log").open("w")
        worker = subprocess.Popen(
            [PUENTE, "worker", "--threads", "2"],
            env={
                "PATH": os.environ["PATH"],
                "HOME": os.environ.get("HOME", "/"),
                **settings_env(settings),
                "PUENTE_ENV_FILE": os.devnull,
                "PYTHONUNBUFFERED": "1",
            },
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        shots = ARTIFACTS / request.param
        shots.mkdir(parents=True, exist_ok=True)
        for old in shots.glob("*.png"):
            old.unlink()
        try:
            yield Stack(url, services, settings, fake, shots)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            log.close()
            server.shutdown()
            thread.join(timeout=5)
            services.close()
            if request.param == "postgresql":
                time.sleep(0.1)
                drop_postgres_database(
                    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                    database_url,
                )
