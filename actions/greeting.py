"""Greetings, thanks and goodbyes."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language_of, translator


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _ = translator(language_of(tracker))
        dispatcher.utter_message(
            text=_("Hi, I'm Puente! I answer questions about local immigrant-rights "
                   "policies in California and connect you with coalitions and school "
                   "legal clinics. Ask me \"What can you do?\" to start.")
        )
        return []


class ActionThank(Action):
    def name(self) -> str:
        return "action_thank"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _ = translator(language_of(tracker))
        dispatcher.utter_message(text=_("You're welcome! Text me anytime."))
        return []


class ActionGoodbye(Action):
    def name(self) -> str:
        return "action_goodbye"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _ = translator(language_of(tracker))
        dispatcher.utter_message(text=_("Thank you for writing. Text me anytime."))
        return []
