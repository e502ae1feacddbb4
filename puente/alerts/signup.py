"""Signing up, and changing what one gets, by conversation.

A sign-up takes what the first message already says ("alert me about hearings in Kern
County"), asks only for what is missing (which alerts, which place), then states exactly
what the person will get and asks them to reply YES. Each question is the person's open
question (`puente.questions`), so that their next short answer reaches it before Rasa
does. Their YES applies the plan and keeps the consent record: the time, the channel,
the source and the exact text they agreed to, in their language.

Leaving a topic needs no confirmation; adding one, or moving alerts to another place,
does: that is new consent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from puente import questions
from puente.alerts import texts
from puente.alerts.models import TOPICS
from puente.alerts.subscriptions import Plan, apply, current_plan, leave, lift_suppression, ordered
from puente.directory.answers import Directory
from puente.directory.places import PlaceIndex, fold
from puente.directory.replies import Reader, reader_for
from puente.i18n import LanguageRegistry
from puente.models import Contact

#: How long a sign-up question waits for its answer.
SIGNUP_OPEN = timedelta(minutes=30)
TOPICS_QUESTION, AREA_QUESTION, CONFIRM_QUESTION = "signup_topics", "signup_area", "signup_confirm"
SIGNUP_QUESTIONS = frozenset({TOPICS_QUESTION, AREA_QUESTION, CONFIRM_QUESTION})
#: "1 3", "2,4", "1 & 2": the numbers of the topics menu, in its order.
_NUMBERS = re.compile(r"[1-4\s,;.&+/]+")


#: At most this much besides the answer itself (after place names, topic words and the words that
#: may stand beside a place are taken out): "hearings please", "听证会和集会", "컨 카운티요".
#: Anything longer is a question of its own ("is there a legal clinic near Fresno?"), for Rasa.
ANSWER_EXTRA_WORDS = 1
ANSWER_EXTRA_WIDE_LETTERS = 3


@dataclass(frozen=True)
class Alerts:
    """One person's alerts, in one transaction: what every step here works with."""

    session: Session
    languages: LanguageRegistry
    places: PlaceIndex
    contact: Contact
    language: str  # the language to answer in
    channel: str  # the channel this message came over
    #: The log entry of the message an action answers (its reply asks the question); None in the core.
    turn: int | None = None

    @property
    def reader(self) -> Reader:
        return reader_for(self.languages, self.language)

    def topics_in(self, text: str) -> tuple[str, ...]:
        return ordered(self.languages.find_topics(self.places.mask(text)))

    def is_short_answer(self, text: str, *, topics: bool) -> bool:
        """Whether `text` only answers (a place, and topic words when `topics`), saying nothing else."""
        rest = fold(self.places.mask(text))
        if topics:
            rest = self.languages.without_topics(rest)
        fillers = self.languages.place_fillers
        for filler in sorted((f for f in fillers if _wide(f)), key=len, reverse=True):
            rest = rest.replace(filler, " ")
        words = [w for w in rest.split() if w not in fillers and not w.isdigit()]
        wide = sum(1 for w in words for ch in w if _wide(ch))
        latin = sum(1 for w in words if not _wide(w))
        return latin <= ANSWER_EXTRA_WORDS and wide <= ANSWER_EXTRA_WIDE_LETTERS

    def place_in(self, text: str) -> str | None:
        """The one jurisdiction `text` names, or None (no place, or several)."""
        found = {p.jurisdiction_id for p in self.places.find(text)}
        place = found.pop() if len(found) == 1 else None
        return place if place is not None and Directory(self.session).get(place) is not None else None


def subscribe(alerts: Alerts, text: str, area_hint: str | None) -> str:
    """A request for alerts: pre-filled from `text`, then the next missing question, or the confirmation."""
    existing = current_plan(alerts.session, alerts.contact)
    topics = alerts.topics_in(text)
    area = alerts.place_in(text)
    if area is None:
        area = existing.jurisdiction_id if existing else _known(alerts, area_hint)
    if existing is not None and topics:
        topics = ordered((*existing.topics, *topics))
    return _next(alerts, _draft(existing, topics, area))


def _draft(existing: Plan | None, topics: Iterable[str], area: str | None) -> dict[str, Any]:
    """A sign-up in progress. Alerts stay on the channel they go to now: asking for a change over
    WhatsApp does not move SMS alerts there."""
    draft: dict[str, Any] = {"topics": list(topics), "jurisdiction_id": area}
    if existing is not None:
        draft["channel"] = existing.channel
    return draft


def _known(alerts: Alerts, area: str | None) -> str | None:
    return area if area and Directory(alerts.session).get(area) is not None else None


def _next(alerts: Alerts, draft: dict[str, Any]) -> str:
    """Ask for what the draft lacks, or state the plan and ask for YES."""
    reader = alerts.reader
    draft = {**draft, "turn": alerts.turn}
    if not draft.get("topics"):
        questions.ask(alerts.session, alerts.contact.id, TOPICS_QUESTION, draft, alerts.language, SIGNUP_OPEN)
        return texts.ask_topics(reader)
    if not draft.get("jurisdiction_id"):
        questions.ask(alerts.session, alerts.contact.id, AREA_QUESTION, draft, alerts.language, SIGNUP_OPEN)
        return texts.ask_area(reader)
    channel = str(draft.get("channel") or alerts.channel)
    plan = Plan(ordered(draft["topics"]), str(draft["jurisdiction_id"]), channel, alerts.language)
    consent = texts.consent(reader, alerts.session, alerts.languages, plan)
    questions.ask(alerts.session, alerts.contact.id, CONFIRM_QUESTION,
                  {**plan.as_payload(), "text": consent, "turn": alerts.turn}, alerts.language, SIGNUP_OPEN)
    return consent


def answer(alerts: Alerts, question: questions.OpenQuestion, body: str, keyword: str | None,
           phone_hashes: Sequence[str]) -> str | None:
    """The reply when `body` answers the open sign-up question; None when it does not answer it.

    `phone_hashes`: the person's number hashed under each configured key (`Vault.phone_hashes`).
    """
    reader = alerts.reader
    if keyword == "no":
        questions.close(alerts.session, alerts.contact.id)
        return texts.nothing_changed(reader)
    draft = dict(question.payload)
    if question.kind == CONFIRM_QUESTION:
        if keyword != "yes":
            return None
        plan = Plan.from_payload(draft)
        apply(alerts.session, alerts.contact, plan, action="subscribe", source="text",
              text=str(draft["text"]))
        lift_suppression(alerts.session, *phone_hashes)  # their own sign-up by text: the one thing that may
        questions.close(alerts.session, alerts.contact.id)
        return texts.signed_up(reader, alerts.session, plan)
    if question.kind == TOPICS_QUESTION:
        topics = _numbered(body) or alerts.topics_in(body)
        if not topics or not alerts.is_short_answer(body, topics=True):
            return None
        # "hearings in Fresno" answers the place too.
        return _next(alerts, {**draft, "topics": list(topics),
                              "jurisdiction_id": alerts.place_in(body) or draft.get("jurisdiction_id")})
    if question.kind == AREA_QUESTION:
        area = alerts.place_in(body)
        if area is None or not alerts.is_short_answer(body, topics=False):
            return None
        return _next(alerts, {**draft, "jurisdiction_id": area})
    return None


def _wide(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7a3" for ch in text)


def _numbered(body: str) -> tuple[str, ...]:
    text = body.strip()
    if not text or not _NUMBERS.fullmatch(text):
        return ()
    return ordered(TOPICS[int(d) - 1] for d in re.findall(r"[1-4]", text))


def describe(alerts: Alerts) -> str:
    return texts.describe(alerts.reader, alerts.session, alerts.languages,
                          current_plan(alerts.session, alerts.contact))


def leave_topics(alerts: Alerts, text: str) -> str:
    """"No more mobilization alerts": stop those topics at once (taking consent back needs no YES)."""
    reader = alerts.reader
    named = alerts.topics_in(text)
    if not named:
        return texts.which_to_leave(reader) + "\n" + describe(alerts)
    gone = leave(alerts.session, alerts.contact, named, alerts.channel, alerts.language)
    if not gone:
        return texts.not_subscribed(reader, named) + "\n" + describe(alerts)
    return texts.left(reader, alerts.session, gone, current_plan(alerts.session, alerts.contact))


def only_topics(alerts: Alerts, text: str) -> str:
    """"Only hearings": keep the named topics; naming one the person does not get yet asks for YES."""
    named = alerts.topics_in(text)
    existing = current_plan(alerts.session, alerts.contact)
    if not named:
        return texts.which_to_leave(alerts.reader) + "\n" + describe(alerts)
    if existing is not None and set(named) <= set(existing.topics):
        dropped = [t for t in existing.topics if t not in named]
        if dropped:
            leave(alerts.session, alerts.contact, dropped, alerts.channel, alerts.language)
        return texts.only_now(alerts.reader, alerts.session, replace(existing, topics=named))
    area = alerts.place_in(text) or (existing.jurisdiction_id if existing else None)
    return _next(alerts, _draft(existing, named, area))


def change_area(alerts: Alerts, text: str) -> str:
    """"Change my area to Fresno": the same alerts for another place, once the person says YES."""
    existing = current_plan(alerts.session, alerts.contact)
    area = alerts.place_in(text)
    topics = existing.topics if existing else alerts.topics_in(text)
    return _next(alerts, _draft(existing, topics, area))
