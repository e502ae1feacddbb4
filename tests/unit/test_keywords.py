"""Compliance keywords: whole-message matches, in every language's list."""

from __future__ import annotations

import pytest

from puente.i18n import fold, registry
from puente.messaging.keywords import match_keyword


@pytest.mark.parametrize(
    ("body", "kind", "language", "universal"),
    [
        ("STOP", "stop", "en", True),
        ("stop", "stop", "en", True),
        ("  Stop!! ", "stop", "en", True),
        ("unsubscribe", "stop", "en", True),
        ("StopAll", "stop", "en", True),
        ("cancel.", "stop", "en", True),
        ("END", "stop", "en", True),
        ("quit", "stop", "en", True),
        ("revoke", "stop", "en", True),
        ("optout", "stop", "en", True),
        ("START", "start", "en", True),
        ("unstop", "start", "en", True),
        ("yes", "yes", "en", True),
        ("DELETE", "delete", "en", True),
        ("borrar", "delete", "es", False),
        ("删除", "delete", "zh_Hans", False),
        ("刪除", "delete", "zh_Hant", False),
        ("XÓA", "delete", "vi", False),
        ("xoá", "delete", "vi", False),
        ("Burahin", "delete", "tl", False),
        ("삭제", "delete", "ko", False),
        ("Sí", "yes", "es", False),
        ("si", "yes", "es", False),
        ("co", "yes", "vi", False),
        ("OO", "yes", "tl", False),
        ("네", "yes", "ko", False),
        ("是", "yes", "zh_Hans", False),
        ("HELP", "help", "en", True),
        ("info?", "help", "en", True),
        ("PARAR", "stop", "es", False),
        ("Cancelar", "stop", "es", False),
        ("¡Alto!", "stop", "es", False),
        ("baja", "stop", "es", False),
        ("comenzar", "start", "es", False),
        ("AYUDA", "help", "es", False),
        ("¿ayuda?", "help", "es", False),
        ("退订", "stop", "zh_Hans", False),
        ("退訂", "stop", "zh_Hant", False),
        ("帮助", "help", "zh_Hans", False),
        ("DỪNG", "stop", "vi", False),
        ("dừng", "stop", "vi", False),
        ("TULONG", "help", "tl", False),
        ("중지", "stop", "ko", False),
        ("도움말", "help", "ko", False),
    ],
)
def test_keywords(body: str, kind: str, language: str, universal: bool) -> None:
    found = match_keyword(body, registry())
    assert found is not None
    assert (found.kind, found.languages[0], found.universal) == (kind, language, universal)


def test_a_word_two_languages_share_stays_in_the_persons_language() -> None:
    found = match_keyword("停止", registry())
    assert found is not None and found.kind == "stop"
    assert found.languages == ("zh_Hans", "zh_Hant")
    assert found.language_for("zh_Hant") == "zh_Hant"
    assert found.language_for("en") == "zh_Hans"


@pytest.mark.parametrize(
    "body",
    ["please stop", "stop it", "help me find a clinic", "stopp", "", "   ", "ayuda por favor", "s t o p"],
)
def test_not_keywords(body: str) -> None:
    assert match_keyword(body, registry()) is None


def test_every_language_has_stop_start_and_help() -> None:
    for language in registry():
        for kind in ("stop", "start", "help"):
            assert language.keywords.get(kind), f"{language.code} has no {kind} keywords"


def test_no_word_means_two_things() -> None:
    seen: dict[str, tuple[str, str]] = {}

    for language in registry():
        for kind, words in language.keywords.items():
            for word in words:
                key = fold(word)
                assert key not in seen or seen[key][1] == kind, (
                    f"{word!r}: {seen.get(key)} and {language.code}/{kind}"
                )
                seen[key] = (language.code, kind)


@pytest.mark.parametrize(
    ("body", "kind", "spelled"),
    [("dung", "stop", "DỪNG"), ("DUNG", "stop", "DỪNG"), ("ngung", "stop", "NGỪNG"),
     ("xoa", "delete", "XÓA")],
)
def test_a_stop_or_erase_word_typed_without_its_diacritics_is_unsure(
    body: str, kind: str, spelled: str
) -> None:
    """"dung" is DỪNG, or "dùng" (to use), or the name Dũng: Puente asks before acting."""
    found = match_keyword(body, registry())
    assert found is not None and (found.kind, found.unsure, found.spelled) == (kind, True, spelled)


@pytest.mark.parametrize("body", ["Dũng", "dùng", "Xoa̋", "xõa"])
def test_other_diacritics_are_other_words(body: str) -> None:
    assert match_keyword(body, registry()) is None


def test_words_typed_as_listed_are_sure_and_confirmations_fold() -> None:
    for body in ("DỪNG", "dừng", "XÓA", "STOP", "BORRAR"):
        found = match_keyword(body, registry())
        assert found is not None and not found.unsure, body
    for body, kind in (("co", "yes"), ("si", "yes"), ("khong", "no"), ("mas", "more")):
        found = match_keyword(body, registry())
        assert found is not None and (found.kind, found.unsure) == (kind, False), body


def test_twilio_words_are_marked() -> None:
    for body in ("STOP", "unsubscribe", "START", "yes", "HELP", "info"):
        found = match_keyword(body, registry())
        assert found is not None and found.twilio, body
    for body in ("PARAR", "DELETE", "NO", "MORE"):
        found = match_keyword(body, registry())
        assert found is not None and not found.twilio, body
