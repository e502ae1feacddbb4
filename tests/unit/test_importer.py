"""The subscriber importer's row checks, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from puente.alerts.importer import COLUMNS, Candidate, RowChecker, e164, language_codes, shown
from puente.directory.places import PlaceIndex, PlaceRecord


def by_phonenumbers(raw: str) -> str | None:
    """The whole way: what `e164`'s shortcut must always agree with."""
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


FORMATS = ("{a}{b}{c}", "1{a}{b}{c}", "+1{a}{b}{c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}",
           "{a}-{b}-{c}", "+1({a}){b}-{c}", " {a} {b} {c} ", "+52 {a} {b} {c}", "+44 {a}{b}{c}")


@settings(max_examples=2000, deadline=None)
@given(digits=st.text("0123456789", min_size=10, max_size=10), form=st.sampled_from(FORMATS))
def test_the_us_shortcut_agrees_with_phonenumbers(digits: str, form: str) -> None:
    raw = form.format(a=digits[:3], b=digits[3:6], c=digits[6:])
    assert e164(raw) == by_phonenumbers(raw)


def test_numbers_as_lists_write_them() -> None:
    for raw in ("(213) 555-0103", "213.555.0103", "+1 213 555 0103", "12135550103", "2135550103"):
        assert e164(raw) == "+12135550103"
    assert e164("+1 613 555 0103") == "+16135550103"  # Canada: valid, not a US number
    assert e164("+52 55 1234 5678") == "+525512345678"
    for raw in ("", "555-0103", "213 555 010", "+1 213 155 0103", "call me", "2.13555E+09"):
        assert e164(raw) is None


def test_a_value_with_a_phone_numbers_digits_is_never_shown() -> None:
    assert shown("Kern") == "'Kern'"
    assert "555" not in shown("213 555 0103")
    assert "0103" not in shown("+12135550103")


def test_language_codes_take_zh_for_simplified_and_any_case() -> None:
    codes = language_codes(["en", "es", "zh_Hans", "zh_Hant"])
    assert codes["zh"] == "zh_Hans" and codes["zh_hant"] == "zh_Hant" and codes["en"] == "en"


def test_a_row_is_checked_column_by_column() -> None:
    places = PlaceIndex([PlaceRecord("ca-kern-county", "Kern County", "county")], [])
    checker = RowChecker(places, language_codes(["en", "es", "zh_Hans"]), datetime(2026, 1, 1, tzinfo=UTC))
    row = dict(zip(COLUMNS, ("213-555-0103", "ZH", "kern", "Clinics;hearings", "WhatsApp",
                             "2025-03-01T10:00:00-08:00", " Kern sign-up sheet "), strict=True))
    assert checker.check(2, row) == Candidate(
        2, "+12135550103", "zh_Hans", "ca-kern-county", ("hearings", "clinics"), "whatsapp",
        datetime(2025, 3, 1, 18, tzinfo=UTC), "Kern sign-up sheet")
    problems = checker.check(3, {**row, "topics": "", "consent_source": "", "channel": "fax"})
    assert isinstance(problems, list)
    assert [(p.column, p.reason) for p in problems] == [
        ("consent_source", "no_consent"), ("topics", "unknown_topic"), ("channel", "unknown_channel")]
