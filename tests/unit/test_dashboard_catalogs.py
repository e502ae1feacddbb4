"""The dashboard's interface is complete in English and Spanish, in its own `dashboard` domain."""

from __future__ import annotations

import pytest
from babel.messages.checkers import python_format
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from dashboard.i18n import DOMAIN, LANGUAGES, translations_for
from puente.config import PROJECT_ROOT

LOCALES = PROJECT_ROOT / "locales"
#: Words Spanish writes as English does.
SAME_IN_SPANISH = {"Id", "No", "no"}


def dashboard_messages() -> set[str | tuple[str, str]]:
    """The msgids in the dashboard's code and templates, extracted as `make i18n` does."""
    with (PROJECT_ROOT / "babel-dashboard.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords={"_": None, "N_": None, "ngettext": (1, 2)}
    ):
        found.add(tuple(message) if isinstance(message, list | tuple) else str(message))  # type: ignore[arg-type]
    return found


def test_the_dashboard_has_texts_and_two_languages() -> None:
    assert len(dashboard_messages()) >= 100
    assert set(LANGUAGES) == {"en", "es"}


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_each_dashboard_catalog_exists_and_translates_every_text(code: str) -> None:
    path = LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    assert path.is_file(), f"{path} is missing: `pybabel init -D dashboard -l {code}` after `make i18n`"
    with path.open("rb") as fp:
        catalog = read_po(fp)
    entries = {(tuple(m.id) if isinstance(m.id, list | tuple) else m.id): m for m in catalog if m.id}
    problems = [
        f"{code}: {msgid!r} is missing: run `make i18n`, then translate it"
        for msgid in sorted(dashboard_messages() - set(entries), key=str)
    ]
    for msgid, message in entries.items():
        strings = message.string if isinstance(message.string, list | tuple) else [message.string]
        if not all(strings):
            problems.append(f"{code}: {msgid!r} is not translated")
        elif message.fuzzy:
            problems.append(f"{code}: {msgid!r} is fuzzy: check it, then remove the flag")
        elif (
            code != "en"
            and strings[0] == (msgid[0] if isinstance(msgid, tuple) else msgid)
            and msgid not in SAME_IN_SPANISH
        ):
            problems.append(f"{code}: {msgid!r} copies the English")
        else:
            python_format(catalog, message)  # raises on a placeholder mismatch
    assert not problems, "\n".join(problems)


def test_the_compiled_spanish_catalog_is_what_the_dashboard_reads() -> None:
    spanish = translations_for(LOCALES, "es")
    assert spanish.gettext("Sign in to the Puente dashboard") == "Inicie sesión en el panel de Puente"
    assert spanish.ngettext("%(num)s recipient", "%(num)s recipients", 3) % {"num": 3} == "3 destinatarios"
    assert translations_for(LOCALES, "en").gettext("Overview") == "Overview"
