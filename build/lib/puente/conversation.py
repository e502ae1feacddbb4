"""One inbound text, from Twilio's form to the replies: the path every message takes.

    dedupe MessageSid → contact (by keyed hash) → language → compliance keywords
    → Rasa (pseudonymous sender id) → replies, or a localized fallback

The webhook only checks the signature and renders TwiML; everything else is here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from puente import contacts
from puente.assistant import AssistantUnavailable
from puente.i18n.detect import Guess
from puente.messaging.keywords import KeywordMatch, match_keyword
from puente.models import Contact, InboundMessage
from puente.privacy import Address, parse_address
from puente.services import Services

logger = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio's own limit on a message body

# How sure the detector must be before it sets a language. A first message
# decides a new contact's language; later, only a clear, longer message in
# another language moves it, and never once the person chose one themselves.
NEW_CONTACT_CONFIDENCE = 0.6
NEW_CONTACT_TOP_TWO = 0.9
SWITCH_CONFIDENCE = 0.95
SWITCH_MIN_LETTERS = 12


@dataclass(frozen=True)
class InboundText:
    """The parts of Twilio's inbound request that Puente uses."""

    message_sid: str
    sender: str  # Twilio's `From`: +1… or whatsapp:+1…
    body: str


@dataclass(frozen=True)
class Outcome:
    replies: list[str]
    route: str  # stop, start, help, opted_out, empty, rasa, fallback, duplicate


def handle_inbound(services: Services, message: InboundText) -> Outcome:
    """Process one inbound text once; a redelivered MessageSid gets no replies.

    Everything but the call to Rasa happens in one short transaction, so the
    database adds one commit to a message's path, and no lock is held while Rasa
    thinks.
    """
    address = parse_address(message.sender)
    body = message.body[:MAX_BODY]
    keyword = match_keyword(body, services.languages)
    guess = services.detector.detect(body) if body.strip() and keyword is None else None
    first_language = _first_language(services, keyword, guess)
    sid_hash = services.vault.message_sid_hash(message.message_sid)

    for attempt in range(2):
        try:
            with services.database.session() as session:
                log = InboundMessage(message_sid_hash=sid_hash, channel=address.channel, route="received")
                session.add(log)
                session.flush()  # a redelivered MessageSid fails here, on the unique hash
                contact, is_new = contacts.get_or_create_contact(
                    session, services.vault, address, first_language
                )
                language = _language_for(services, contact, is_new, keyword, guess, body)
                contact.language = language
                outcome = _answer_without_rasa(services, contact, language, keyword, body)
                if outcome.route in ("stop", "start"):
                    contacts.set_opted_out(contact, outcome.route == "stop")
                log.contact_id, log.language, log.route = contact.id, language, outcome.route
                log_id, contact_id, pseudonym = log.id, contact.id, contact.pseudonym
            break
        except IntegrityError:
            if _seen_before(services, sid_hash):
                logger.info("duplicate inbound message ignored")
                return Outcome([], "duplicate")
            if attempt:  # the contact insert raced twice: give up loudly
                raise

    if outcome.route == "rasa":
        outcome = _ask_rasa(services, pseudonym, body, language, address)
        if outcome.route != "rasa":
            with services.database.session() as session:
                row = session.get(InboundMessage, log_id)
                if row is not None:
                    row.route = outcome.route
    logger.info(
        "inbound message %s: contact=%s channel=%s language=%s route=%s replies=%d",
        log_id, contact_id, address.channel, language, outcome.route, len(outcome.replies),
    )
    return outcome


def _seen_before(services: Services, sid_hash: str) -> bool:
    with services.database.session() as session:
        found = session.scalar(
            select(InboundMessage.id).where(InboundMessage.message_sid_hash == sid_hash)
        )
        return found is not None


def _first_language(services: Services, keyword: KeywordMatch | None, guess: Guess | None) -> str:
    default = services.languages.get(services.settings.default_language).code
    if keyword is not None:
        # A keyword is the whole message: its own language, or none for Twilio's English words.
        return default if keyword.universal else keyword.languages[0]
    if guess is not None and (
        guess.confidence >= NEW_CONTACT_CONFIDENCE or guess.top_two >= NEW_CONTACT_TOP_TWO
    ):
        return guess.language
    return default


def _language_for(
    services: Services, contact: Contact, is_new: bool, keyword: KeywordMatch | None,
    guess: Guess | None, body: str,
) -> str:
    """The language to answer in, following the person rather than surprising them."""
    if is_new or contact.language_source == "chosen":
        return services.languages.get(contact.language).code
    if keyword is not None:
        return keyword.language_for(contact.language) if not keyword.universal else contact.language
    letters = sum(ch.isalpha() for ch in body)
    long_enough = letters >= SWITCH_MIN_LETTERS or any(ord(ch) > 0x2E80 for ch in body)
    if guess is not None and guess.confidence >= SWITCH_CONFIDENCE and long_enough:
        return guess.language
    return services.languages.get(contact.language).code


def _answer_without_rasa(
    services: Services, contact: Contact, language: str, keyword: KeywordMatch | None, body: str
) -> Outcome:
    """The reply when the message needs no assistant; route "rasa" when it does."""
    _ = services.languages.translations(language).gettext
    opted_out = contact.opted_out_at is not None
    kind = keyword.kind if keyword else None
    if kind == "start_if_opted_out":
        kind = "start" if opted_out else None
    if kind == "stop":
        text = _("You are unsubscribed from Puente and will get no more messages. "
                 "Text START to come back.")
        return Outcome([text], "stop")
    if kind == "start":
        text = _("Welcome back! You are subscribed to Puente again. "
                 "Text HELP for help or STOP to unsubscribe.")
        return Outcome([text], "start")
    if kind == "help":
        text = _("Puente answers questions about local immigrant-rights policies in "
                 "California. Text STOP to unsubscribe, START to come back. "
                 "Msg & data rates may apply.")
        return Outcome([text], "help")
    if opted_out:
        text = _("You are unsubscribed from Puente. Text START to get answers again.")
        return Outcome([text], "opted_out")
    if not body.strip():
        text = _("I can only read text. Please write your question in a message.")
        return Outcome([text], "empty")
    return Outcome([], "rasa")


def _ask_rasa(services: Services, pseudonym: str, body: str, language: str, address: Address) -> Outcome:
    metadata = {"language": language, "channel": address.channel}
    try:
        replies = services.assistant.respond(pseudonym, body, metadata)
    except AssistantUnavailable as error:
        logger.warning("assistant unavailable, sending the fallback reply: %s", error)
        _ = services.languages.translations(language).gettext
        text = _("Sorry, Puente can't answer right now. Please try again in a few minutes.")
        return Outcome([text], "fallback")
    return Outcome(replies, "rasa")
