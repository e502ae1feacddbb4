"""Alerts by conversation: sign up, list, leave a topic, keep only some, change the area.

Each action finds the person by pseudonym and hands the message to the core
(`puente.alerts.signup`), which asks for what is missing and keeps the open question,
so that the next short answer ("1 3", "Fresno", "YES") reaches it before Rasa.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language_of, services
from puente.alerts import signup, texts
from puente.alerts.signup import Alerts
from puente.contacts import find_by_pseudonym
from puente.directory.replies import reader_for


class AlertAction(Action, ABC):
    """An alert request from a person who texted Puente. Subclasses set `intent` and write `handle`."""

    intent: ClassVar[str]

    def name(self) -> str:
        return f"action_{self.intent}"

    @abstractmethod
    def handle(self, alerts: Alerts, text: str, area_hint: str | None) -> str:
        """The reply; it may keep an open question for the person's next message."""

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message or {}).get("text") or ""
        metadata: dict[str, Any] = (tracker.latest_message or {}).get("metadata") or {}
        language = language_of(tracker)
        core = services()
        with core.database.session() as session:
            contact = find_by_pseudonym(session, tracker.sender_id)
            if contact is None:  # `rasa shell`, or the REST channel called directly: nobody to sign up
                reply = texts.not_here(reader_for(core.languages, language))
            else:
                channel = str(metadata.get("channel") or contact.channel or "sms")
                turn = metadata.get("turn")
                alerts = Alerts(session, core.languages, core.places.index_in(session), contact, language,
                                channel, int(turn) if isinstance(turn, int) else None)
                reply = self.handle(alerts, text, tracker.get_slot("area"))
        dispatcher.utter_message(text=reply)
        return [SlotSet("language", language)]


class ActionSubscribe(AlertAction):
    intent = "subscribe"

    def handle(self, alerts: Alerts, text: str, area_hint: str | None) -> str:
        return signup.subscribe(alerts, text, area_hint)


class ActionListSubscriptions(AlertAction):
    intent = "list_subscriptions"

    def handle(self, alerts: Alerts, text: str, area_hint: str | None) -> str:
        return signup.describe(alerts)


class ActionLeaveTopic(AlertAction):
    intent = "leave_topic"

    def handle(self, alerts: Alerts, text: str, area_hint: str | None) -> str:
        return signup.leave_topics(alerts, text)


class ActionOnlyTopic(AlertAction):
    intent = "only_topic"

    def handle(self, alerts: Alerts, text: str, area_hint: str | None) -> str:
        return signup.only_topics(alerts, text)


class ActionChangeArea(AlertAction):
    intent = "change_area"

    def handle(self, alerts: Alerts, text: str, area_hint: str | None) -> str:
        return signup.change_area(alerts, text)
