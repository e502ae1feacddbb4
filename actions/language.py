"""Choosing or switching the language Puente writes in."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language_of, services, translator
from puente.alerts.subscriptions import set_language
from puente.contacts import find_by_pseudonym

logger = logging.getLogger(__name__)


def requested_language(text: str) -> str | None:
    """The language a message asks for: the one named last ("from English to Spanish").

    A name shared by two languages ("中文", "Chinese") goes to the one the message
    is written in when that is one of them (Traditional script gets Traditional),
    else to the first in the menu.
    """
    core = services()
    named = core.languages.find_named(text)
    if not named:
        return None
    last = max(named.values())
    candidates = [code for code in core.languages.codes if named.get(code) == last]
    guess = core.detector.detect(text)
    if guess is not None and guess.language in candidates:
        return guess.language
    return candidates[0]


class ActionSwitchLanguage(Action):
    def name(self) -> str:
        return "action_switch_language"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message or {}).get("text") or ""
        target = requested_language(text)
        if target is None:
            _ = translator(language_of(tracker))
            dispatcher.utter_message(
                text=_("Which language would you like? Reply with one of: %(languages)s")
                % {"languages": services().languages.menu()}
            )
            return []
        with services().database.session() as session:
            contact = find_by_pseudonym(session, tracker.sender_id)
            if contact is None:
                logger.info("language switch for a sender with no contact record (a test session)")
            else:
                set_language(session, contact, target, chosen=True)
        _ = translator(target)
        dispatcher.utter_message(text=_("OK, I'll write to you in English from now on."))
        return []
