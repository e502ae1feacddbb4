"""The dashboard's own interface language: English or Spanish, from the `dashboard` catalogs.

The messages people receive stay in the `messages` domain (puente.i18n), in all seven
languages; the dashboard's labels are a separate domain so that a coordinator's screen and
a person's texts are translated, reviewed and checked apart. The choice is remembered: in
the user's profile once signed in, and in a cookie before (the login page).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from flask import Flask, g, request

from dashboard.core import core, current_user
from puente.db import as_utc
from puente.i18n import CatalogMissing

DOMAIN = "dashboard"
#: The interface's languages, each named in itself (the switcher shows these names).
LANGUAGES = {"en": "English", "es": "Español"}
COOKIE = "puente_dashboard_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


@lru_cache(maxsize=8)
def translations_for(locales_dir: Path, code: str) -> Translations:
    path = locales_dir / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.is_file():
        raise CatalogMissing(f"{path} is missing: run `make i18n` to compile the catalogs")
    with path.open("rb") as fp:
        return Translations(fp, domain=DOMAIN)


def language() -> str:
    """This request's interface language: the user's choice, the cookie, the browser, English."""
    chosen: str | None = g.get("language")
    if chosen:
        return chosen
    user = current_user()
    for candidate in (user.language if user else None, request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            chosen = candidate
            break
    else:
        chosen = request.accept_languages.best_match(list(LANGUAGES)) or "en"
    g.language = chosen
    return chosen


def _translations() -> Translations:
    return translations_for(core().settings.locales_dir, language())


def gettext(message: str, **variables: object) -> str:
    """`message` in the interface language; `%(name)s` placeholders filled from `variables`."""
    text = _translations().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = _translations().ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def when(moment: datetime | None, zone: str = "America/Los_Angeles", style: str = "medium") -> str:
    """A time in the interface's locale and the given zone ("Dec 15, 2026, 9:00 AM PST")."""
    if moment is None:
        return "—"
    moment = as_utc(moment)  # SQLite hands back UTC times without their zone
    return (
        format_datetime(moment, f"{style}", tzinfo=ZoneInfo(zone), locale=language())
        + " "
        + (moment.astimezone(ZoneInfo(zone)).strftime("%Z"))
    )


def number(value: float) -> str:
    return format_decimal(value, locale=language())


def money(value: float) -> str:
    return format_currency(value, "USD", locale=language())


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        _=gettext, gettext=gettext, ngettext=ngettext, language=language, ui_languages=LANGUAGES
    )
    app.jinja_env.filters.update(when=when, number=number, money=money)
