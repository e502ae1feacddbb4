"""Every text a person reads exists, translated, in every supported language."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.checkers import python_format
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from puente.config import PROJECT_ROOT
from puente.i18n import registry
from puente.messaging.segments import SMS_SEGMENT_BUDGET, segments

LOCALES = PROJECT_ROOT / "locales"
EXPECTED_LANGUAGES = {"en", "es", "zh_Hans", "zh_Hant", "vi", "tl", "ko"}


def source_messages() -> set[str]:
    """The msgids in the code today, extracted the way `make i18n` does."""
    with (PROJECT_ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    found = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(PROJECT_ROOT), method_map, options_map, keywords={"_": None, "N_": None}
        )
    }
    assert all(isinstance(m, str) for m in found)
    return {str(m) for m in found}


def catalog_path(code: str) -> Path:
    return LOCALES / code / "LC_MESSAGES" / "messages.po"


def test_the_seven_languages_are_supported() -> None:
    assert EXPECTED_LANGUAGES <= set(registry().codes)


def test_the_code_has_texts_to_translate() -> None:
    assert len(source_messages()) >= 10


def catalog_problems(code: str, path: Path, wanted: set[str]) -> list[str]:
    """What keeps the catalog at `path` from being complete: each entry named, with its fix."""
    with path.open("rb") as fp:
        catalog = read_po(fp)
    entries = {m.id: m for m in catalog if m.id}
    problems = [f"{code}: {msgid!r} is missing: run `make i18n`, then translate it"
                for msgid in sorted(wanted - set(entries))]
    for msgid, message in entries.items():
        if not message.string:
            problems.append(f"{code}: {msgid!r} is not translated")
        elif message.fuzzy:
            problems.append(f"{code}: {msgid!r} is fuzzy (its English changed): check the translation, "
                            "then remove the fuzzy flag")
        else:
            python_format(catalog, message)  # raises on a placeholder mismatch
    return problems


@pytest.mark.parametrize("code", registry().codes)
def test_catalog_has_every_message_translated(code: str) -> None:
    problems = catalog_problems(code, catalog_path(code), source_messages())
    assert not problems, "\n".join(problems)


def test_a_changed_english_text_keeps_its_translations_marked_fuzzy(tmp_path: Path) -> None:
    """`make i18n` after an edit of an English text: six translations kept, and flagged."""
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES, locales, ignore=shutil.ignore_patterns("*.mo", "*.pot"))
    old = "Sorry, Puente can't answer right now. Please try again in a few minutes."
    new = "Sorry, Puente can't answer right now. Please try again in a few minutes!"
    wanted = (source_messages() - {old}) | {new}
    template = Catalog()
    for msgid in sorted(wanted):
        template.add(msgid)
    with (locales / "messages.pot").open("wb") as fp:
        write_po(fp, template, omit_header=True)
    before = {code: registry().gettext(code, old) for code in registry().codes if code != "en"}

    subprocess.run(["make", "-s", "-C", str(PROJECT_ROOT), "i18n-merge", f"LOCALES={locales}"],
                   check=True, capture_output=True)

    for code, translation in before.items():
        with (locales / code / "LC_MESSAGES" / "messages.po").open("rb") as fp:
            entry = read_po(fp)[new]
        assert entry is not None and entry.string == translation and entry.fuzzy, code
        assert catalog_problems(code, locales / code / "LC_MESSAGES" / "messages.po", wanted) == [
            f"{code}: {new!r} is fuzzy (its English changed): check the translation, "
            "then remove the fuzzy flag"
        ]


@pytest.mark.parametrize("code", [c for c in registry().codes if c != "en"])
def test_translations_are_not_english_copies(code: str) -> None:
    with catalog_path(code).open("rb") as fp:
        catalog = read_po(fp)
    copies = [m.id for m in catalog if m.id and m.string == m.id]
    assert not copies, f"{code} copies English: {copies}"


@pytest.mark.parametrize("code", registry().codes)
def test_compiled_catalog_is_loaded_at_run_time(code: str) -> None:
    greeting = "You're welcome! Text me anytime."
    text = registry().gettext(code, greeting)
    assert text
    assert (text == greeting) == (code == "en")


def test_every_language_has_its_nlu_data_and_keywords() -> None:
    for language in registry():
        assert list((PROJECT_ROOT / "nlu_data" / "nlu" / language.code).glob("*.yml")), language.code
        assert language.name and language.aliases


def test_the_language_menu_names_each_language_in_itself() -> None:
    menu = registry().menu()
    assert menu.startswith("English, Español, ")
    for name in ("한국어", "Tagalog", "Tiếng Việt", "简体中文", "繁體中文"):
        assert name in menu


@pytest.mark.parametrize("code", registry().codes)
def test_a_text_short_in_english_stays_within_three_sms_segments_translated(code: str) -> None:
    """Only texts long in English too (the primer's) are paged behind MORE on SMS."""
    with catalog_path(code).open("rb") as fp:
        catalog = read_po(fp)
    too_long = [m.id for m in catalog if m.id and m.string
                and segments(str(m.id)) <= 2 and segments(str(m.string)) > SMS_SEGMENT_BUDGET]
    assert not too_long, f"{code}: shorten {too_long}"
