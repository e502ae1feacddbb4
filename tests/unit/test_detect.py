"""Language detection, trained on the NLU data and measured on held-out messages."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from puente.config import PROJECT_ROOT
from puente.i18n import registry
from puente.i18n.detect import LanguageDetector, detector_for


def detector() -> LanguageDetector:
    return detector_for(PROJECT_ROOT / "nlu_data" / "nlu")


def held_out() -> list[tuple[str, str]]:
    """(language, text) from the Rasa test stories: messages not in the training data."""
    stories = yaml.safe_load((PROJECT_ROOT / "tests" / "rasa" / "test_stories.yml").read_text())["stories"]
    codes = set(registry().codes)
    pairs = []
    for story in stories:
        [language] = [word for word in story["story"].split() if word in codes]
        pairs.append((language, story["steps"][0]["user"].strip()))
    return pairs


def test_detector_knows_every_supported_language() -> None:
    assert set(detector().languages) == set(registry().codes)


def test_held_out_messages_are_recognised() -> None:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for language, text in held_out():
        total[language] += 1
        guess = detector().detect(text)
        right[language] += guess is not None and guess.language == language
    assert sum(total.values()) >= 70
    for language in total:
        assert right[language] / total[language] >= 0.8, f"{language}: {right[language]}/{total[language]}"
    assert sum(right.values()) / sum(total.values()) >= 0.95


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hola", "es"),
        ("Hola, buenas tardes", "es"),
        ("hello", "en"),
        ("what can you do?", "en"),
        ("xin chào", "vi"),
        ("kumusta po kayo", "tl"),
        ("안녕하세요", "ko"),
        ("你们能帮我做什么", "zh_Hans"),
        ("你們能幫我做什麼", "zh_Hant"),
    ],
)
def test_short_first_messages(text: str, language: str) -> None:
    guess = detector().detect(text)
    assert guess is not None and guess.language == language


def test_text_without_letters_is_not_guessed() -> None:
    assert detector().detect("123 !!! :)") is None
    assert detector().detect("") is None
