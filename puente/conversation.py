"""One inbound text, from Twilio's form to the replies: the path every message takes.

    dedupe MessageSid → contact (by keyed hash) → language → compliance keywords
    → Rasa (pseudonymous sender id) → replies, or a localized fallback

The webhook only checks the signature and renders TwiML; everything else is here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from puente import contacts
from puente.assistant import AssistantUnavailable
from puente.contacts import ContactRef
from puente.i18n.detect import Guess
from puente.messaging.keywords import KeywordMatch, match_keyword
from puente.models import InboundMessage
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
    language: str | None


def handle_inbound(services: Services, message: InboundText) -> Outcome:
    """Process one inbound text once; a redelivered MessageSid gets no replies."""
    address = parse_address(message.sender)
    log_id = _record_once(services, message.message_sid, address)
    if log_id is None:
        logger.info("duplicate inbound message ignored")
        return Outcome([], "duplicate", None)

    body = message.body[:MAX_BODY]
    keyword = match_keyword(body, services.languages)
    guess = services.detector.detect(body) if body.strip() else None
    contact = contacts.get_or_create_contact(
        services.database, services.vault, address, _first_language(services, keyword, guess)
    )
    language = _language_for(services, contact, keyword, guess, body)
    outcome = _answer(services, contact, language, keyword, body, address)

    with services.database.session() as session:
        if language != contact.language:
            contacts.set_language(session, contact.id, language, "detected")
        if outcome.route in ("stop", "start"):
            contacts.set_opted_out(session, contact.id, outcome.route == "stop")
        row = session.get(InboundMessage, log_id)
        if row is not None:
            row.contact_id, row.language, row.route = contact.id, language, outcome.route
    logger.info(
        "inbound message %s: contact=%s channel=%s language=%s route=%s replies=%d",
        log_id, contact.id, address.channel, language, outcome.route, len(outcome.replies),
    )
    return outcome


def _record_once(services: Services, message_sid: str, address: Address) -> int | None:
    """Log the message's metadata; None when this MessageSid was seen before."""
    try:
        with services.database.session() as session:
            row = InboundMessage(
                message_sid_hash=services.vault.message_sid_hash(message_sid),
                channel=address.channel,
                route="received",
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


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
    services: Services, contact: ContactRef, keyword: KeywordMatch | None,
    guess: Guess | None, body: str,
) -> str:
    """The language to answer in, following the person rather than surprising them."""
    if contact.is_new or contact.language_source == "chosen":
        return services.languages.get(contact.language).code
    if keyword is not None:
        return keyword.language_for(contact.language) if not keyword.universal else contact.language
    letters = sum(ch.isalpha() for ch in body)
    long_enough = letters >= SWITCH_MIN_LETTERS or any(ord(ch) > 0x2E80 for ch in body)
    if guess is not None and guess.confidence >= SWITCH_CONFIDENCE and long_enough:
        return guess.language
    return services.languages.get(contact.language).code


def _answer(
    services: Services, contact: ContactRef, language: str,
    keyword: KeywordMatch | None, body: str, address: Address,
) -> Outcome:
    _ = services.languages.translations(language).gettext
    kind = keyword.kind if keyword else None
    if kind == "start_if_opted_out":
        kind = "start" if contact.opted_out else None
    if kind == "stop":
        text = _("You are unsubscribed from Puente and will get no more messages. "
                 "Text START to come back.")
        return Outcome([text], "stop", language)
    if kind == "start":
        text = _("Welcome back! You are subscribed to Puente again. "
                 "Text HELP for help or STOP to unsubscribe.")
        return Outcome([text], "start", language)
    if kind == "help":
        text = _("Puente answers questions about local immigrant-rights policies in "
                 "California. Text STOP to unsubscribe, START to come back. "
                 "Msg & data rates may apply.")
        return Outcome([text], "help", language)
    if contact.opted_out:
        text = _("You are unsubscribed from Puente. Text START to get answers again.")
        return Outcome([text], "opted_out", language)
    if not body.strip():
        text = _("I can only read text. Please write your question in a message.")
        return Outcome([text], "empty", language)

    metadata = {"language": language, "channel": address.channel}
    try:
        replies = services.assistant.respond(contact.pseudonym, body, metadata)
    except AssistantUnavailable as error:
        logger.warning("assistant unavailable, sending the fallback reply: %s", error)
        text = _("Sorry, Puente can't answer right now. Please try again in a few minutes.")
        return Outcome([text], "fallback", language)
    return Outcome(replies, "rasa", language)
