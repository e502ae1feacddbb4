"""The action server's actions, called as rasa-sdk calls them, on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import common
from actions.capabilities import ActionDefaultFallback
from actions.greeting import ActionGreet
from actions.language import ActionSwitchLanguage
from puente.config import load_settings
from puente.contacts import get_or_create_contact
from puente.i18n import registry
from puente.migrate import upgrade
from puente.models import Contact
from puente.privacy import parse_address
from tests.conftest import PHONE_ES

SWITCHED = "OK, I'll write to you in English from now on."
MENU = "Which language would you like? Reply with one of: %(languages)s"
GREETING = ActionGreet.message


def tracker(text: str, sender: str = "p-test", metadata: dict[str, Any] | None = None) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {},
            "latest_message": {"text": text, "intent": {}, "entities": [], "metadata": metadata or {}},
            "events": [],
            "paused": False,
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


@pytest.fixture
def contact_pseudonym(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A contact in the database the action server is configured with (DATABASE_URL)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PUENTE_SECRET_KEY", "k" * 48)
    upgrade(database_url)
    common.services.cache_clear()
    core = common.services()
    with core.database.session() as session:
        contact, _ = get_or_create_contact(session, core.vault, parse_address(PHONE_ES), "es")
        pseudonym = contact.pseudonym
    yield pseudonym
    core.database.dispose()
    common.services.cache_clear()


def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[str]]:
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, t, {})
    return events, [m["text"] for m in dispatcher.messages]


def test_switching_language_records_the_choice_and_answers_in_it(contact_pseudonym: str) -> None:
    events, texts = run(
        ActionSwitchLanguage(), tracker("quiero hablar en coreano", contact_pseudonym, {"language": "es"})
    )
    assert events == []
    assert texts == [registry().gettext("ko", SWITCHED)]
    with common.services().database.session() as session:
        contact = session.scalars(select(Contact).where(Contact.pseudonym == contact_pseudonym)).one()
        assert (contact.language, contact.language_source) == ("ko", "chosen")


def test_no_language_named_shows_the_menu_in_the_current_language(contact_pseudonym: str) -> None:
    _, texts = run(ActionSwitchLanguage(), tracker("cambiar idioma", contact_pseudonym, {"language": "es"}))
    assert texts == [registry().gettext("es", MENU) % {"languages": registry().menu()}]
    with common.services().database.session() as session:
        contact = session.scalars(select(Contact).where(Contact.pseudonym == contact_pseudonym)).one()
        assert contact.language_source == "detected"


def test_replies_follow_the_metadata_language_and_default_to_english() -> None:
    common.services.cache_clear()
    assert load_settings().default_language == "en"
    assert run(ActionGreet(), tracker("kumusta", metadata={"language": "tl"}))[1] == [
        registry().gettext("tl", GREETING)
    ]
    assert run(ActionGreet(), tracker("hi"))[1] == [GREETING]
    assert run(ActionGreet(), tracker("hi", metadata={"language": "xx"}))[1] == [GREETING]
    fallback = run(ActionDefaultFallback(), tracker("asdf", metadata={"language": "vi"}))[1]
    assert fallback == [registry().gettext("vi", ActionDefaultFallback.message)]
