"""What a broadcast adds to each message, in every language, from the real catalogs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from puente.broadcasts import texts
from puente.directory.replies import reader_for
from puente.i18n import LanguageRegistry, fold, registry
from puente.messaging.keywords import match_keyword

LANGUAGES = registry()
CODES = LANGUAGES.codes


@pytest.mark.parametrize("code", CODES)
def test_the_optout_line_names_a_stop_word_that_works_in_that_language(code: str) -> None:
    line = texts.optout_line(LANGUAGES, code)
    word = texts.word(LANGUAGES, code, "stop")
    assert word in line
    match = match_keyword(word, LANGUAGES)
    assert match is not None and match.kind == "stop"


def _stop_words(languages: LanguageRegistry) -> set[str]:
    return {fold(w) for lang in languages for w in lang.keywords.get("stop", ())}


@pytest.mark.parametrize("code", CODES)
def test_the_rsvp_question_never_suggests_a_stop_word(code: str) -> None:
    """CANCEL is a STOP word at Twilio: an RSVP must never ask for it, in any language."""
    yes, no = texts.word(LANGUAGES, code, "yes"), texts.word(LANGUAGES, code, "no")
    question = texts.rsvp_question(LANGUAGES, code)
    assert yes in question and no in question
    assert fold(yes) not in _stop_words(LANGUAGES) and fold(no) not in _stop_words(LANGUAGES)
    for answer, kind in ((yes, "yes"), (no, "no")):
        match = match_keyword(answer, LANGUAGES)
        assert match is not None and match.kind == kind


def test_a_language_without_a_text_gets_english_and_zh_serves_both_scripts() -> None:
    given = {"en": "Hearing Tuesday", "zh": "周二听证会"}
    assert texts.coordinator_text(given, "zh_Hans") == ("周二听证会", None)
    assert texts.coordinator_text(given, "zh_Hant") == ("週二聽證會", None)
    assert texts.coordinator_text(given, "es") == ("Hearing Tuesday", texts.EN_FALLBACK)
    assert texts.coordinator_text({**given, "zh_Hant": "週二公聽會"}, "zh_Hant") == ("週二公聽會", None)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("es", "martes, 15 de diciembre de 2026, 9:00"),
        ("zh_Hant", "2026年12月15日 星期二 上午9:00"),
        ("en", "Tuesday, December 15, 2026, 9:00"),
        ("ko", "2026년 12월 15일 화요일 오전 9:00"),
    ],
)
def test_a_hearing_time_is_written_by_babel_in_the_readers_locale_and_the_places_zone(
    code: str, expected: str
) -> None:
    moment = datetime(2026, 12, 15, 17, 0, tzinfo=UTC)  # 9:00 in California
    assert texts.when(reader_for(LANGUAGES, code), moment, "America/Los_Angeles").startswith(expected)
