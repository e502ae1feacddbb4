"""Which language a "switch language" message asks for."""

from __future__ import annotations

import pytest

from actions.language import requested_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Español", "es"),
        ("espanol", "es"),
        ("can you speak spanish?", "es"),
        ("en inglés por favor", "en"),
        ("from english to spanish please", "es"),
        ("中文", "zh_Hans"),
        ("我要简体中文", "zh_Hans"),
        ("請用繁體中文", "zh_Hant"),
        ("請用中文說", "zh_Hant"),
        ("tieng viet", "vi"),
        ("Tiếng Việt", "vi"),
        ("Tagalog po", "tl"),
        ("Filipino", "tl"),
        ("한국어로 해주세요", "ko"),
        ("quiero coreano", "ko"),
    ],
)
def test_requested_language(text: str, expected: str) -> None:
    assert requested_language(text) == expected


@pytest.mark.parametrize("text", ["change language", "cambiar idioma", "언어", "ingleses", "language"])
def test_no_language_named(text: str) -> None:
    assert requested_language(text) is None
