"""Answers about places: policies, coalitions, clinics, hearings, a person to talk to, enforcement now.

Each action finds the place in the message (through the core, from the directory),
or uses the person's area from earlier; with neither, it asks "which place?" and
remembers the question, so that the next message ("95407", "en Santa Rosa")
completes it. The texts are written by the core (`puente.directory.replies`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import language_of, services
from puente.directory import replies
from puente.directory.answers import Directory
from puente.directory.kinds import kinds_asked
from puente.directory.places import Place
from puente.directory.replies import Reader

#: How long a "which place?" question (or the last question, for "what about Modesto?") stays open.
QUESTION_OPEN_SECONDS = 30 * 60
AREA, LANGUAGE, PENDING, PENDING_SINCE, LAST, KINDS = (
    "area", "language", "pending_intent", "pending_since", "last_place_intent", "policy_kinds",
)


def reader_for(language: str) -> Reader:
    return replies.reader_for(services().languages, language)


class PlaceAnswer(Action, ABC):
    """An answer about a place. Subclasses set `intent` and write `answer`."""

    intent: ClassVar[str]
    #: Whether the answer needs a place (else it is given without one, and better with one).
    needs_place: ClassVar[bool] = True

    def name(self) -> str:
        return f"action_{self.intent}"

    @abstractmethod
    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        """The reply about `area`, given how the message named it (`place`) and the policy kinds it named."""

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message or {}).get("text") or ""
        language = language_of(tracker)
        place = services().places.index().resolve(text) if not text.startswith("/") else None
        area = place.jurisdiction_id if place else tracker.get_slot(AREA)
        return answer_for(self, dispatcher, tracker, language, area, place)


def answer_for(
    action: PlaceAnswer, dispatcher: CollectingDispatcher, tracker: Tracker, language: str,
    area: str | None, place: Place | None,
) -> list[dict[str, Any]]:
    """Answer `action`'s question for `area`, or ask which place and keep the question open."""
    reader = reader_for(language)
    events: list[dict[str, Any]] = [SlotSet(LANGUAGE, language)]
    text = (tracker.latest_message or {}).get("text") or ""
    if action.intent == tracker.get_intent_of_latest_message() and not text.startswith("/"):
        # A new question: the kinds it names, remembered for a follow-up that only names a place.
        kinds = [str(k) for k in kinds_asked(text, services().languages)]
        events.append(SlotSet(KINDS, kinds))
    else:
        kinds = list(tracker.get_slot(KINDS) or [])
    with services().database.session() as session:
        directory = Directory(session)
        if area is not None and directory.get(area) is None:
            area = None  # a remembered place the directory no longer has
        if area is None and action.needs_place:
            dispatcher.utter_message(text=replies.which_place(reader))
            return [*events, SlotSet(PENDING, action.intent), SlotSet(PENDING_SINCE, time.time())]
        reply = action.answer(reader, directory, area, place, kinds)
    dispatcher.utter_message(text=reply)
    return [*events, SlotSet(AREA, area), SlotSet(PENDING, None), SlotSet(LAST, action.intent),
            SlotSet(PENDING_SINCE, time.time())]


class ActionAskPolicy(PlaceAnswer):
    intent = "ask_policy"

    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        return replies.policy_answer(reader, directory, area or "", kinds)


class ActionFindCoalition(PlaceAnswer):
    intent = "find_coalition"

    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        return replies.coalition_answer(reader, directory, area or "")


class ActionFindClinic(PlaceAnswer):
    intent = "find_clinic"

    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        return replies.clinic_answer(reader, directory, area or "", place.clinic_id if place else None)


class ActionAskHearings(PlaceAnswer):
    intent = "ask_hearings"

    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        return replies.hearing_answer(reader, directory, area or "")


class ActionTalkToPerson(PlaceAnswer):
    intent = "talk_to_person"

    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        return replies.person_answer(reader, directory, area or "")


class ActionLegalAdvice(PlaceAnswer):
    intent = "legal_advice"
    needs_place = False

    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        return replies.legal_advice_answer(reader, directory, area)


class ActionReportEnforcement(PlaceAnswer):
    intent = "report_enforcement"
    needs_place = False  # what to do now comes first; the line for the area when it is known

    def answer(self, reader: Reader, directory: Directory, area: str | None, place: Place | None,
               kinds: list[str]) -> str:
        return replies.enforcement_answer(reader, directory, area)


class ActionInformPlace(Action):
    """A message that is (mostly) a place: it answers the open question, or the last one asked.

    "95407" after "which place?" completes that question; "what about Modesto?" after an
    answer about Santa Rosa asks the same about Modesto; a place out of the blue is
    remembered, and the person is told what they can ask about it.
    """

    def name(self) -> str:
        return "action_inform_place"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message or {}).get("text") or ""
        language = language_of(tracker)
        place = services().places.index().resolve(text) if not text.startswith("/") else None
        area = place.jurisdiction_id if place else tracker.get_slot(AREA)
        fresh = time.time() - float(tracker.get_slot(PENDING_SINCE) or 0) <= QUESTION_OPEN_SECONDS
        intent = (tracker.get_slot(PENDING) or tracker.get_slot(LAST)) if fresh else None
        action = PLACE_ACTIONS.get(intent or "")
        if action is not None and area is not None:
            return answer_for(action, dispatcher, tracker, language, area, place)
        reader = reader_for(language)
        _ = reader.gettext
        with services().database.session() as session:
            directory = Directory(session)
            known = directory.get(area) if area else None
            if known is None:
                dispatcher.utter_message(text=_(
                    "I have no record of that place yet. Try a city, county, school district or ZIP code "
                    "in California."))
                return [SlotSet(LANGUAGE, language)]
            reply = _("Got it: %(place)s. Ask me about its policies, coalitions, legal clinics or "
                      "upcoming hearings.") % {"place": reader.name(known)}
        dispatcher.utter_message(text=reply)
        return [SlotSet(LANGUAGE, language), SlotSet(AREA, area)]


PLACE_ACTIONS: dict[str, PlaceAnswer] = {
    action.intent: action
    for action in (ActionAskPolicy(), ActionFindCoalition(), ActionFindClinic(), ActionAskHearings(),
                   ActionTalkToPerson(), ActionLegalAdvice(), ActionReportEnforcement())
}


class ActionEmergency(Action):
    def name(self) -> str:
        return "action_emergency"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        language = language_of(tracker)
        dispatcher.utter_message(text=replies.emergency_answer(reader_for(language)))
        return [SlotSet(LANGUAGE, language)]
