""""What can you do?", and what Puente says when it did not understand."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language_of, translator


class ActionCapabilities(Action):
    def name(self) -> str:
        return "action_capabilities"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _ = translator(language_of(tracker))
        dispatcher.utter_message(
            text=_("Puente helps with local immigrant-rights policies in California: "
                   "what your city, county and school district have passed, local "
                   "coalitions, and legal clinics at schools. Text LANGUAGE to change "
                   "language, HELP for help, STOP to unsubscribe.")
        )
        return []


class ActionOutOfScope(Action):
    def name(self) -> str:
        return "action_out_of_scope"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _ = translator(language_of(tracker))
        dispatcher.utter_message(
            text=_("I can only help with immigrant-rights policies and resources in "
                   "California. Ask me \"What can you do?\" to see how.")
        )
        return []


class ActionDefaultFallback(Action):
    """Replaces Rasa's default fallback, whose text would live in the domain."""

    def name(self) -> str:
        return "action_default_fallback"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _ = translator(language_of(tracker))
        dispatcher.utter_message(
            text=_("Sorry, I didn't understand. Ask me \"What can you do?\" or text HELP.")
        )
        return []
