"""A Rasa that hangs still leaves time for the localized reply inside Twilio's 15 s."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from puente.i18n import registry
from puente.migrate import upgrade
from tests.conftest import PHONE_ES, make_settings
from tests.fakes import FakeRasa, serve_fake_rasa
from tests.integration.conftest import Line
from webhooks import create_app

FALLBACK = "Sorry, Puente can't answer right now. Please try again in a few minutes."


@pytest.fixture
def hanging_line(sqlite_url: str, tmp_path: Path) -> Iterator[Line]:
    with serve_fake_rasa(FakeRasa(mode="hang", hang_seconds=20)) as fake:
        settings = make_settings(
            sqlite_url, rasa_url=fake.url, actions_url=fake.url, state_dir=str(tmp_path / "var")
        )
        assert settings.rasa_timeout == 10.0  # the default, as deployed
        upgrade(sqlite_url)
        app = create_app(settings)
        yield Line(app, app.test_client(), settings, fake, [app])
        app.extensions["puente"].database.dispose()


def test_a_hanging_rasa_gets_the_fallback_well_inside_15_seconds(hanging_line: Line) -> None:
    started = time.monotonic()
    status, replies = hanging_line.text("hola, necesito ayuda", PHONE_ES)
    elapsed = time.monotonic() - started
    assert status == 200
    assert replies == [registry().gettext("es", FALLBACK)]
    assert 9 < elapsed < 15, f"answered after {elapsed:.1f} s"
