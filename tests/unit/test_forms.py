"""Parsing what Twilio sends, and rendering what we answer."""

from __future__ import annotations

import pytest

from puente.messaging.twiml import render_twiml
from puente.privacy import Address, InvalidAddress, parse_address
from puente.simulator import parse_twiml


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+12135550142", Address("sms", "+12135550142")),
        ("whatsapp:+12135550142", Address("whatsapp", "+12135550142")),
        ("WhatsApp:+1 (213) 555-0142", Address("whatsapp", "+12135550142")),
        (" +525555550142 ", Address("sms", "+525555550142")),
    ],
)
def test_addresses(raw: str, expected: Address) -> None:
    assert parse_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "", "whatsapp:", "2135550142", "+0123", "+1abc5550142", "messenger:123",
        # Digits, but not ASCII ones: Twilio never sends them, and hashed as they are they
        # would make a second contact for the same number.
        "+1٢١٣٥٥٥٠١٤٢", "+１２１３５５５０１４２", "+1२१३५५५०१४२",
    ],
)
def test_bad_addresses_are_refused_without_echoing_them(raw: str) -> None:
    with pytest.raises(InvalidAddress) as error:
        parse_address(raw)
    assert raw.strip() not in str(error.value) or not raw.strip()


def test_urn_round_trip() -> None:
    assert parse_address("whatsapp:+12135550142").urn == "whatsapp:+12135550142"
    assert parse_address("+12135550142").urn == "+12135550142"


def test_twiml_has_one_message_per_reply_and_escapes_text() -> None:
    xml = render_twiml(["a < b & c", "你好 \"hola\""])
    assert xml.count("<Message>") == 2
    assert parse_twiml(xml) == ["a < b & c", "你好 \"hola\""]


def test_no_replies_is_an_empty_response() -> None:
    xml = render_twiml([])
    assert xml.endswith("<Response />") or xml.endswith("<Response/>")
    assert parse_twiml(xml) == []


def test_twiml_stays_well_formed_whatever_a_reply_holds() -> None:
    # XML 1.0 cannot carry most control characters, escaped or not: a reply that held
    # one (Rasa echoing what someone typed) would be TwiML that Twilio cannot parse.
    xml = render_twiml(["a\x01b\x1b[0m", "c\x00d\ufffe", "tab\tand\nnewline ok"])
    assert parse_twiml(xml) == ["ab[0m", "cd", "tab\tand\nnewline ok"]
