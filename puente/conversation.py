"""One inbound text, from Twilio's form to the replies: the path every message takes.

    opt-outs kept during an outage → dedupe MessageSid → contact (by keyed hash)
    → language → compliance keywords → MORE → Rasa (pseudonymous sender id)
    → replies cut to fit the channel (the rest kept for MORE), or a localized fallback

A message that only names a place ("95407", "en Santa Rosa") reaches Rasa as the
place the core found (`/inform_place{"area": …}`), so a "which place?" question is
completed by the directory, not by what the NLU model happens to know.

The webhook only checks the signature and renders TwiML; everything else is here.

Twilio gives up on a reply after 15 s, so the path runs on a budget: the database
gets DATABASE_BUDGET seconds before Rasa is asked, Rasa gets what is left of
REPLY_DEADLINE (at most RASA_TIMEOUT). When the database fails, Rasa is not asked:
the person hears the localized fallback in the language of their message, a HELP
word still gets its answer, and a STOP word is kept in the opt-out spool and
answered at once (it takes effect when the database is back, before anything else).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puente import contacts, questions
from puente.alerts import signup, subscriptions
from puente.alerts.erase import erase
from puente.assistant import CONNECT_TIMEOUT as RASA_CONNECT_TIMEOUT
from puente.assistant import AssistantUnavailable
from puente.broadcasts import rsvp, texts
from puente.db import DATABASE_ERRORS, OVERRUN, as_utc
from puente.directory.places import PlaceIndex, fold
from puente.i18n.detect import Guess
from puente.messaging import paging
from puente.messaging.keywords import KeywordMatch, match_keyword, normalize
from puente.models import Contact, InboundMessage, utcnow
from puente.optout_spool import SpooledOptOut
from puente.privacy import Address, parse_address
from puente.services import Services

logger = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio's own limit on a message body

# How sure the detector must be before it sets a language. A first message
# decides a new contact's language; later, only a clear, longer message in
# another language moves it, and never once the person chose one themselves.
NEW_CONTACT_CONFIDENCE = 0.6
NEW_CONTACT_TOP_TWO = 0.9
#: A first message with fewer letters than this (and no Han or Hangul) gets the default language.
NEW_CONTACT_MIN_LETTERS = 4
SWITCH_CONFIDENCE = 0.95
SWITCH_MIN_LETTERS = 12

#: The open questions the conversation itself asks (sign-up questions are puente.alerts.signup's).
STOP_QUESTION, DELETE_QUESTION = "confirm_stop", "confirm_delete"
STOP_QUESTION_OPEN = timedelta(minutes=10)
#: A second DELETE word within this long erases (CONTRACTS.md rule 3).
DELETE_QUESTION_OPEN = timedelta(minutes=10)

#: Seconds after a message arrives by which everything its reply waits for has ended:
#: Twilio waits 15 s, and the rest is for the web server and the network.
REPLY_DEADLINE = 14.0
#: The database's share, before Rasa: the spooled opt-outs and the message's transaction.
DATABASE_BUDGET = 3.0
#: Rasa is not asked with less time than this left: the fallback comes at once instead.
MIN_RASA_WAIT = 1.0
#: Recording how a message was answered after Rasa failed: best effort, this quick.
ROUTE_UPDATE_TIMEOUT = 1.0


class Route(StrEnum):
    """How a message was answered (stored in `inbound_messages.route`, and logged)."""

    STOP = "stop"
    START = "start"
    HELP = "help"
    OPTED_OUT = "opted_out"
    EMPTY = "empty"
    RASA = "rasa"
    FALLBACK = "fallback"  # Rasa or the action server failed
    DUPLICATE = "duplicate"
    MORE = "more"  # the next page of a long answer
    ANSWER = "answer"  # an answer to Puente's open question (a sign-up step)
    RSVP = "rsvp"  # a YES or NO to a mobilization alert
    STOP_ASKED = "stop_asked"  # a stop word typed without its diacritics: asked before acting
    DELETE_ASKED = "delete_asked"  # the first DELETE: asked to confirm
    ERASED = "erased"  # the person was erased (the log entry keeps no link to them)
    NOTHING_STORED = "nothing_stored"  # a DELETE word from a number Puente holds nothing about
    DATABASE_DOWN = "database_down"  # the fallback, without the database (never stored)
    STOP_SPOOLED = "stop_spooled"  # a STOP during an outage, kept in the spool (never stored)


@dataclass(frozen=True)
class InboundText:
    """The parts of Twilio's inbound request that Puente uses."""

    message_sid: str
    sender: str  # Twilio's `From`: +1… or whatsapp:+1…
    body: str


@dataclass(frozen=True)
class Outcome:
    replies: list[str]
    route: Route


@dataclass(frozen=True)
class _Recorded:
    outcome: Outcome
    log_id: int
    contact_id: int
    pseudonym: str
    language: str
    had_pages: bool  # a long answer had pages left: a new answer replaces them
    places: PlaceIndex


def handle_inbound(services: Services, message: InboundText) -> Outcome:
    """Process one inbound text once; a redelivered MessageSid gets no replies.

    Everything but the call to Rasa happens in one short transaction, so the
    database adds one commit to a message's path, and no lock is held while Rasa
    thinks. If the database fails, the person still gets an answer (see above).
    """
    started = time.monotonic()
    address = parse_address(message.sender)
    body = message.body[:MAX_BODY]
    keyword = match_keyword(body, services.languages)
    database_deadline = started + DATABASE_BUDGET

    try:
        # Opt-outs kept during an outage come first: a STOP must hold for what follows.
        services.apply_spooled_optouts(database_deadline - time.monotonic())
        recorded = _record(services, message, address, body, keyword, database_deadline)
    except DATABASE_ERRORS as error:
        first_language = _first_language(
            services, keyword, _guess(services, services.places.last(), body, keyword), body)
        outcome = _answer_without_database(services, address, body, keyword, first_language)
        logger.warning(
            "database unavailable (%s) after %.1f s: channel=%s language=%s route=%s",
            type(error).__name__, time.monotonic() - started, address.channel, first_language, outcome.route,
        )
        return outcome
    if recorded is None:
        logger.info("duplicate inbound message ignored")
        return Outcome([], Route.DUPLICATE)

    outcome, language = recorded.outcome, recorded.language
    if outcome.route is Route.RASA:
        text = _for_rasa(recorded.places, services.languages.place_fillers, body)
        outcome = _ask_rasa(services, recorded, text, address, started)
        if outcome.route is not Route.RASA:
            _record_route(services, recorded.log_id, outcome.route, started)
        else:
            outcome = _fit_to_channel(services, recorded, outcome, address, started)
    logger.info(
        "inbound message %s: contact=%s channel=%s language=%s route=%s replies=%d",
        recorded.log_id, recorded.contact_id, address.channel, language, outcome.route, len(outcome.replies),
    )
    return outcome


def _guess(services: Services, places: PlaceIndex, body: str, keyword: KeywordMatch | None) -> Guess | None:
    """The message's language by its text, its place names masked; None for a keyword or no letters."""
    if keyword is not None or not body.strip():
        return None
    return services.detector.detect(body, places.mask(body))


def _record(
    services: Services, message: InboundText, address: Address, body: str,
    keyword: KeywordMatch | None, deadline: float,
) -> _Recorded | None:
    """The message's one transaction: log it, find the contact, answer what needs no Rasa.

    None for a MessageSid seen before. Raises a database error when the database fails.
    """
    sid_hash, *previous_key_hashes = services.vault.message_sid_hashes(message.message_sid)
    for attempt in range(2):
        try:
            with services.database.session(deadline - time.monotonic()) as session:
                if previous_key_hashes and _logged(session, previous_key_hashes):
                    return None  # received before the key changed (a key rotation), redelivered now
                log = InboundMessage(message_sid_hash=sid_hash, channel=address.channel, route="received")
                session.add(log)
                session.flush()  # a redelivered MessageSid fails here, on the unique hash
                # The directory's places, current within seconds of an import (for detection
                # and place-only messages), read in this same transaction.
                places = services.places.index_in(session)
                guess = _guess(services, places, body, keyword)
                first_language = _first_language(services, keyword, guess, body)
                if keyword is not None and keyword.kind == "delete" and contacts.find_contact(
                        session, services.vault, address.phone) is None:
                    # Nothing to erase: storing the number just to ask "DELETE again?" would
                    # undo what the person asks for (and a DELETE after an erasure, "to be sure").
                    outcome = _nothing_stored(services, session, address, first_language)
                    log.language, log.route = None, outcome.route
                    return _Recorded(outcome, log.id, 0, "", first_language, False, places)
                contact, is_new = contacts.get_or_create_contact(
                    session, services.vault, address, first_language
                )
                language, new_language = _language_for(services, contact, is_new, keyword, guess, body)
                if new_language != contact.language:
                    subscriptions.set_language(session, contact, new_language)
                waiting = _waiting(session, contact.id, is_new)
                turn = _Turn(services, session, contact, address, language, keyword, body, places,
                             waiting.question)
                outcome = _decide(turn)
                if outcome.route is Route.ERASED:
                    log.contact_id, log.language, log.route = None, None, outcome.route
                    return _Recorded(outcome, log.id, 0, "", language, False, places)
                log.contact_id, log.language, log.route = contact.id, language, outcome.route
                had_pages = (outcome.route is Route.RASA and waiting.pages_until is not None
                             and as_utc(waiting.pages_until) > utcnow())
                return _Recorded(outcome, log.id, contact.id, contact.pseudonym, language, had_pages, places)
        except IntegrityError:
            if _seen_before(services, sid_hash, deadline):
                return None
            if attempt:  # the contact insert raced twice: give up (the fallback answers)
                raise
    raise AssertionError("unreachable")


def _seen_before(services: Services, sid_hash: str, deadline: float) -> bool:
    with services.database.session(deadline - time.monotonic()) as session:
        return _logged(session, [sid_hash])


def _logged(session: Session, sid_hashes: list[str]) -> bool:
    found = session.scalar(
        select(InboundMessage.id).where(InboundMessage.message_sid_hash.in_(sid_hashes)).limit(1)
    )
    return found is not None


def _first_language(
    services: Services, keyword: KeywordMatch | None, guess: Guess | None, guess_text: str = ""
) -> str:
    default = services.languages.get(services.settings.default_language).code
    if keyword is not None:
        # A keyword is the whole message: its own language, or none for Twilio's English words.
        return default if keyword.universal else keyword.languages[0]
    if guess is None or (_letters(guess_text) < NEW_CONTACT_MIN_LETTERS and not _wide_letters(guess_text)):
        return default  # "ok", "hi!", "👍": nothing to go on
    if guess.confidence >= NEW_CONTACT_CONFIDENCE or guess.top_two >= NEW_CONTACT_TOP_TWO:
        return guess.language
    return default


def _language_for(
    services: Services, contact: Contact, is_new: bool, keyword: KeywordMatch | None,
    guess: Guess | None, body: str,
) -> tuple[str, str]:
    """The language to answer in, following the person rather than surprising them.

    A detected language moves only on a clear signal: two messages in a row, each
    clearly in the same other language. One short or unclear message never moves it,
    and a language the person chose never moves at all. Returns the language to answer this
    message in, and the person's language from now on: a localized keyword (PARAR, MÁS) is
    answered in its own language without changing theirs.
    """
    current = services.languages.get(contact.language).code
    if keyword is not None and not is_new:
        return (current if keyword.universal else keyword.language_for(current)), current
    if is_new or contact.language_source == "chosen":
        return current, current
    long_enough = _letters(body) >= SWITCH_MIN_LETTERS or _wide_letters(body) >= 2
    clear = guess is not None and guess.confidence >= SWITCH_CONFIDENCE and long_enough
    if not clear or guess is None:
        return current, current
    if guess.language == current:
        contact.language_candidate = None
        return current, current
    if contact.language_candidate == guess.language:
        contact.language_candidate = None
        return guess.language, guess.language
    contact.language_candidate = guess.language
    return current, current


def _letters(body: str) -> int:
    return sum(ch.isalpha() for ch in body)


def _wide_letters(body: str) -> int:
    """Han and Hangul letters: one of them says more than a Latin letter (never emoji)."""
    return sum(("\u3400" <= ch <= "\u9fff") or ("\uac00" <= ch <= "\ud7af") for ch in body)


@dataclass(frozen=True)
class _Waiting:
    question: bool  # the person has an open question (perhaps expired)
    pages_until: datetime | None  # when the rest of their last long answer expires


def _waiting(session: Session, contact_id: int, is_new: bool) -> _Waiting:
    """What waits for the person's next message, in one light query (this runs on every message)."""
    if is_new:
        return _Waiting(False, None)
    row = session.execute(select(
        select(questions.OpenQuestion.contact_id).where(questions.OpenQuestion.contact_id == contact_id)
        .scalar_subquery(),
        select(paging.PendingPages.expires_at).where(paging.PendingPages.contact_id == contact_id)
        .scalar_subquery(),
    )).one()
    return _Waiting(row[0] is not None, row[1])


@dataclass(frozen=True)
class _Turn:
    """One message, inside its transaction: everything deciding its answer needs."""

    services: Services
    session: Session
    contact: Contact
    address: Address
    language: str
    keyword: KeywordMatch | None
    body: str
    places: PlaceIndex
    #: Whether the person has an open question (it may have expired).
    has_question: bool = False

    def gettext(self, message: str) -> str:
        return self.services.languages.translations(self.language).gettext(message)

    @property
    def twilio_answered(self) -> bool:
        """Twilio's own opt-out handling has answered this word already: say nothing more.

        Only on SMS: Twilio's Advanced Opt-Out does not answer on WhatsApp."""
        return (self.keyword is not None and self.keyword.twilio and self.address.channel == "sms"
                and self.services.settings.twilio_answers_keywords)


def _decide(turn: _Turn) -> Outcome:
    """What a message means, in the order of CONTRACTS.md ("What a short message means").

    1 a stop word, 2 a help word, 3 a delete word, 4 a start word (or YES) from someone opted
    out, 5 nothing else for someone opted out, 6 an answer to the open question, 7 MORE, 8 Rasa.
    Route "rasa" when the assistant must answer.
    """
    _ = turn.gettext
    contact, keyword = turn.contact, turn.keyword
    kind = keyword.kind if keyword else None
    opted_out = contact.opted_out_at is not None
    question = questions.open_question(turn.session, contact.id) if turn.has_question else None
    if kind == "stop" and keyword is not None:
        if keyword.unsure and not (question is not None and question.kind == STOP_QUESTION):
            if opted_out:
                return Outcome([], Route.OPTED_OUT)
            questions.ask(turn.session, contact.id, STOP_QUESTION, {}, turn.language, STOP_QUESTION_OPEN)
            return Outcome([_("Do you want to stop all messages from Puente? Reply %(word)s to stop.")
                            % {"word": keyword.spelled}], Route.STOP_ASKED)
        return _stop(turn, opted_out, twilio=turn.twilio_answered)
    if kind == "help":
        return Outcome([] if turn.twilio_answered else _help_answer(turn.services, turn.language).replies,
                       Route.HELP)
    if kind == "delete" and keyword is not None:
        confirmed = question is not None and question.kind == DELETE_QUESTION
        if confirmed or (opted_out and not keyword.unsure):
            erase(turn.session, turn.services.vault, contact, turn.address.phone)
            return Outcome([_("Erased: your number, alerts, consent records and messages. Puente keeps only "
                              "a locked record of your number so no list can sign you up again. Text "
                              "anytime to start over.")], Route.ERASED)
        questions.ask(turn.session, contact.id, DELETE_QUESTION, {"word": keyword.spelled}, turn.language,
                      DELETE_QUESTION_OPEN)
        return Outcome([_("Reply %(word)s again within 10 minutes to erase your number, alerts and "
                          "messages from Puente. This can't be undone.") % {"word": keyword.spelled}],
                       Route.DELETE_ASKED)
    if opted_out and kind in ("start", "yes"):
        if contact.opted_out_via == "twilio" and not turn.twilio_answered:
            # Twilio blocks this number until it texts one of Twilio's own start words: saying
            # "welcome back" (or sending alerts) would fail. Nothing changes, nothing is sent.
            return Outcome([], Route.OPTED_OUT)
        contacts.set_opted_out(contact, False)
        text = _("Welcome back! You are subscribed to Puente again. "
                 "Text HELP for help or STOP to unsubscribe.")
        return Outcome([] if turn.twilio_answered else [text], Route.START)
    if opted_out:
        return Outcome([], Route.OPTED_OUT)
    if kind == "start" and turn.twilio_answered:
        return Outcome([], Route.START)  # Twilio answered it; to Puente it is just a message
    if question is not None:
        answered = _answer_question(turn, question)
        if answered is not None:
            return answered
    if kind == "more":
        page = paging.next_page(turn.session, contact.id)
        if page is not None:
            return Outcome([page], Route.MORE)
    if not turn.body.strip():
        return Outcome([_("I can only read text. Please write your question in a message.")], Route.EMPTY)
    return Outcome([], Route.RASA)


def _stop(turn: _Turn, already: bool, *, twilio: bool = False) -> Outcome:
    """Everything stops (alerts included: they resume with START). One confirmation, nothing after it.

    `twilio`: Twilio's keyword handling answered this stop word itself (and blocks the number).
    """
    contacts.set_opted_out(turn.contact, True, via="twilio" if twilio else "puente")
    questions.close(turn.session, turn.contact.id)
    if already or twilio:
        return Outcome([], Route.STOP)
    return _stop_answer(turn.services, turn.language)


def _answer_question(turn: _Turn, question: questions.OpenQuestion) -> Outcome | None:
    """The reply when the message answers the person's open question; None when it does not."""
    _ = turn.gettext
    kind = turn.keyword.kind if turn.keyword else None
    if question.kind == STOP_QUESTION:
        if kind == "yes":
            return _stop(turn, False)
        if kind == "no":
            questions.close(turn.session, turn.contact.id)
            return Outcome([_("OK, nothing changed.")], Route.ANSWER)
        return None
    if question.kind == DELETE_QUESTION:
        if kind == "yes":  # YES never confirms an erasure: only the erase word itself does
            word = str(question.payload.get("word") or "DELETE")
            text = _("To erase, reply %(word)s. Nothing was erased.") % {"word": word}
            return Outcome([text], Route.ANSWER)
        if kind == "no":
            questions.close(turn.session, turn.contact.id)
            return Outcome([_("OK, nothing was erased.")], Route.ANSWER)
        return None
    if question.kind == rsvp.RSVP_QUESTION:
        if kind not in ("yes", "no"):
            return None
        if not rsvp.record(turn.session, int(question.payload["broadcast"]), turn.contact.id, kind, utcnow()):
            questions.close(turn.session, turn.contact.id)
            return None
        return Outcome([texts.rsvp_thanks(turn.services.languages, turn.language, kind)], Route.RSVP)
    if question.kind in signup.SIGNUP_QUESTIONS:
        if not _delivered(turn.session, question):
            questions.close(turn.session, turn.contact.id)  # asked in a reply the person never got
            return None
        alerts = signup.Alerts(turn.session, turn.services.languages, turn.places, turn.contact,
                               turn.language, turn.address.channel)
        reply = signup.answer(alerts, question, turn.body, kind,
                              turn.services.vault.phone_hashes(turn.address.phone))
        return Outcome([reply], Route.ANSWER) if reply is not None else None
    return None


def _nothing_stored(services: Services, session: Session, address: Address, language: str) -> Outcome:
    _ = services.languages.translations(language).gettext
    if subscriptions.is_suppressed(session, *services.vault.phone_hashes(address.phone)):
        text = _("Puente keeps only a locked record of this number, so that no list can sign you up "
                 "again. Nothing else is stored.")
    else:
        text = _("Puente has nothing stored about this number.")
    return Outcome([text], Route.NOTHING_STORED)


def _delivered(session: Session, question: questions.OpenQuestion) -> bool:
    """Whether the reply that asked `question` reached the person.

    An action asks while Rasa answers a message (`turn`: that message's log entry). When the
    webhook gave up on Rasa and sent the fallback instead, the entry's route says so, and the
    question (with the consent text it holds) was never seen: a YES cannot answer it.
    """
    turn = question.payload.get("turn")
    if turn is None:
        return True  # asked by the core itself, in a reply it sent
    route = session.scalar(select(InboundMessage.route).where(InboundMessage.id == int(turn)))
    return route == Route.RASA


def _stop_answer(services: Services, language: str, route: Route = Route.STOP) -> Outcome:
    _ = services.languages.translations(language).gettext
    text = _("You are unsubscribed from Puente and will get no more messages. "
             "Text START to come back.")
    return Outcome([text], route)


def _help_answer(services: Services, language: str) -> Outcome:
    """Who runs the line and how to reach a person (carriers require it), how to stop and erase."""
    _ = services.languages.translations(language).gettext
    text = _("Puente answers questions about local immigrant-rights policies. Text STOP to end, "
             "DELETE to erase your data. Msg & data rates may apply.")
    support = services.settings.support_contact.strip()
    if support:
        text = _("Puente is run by %(support)s.") % {"support": support} + " " + text
    return Outcome([text], Route.HELP)


def _fallback(services: Services, language: str, route: Route) -> Outcome:
    _ = services.languages.translations(language).gettext
    text = _("Sorry, Puente can't answer right now. Please try again in a few minutes.")
    return Outcome([text], route)


def _answer_without_database(
    services: Services, address: Address, body: str, keyword: KeywordMatch | None, language: str
) -> Outcome:
    """The answer when the database failed, in the language of the message itself.

    A STOP word is kept in the opt-out spool and answered as usual: it takes effect
    when the database is back. A HELP word needs nothing stored. Anything else gets
    the fallback; nobody is told they were unsubscribed unless the spool has it.
    """
    kind = keyword.kind if keyword else None
    if kind == "stop" and keyword is not None and not keyword.unsure:
        vault = services.vault
        current, *previous = vault.phone_hashes(address.phone)
        entry = SpooledOptOut(current, normalize(body), utcnow(), key_id=vault.key_id, also=tuple(previous))
        try:
            services.optout_spool.add(entry)
        except OSError as error:
            logger.error("a STOP could not be kept in the opt-out spool (%s)", type(error).__name__)
            return _fallback(services, language, Route.DATABASE_DOWN)
        return _stop_answer(services, language, Route.STOP_SPOOLED)
    if kind == "help":
        return _help_answer(services, language)
    return _fallback(services, language, Route.DATABASE_DOWN)


def _ask_rasa(
    services: Services, recorded: _Recorded, body: str, address: Address, started: float
) -> Outcome:
    language = recorded.language
    # Rasa's wait ends by REPLY_DEADLINE, connecting included; normally that is RASA_TIMEOUT.
    wait = REPLY_DEADLINE - (time.monotonic() - started) - RASA_CONNECT_TIMEOUT
    if wait < MIN_RASA_WAIT:
        logger.warning("no time left to ask the assistant, sending the fallback reply")
        return _fallback(services, language, Route.FALLBACK)
    # `turn`: this message's log entry, which a question asked in the reply is tied to.
    metadata = {"language": language, "channel": address.channel, "turn": recorded.log_id}
    try:
        replies = services.assistant.respond(recorded.pseudonym, body, metadata, timeout=wait)
    except AssistantUnavailable as error:
        logger.warning("assistant unavailable, sending the fallback reply: %s", error)
        return _fallback(services, language, Route.FALLBACK)
    return Outcome(replies, Route.RASA)


def _for_rasa(places: PlaceIndex, fillers: frozenset[str], body: str) -> str:
    """What Rasa is sent: the person's words, or for a message that only names a place, that place.

    Rasa reads a message that starts with "/" as an intent with entities: only Puente's own
    place payload may, never what a person typed ("/restart", "/ask_policy{…}").
    """
    words = body.lstrip().lstrip("/").strip() or "?"
    found = places.find(words)
    if len(found) != 1:
        return words
    # What may stand beside the place ("en Santa Rosa", "I live in Modesto", "ở Westminster",
    # "我住在圣罗莎"): each language's `place_fillers`. Anything else ("Kern ICE", "圣罗莎诊所")
    # makes it a question: Rasa reads it whole.
    rest = fold(places.mask(words)).split()
    if not all(word in fillers for word in rest):
        return words
    return "/inform_place" + json.dumps({"area": found[0].jurisdiction_id})


def _fit_to_channel(
    services: Services, recorded: _Recorded, outcome: Outcome, address: Address, started: float
) -> Outcome:
    """The replies as the channel can take them: a long answer's first page, the rest kept for MORE."""
    sms = address.channel == "sms"
    gettext = services.languages.translations(recorded.language).gettext
    pages = paging.pages_of(outcome.replies, gettext, sms=sms)
    if len(pages) == 1 and not recorded.had_pages:
        return outcome
    unpaged = Outcome([pages[0].removesuffix(paging.more_prompt(gettext)).rstrip()], outcome.route)
    if time.monotonic() - started + max(ROUTE_UPDATE_TIMEOUT, OVERRUN) > REPLY_DEADLINE:
        return unpaged  # no time to keep the rest: the first page, without a MORE that could not work
    try:
        with services.database.session(ROUTE_UPDATE_TIMEOUT) as session:
            question = session.get(questions.OpenQuestion, recorded.contact_id)
            if question is not None and question.payload.get("turn") == recorded.log_id:
                # A reply that asks something (a consent text) goes whole, even past the SMS
                # budget: a YES must answer what the person saw all of.
                return outcome
            replies = paging.first_page(session, recorded.contact_id, outcome.replies, pages,
                                        recorded.language)
    except DATABASE_ERRORS as error:
        logger.warning("inbound message %s: the rest of a long answer not kept (%s)",
                       recorded.log_id, type(error).__name__)
        return unpaged
    return Outcome(replies, outcome.route)


def _record_route(services: Services, log_id: int, route: Route, started: float) -> None:
    """Correct the logged route after Rasa failed; skipped rather than delay the reply."""
    if time.monotonic() - started + max(ROUTE_UPDATE_TIMEOUT, OVERRUN) > REPLY_DEADLINE:
        logger.warning("inbound message %s: route %s not recorded, no time left", log_id, route)
        return
    try:
        with services.database.session(ROUTE_UPDATE_TIMEOUT) as session:
            row = session.get(InboundMessage, log_id)
            if row is not None:
                row.route = route
    except DATABASE_ERRORS as error:
        logger.warning("inbound message %s: route %s not recorded (%s)", log_id, route, type(error).__name__)
