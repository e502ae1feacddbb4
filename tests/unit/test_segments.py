"""SMS segments (GSM-7 and UCS-2) and paging behind MORE."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puente.messaging.segments import SMS_SEGMENT_BUDGET, WHATSAPP_PAGE, encoding_of, paginate, segments


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # an extension character takes two septets
        ("€" * 81, "GSM-7", 2),
        ("¿Dónde está la clínica?", "UCS-2", 1),  # ó and í are not GSM-7 (é is)
        ("é" * 160, "GSM-7", 1),
        ("法" * 70, "UCS-2", 1),
        ("法" * 71, "UCS-2", 2),
        ("法" * 134, "UCS-2", 2),
        ("法" * 135, "UCS-2", 3),
        ("👍" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("👍" * 36, "UCS-2", 2),
        ("Phòng khám pháp lý", "UCS-2", 1),
    ],
)
def test_segments_follow_gsm7_and_ucs2(text: str, encoding: str, count: int) -> None:
    assert encoding_of(text).name == encoding
    assert segments(text) == count


def test_a_short_answer_is_one_page() -> None:
    assert paginate("Hello there.", "Reply MORE", sms=True) == ["Hello there."]


@pytest.mark.parametrize("word", ["clinic", "診所", "phòng khám", "클리닉"])
def test_long_sms_answers_are_paged_within_the_budget(word: str) -> None:
    text = " ".join(f"{word} {i}." for i in range(200))
    pages = paginate(text, "MORE »", sms=True)
    assert len(pages) > 1
    for page in pages[:-1]:
        assert page.endswith("\nMORE »") and segments(page) <= SMS_SEGMENT_BUDGET
    assert segments(pages[-1]) <= SMS_SEGMENT_BUDGET and not pages[-1].endswith("MORE »")
    rejoined = " ".join(p.removesuffix("\nMORE »") for p in pages)
    assert rejoined.split() == text.split()  # nothing lost, nothing repeated


def test_pages_break_between_sentences_when_they_can() -> None:
    sentences = [f"Sentence number {i} is here." for i in range(40)]
    pages = paginate(" ".join(sentences), "MORE", sms=True)
    for page in pages:
        assert page.removesuffix("\nMORE").rstrip().endswith(".")


def test_whatsapp_pages_are_up_to_1600_characters() -> None:
    text = "word " * 700
    pages = paginate(text.strip(), "MORE", sms=False)
    assert len(pages) == 3 and all(len(p) <= WHATSAPP_PAGE for p in pages)
    assert paginate("x" * 1500, "MORE", sms=False) == ["x" * 1500]


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=3000), st.booleans())
def test_any_text_pages_within_budget_and_loses_nothing(text: str, sms: bool) -> None:
    pages = paginate(text, "MORE", sms=sms)
    for page in pages:
        if sms:
            assert segments(page) <= SMS_SEGMENT_BUDGET or len(page) <= 1
        else:
            assert len(page) <= WHATSAPP_PAGE
    body = "".join(p.removesuffix("\nMORE") for p in pages)
    assert "".join(body.split()) == "".join(text.split())
