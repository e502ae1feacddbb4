"""Language detection, trained on the NLU data and measured on held-out messages."""

from __future__ import annotations

from collections import Counter

import pytest

from puente.config import PROJECT_ROOT
from puente.directory.models import Jurisdiction, LegalClinic
from puente.directory.places import PlaceIndex
from puente.directory.schema import parse_directory
from puente.directory.store import _row_values, load_file
from puente.i18n import registry
from puente.i18n.detect import LanguageDetector, detector_for
from tests.nlu import heldout


def detector() -> LanguageDetector:
    return detector_for(PROJECT_ROOT / "nlu_data" / "nlu")


def sample_places() -> PlaceIndex:
    parsed = parse_directory(load_file(PROJECT_ROOT / "data" / "directory.yaml"))
    return PlaceIndex([Jurisdiction(**_row_values("jurisdictions", r)) for r in parsed.jurisdictions],
                      [LegalClinic(**_row_values("legal_clinics", r)) for r in parsed.legal_clinics])


def test_detector_knows_every_supported_language() -> None:
    assert set(detector().languages) == set(registry().codes)


def test_language_identification_meets_its_targets_on_the_frozen_held_out_set() -> None:
    """At least 98% right overall and 95% in each language, on messages it never trained on."""
    places = sample_places()
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for message in heldout.load():
        if message.language is None or message.seen:
            continue
        guess = detector().detect(message.text, places.mask(message.text))
        total[message.language] += 1
        right[message.language] += heldout.language_right(message, guess.language if guess else None)
    assert sum(total.values()) >= 900 and set(total) == set(registry().codes)
    for language in total:
        assert right[language] / total[language] >= 0.95, f"{language}: {right[language]}/{total[language]}"
    assert sum(right.values()) / sum(total.values()) >= 0.98


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
