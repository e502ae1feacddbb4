"""What every action needs: the core's services, the person's language, and a base
class for the many actions whose whole job is one translated reply."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from puente.config import load_settings
from puente.services import Services


@lru_cache(maxsize=1)
def services() -> Services:
    """The core's services for this action server process, built on first use."""
    return Services(load_settings())


def language_of(tracker: Tracker) -> str:
    """The language to answer in.

    The webhook chooses it and sends it as message metadata. A conversation that did not
    come through the webhook (`rasa shell`, the REST channel called directly) has none:
    then the language slot kept from earlier, else the message's own language (with the
    place names in it masked, so "Fresno" does not sway it).
    """
    core = services()
    metadata: dict[str, Any] = (tracker.latest_message or {}).get("metadata") or {}
    if metadata.get("language"):
        return core.languages.get(metadata["language"]).code
    if tracker.get_slot("language"):
        return core.languages.get(tracker.get_slot("language")).code
    text = (tracker.latest_message or {}).get("text") or ""
    guess = core.detector.detect(text, core.places.index().mask(text)) if text.strip() else None
    return core.languages.get(guess.language if guess else None).code


def translator(language: str) -> Callable[[str], str]:
    return services().languages.translations(language).gettext


class TranslatedReply(Action, ABC):
    """An action that answers with one text, in the person's language.

    Subclasses set `action_name` and `message` (marked with `N_` so that
    `make i18n` extracts it). Abstract, so the action server does not register it.
    """

    action_name: ClassVar[str]

    @property
    @abstractmethod
    def message(self) -> str:
        """The reply's msgid."""

    def name(self) -> str:
        return self.action_name

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        _ = translator(language_of(tracker))
        dispatcher.utter_message(text=_(self.message))
        return []
