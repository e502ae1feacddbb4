"""What each recipient reads: the broadcast in their language, an RSVP question, the opt-out line.

Every text Puente adds comes from the `messages` catalogs; the coordinator's own text
comes per language from the broadcast (`zh` serves both Chinese scripts, converted).
A reminder is written from its hearing, with the date and time formatted by Babel in the
reader's locale and the hearing's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from babel.dates import format_date, format_time

from puente.broadcasts.zones import place_zone
from puente.directory.localize import localized
from puente.directory.models import Hearing, Jurisdiction
from puente.directory.replies import Reader, reader_for
from puente.i18n import LanguageRegistry

#: What Puente writes when a reader's language has no text of its own.
EN_FALLBACK = "en_fallback"


@dataclass(frozen=True)
class Written:
    """One recipient's message: its body, the template fields for WhatsApp, and a note."""

    body: str
    fields: dict[str, str] = field(default_factory=dict)
    #: "en_fallback" when the coordinator gave no text in the reader's language.
    note: str | None = None


def word(languages: LanguageRegistry, language: str, kind: str) -> str:
    """The language's first keyword of `kind` (STOP, YES, NO in its own words)."""
    words = languages.get(language).keywords.get(kind) or languages.get("en").keywords[kind]
    return words[0]


def optout_line(languages: LanguageRegistry, language: str) -> str:
    _ = languages.translations(language).gettext
    return _("Reply %(stop)s to end.") % {"stop": word(languages, language, "stop")}


def rsvp_question(languages: LanguageRegistry, language: str) -> str:
    """ "Can you come? Reply YES or NO": never a word that also stops messages (CANCEL)."""
    _ = languages.translations(language).gettext
    return _("Can you come? Reply %(yes)s or %(no)s.") % {
        "yes": word(languages, language, "yes"),
        "no": word(languages, language, "no"),
    }


def coordinator_text(texts: dict[str, str], language: str) -> tuple[str, str | None]:
    """The coordinator's text for `language` and, when it is the English one instead, a note."""
    if language == "en":
        return texts["en"], None
    keys = ("zh_Hans", "zh", "zh_Hant") if language.startswith("zh") else (language,)
    if any(texts.get(k) for k in keys):
        return localized(texts, language), None
    return texts["en"], EN_FALLBACK


def finish(languages: LanguageRegistry, language: str, text: str, *, rsvp: bool) -> str:
    parts = [text.strip()]
    if rsvp:
        parts.append(rsvp_question(languages, language))
    parts.append(optout_line(languages, language))
    return "\n".join(parts)


def broadcast_message(
    languages: LanguageRegistry, texts: dict[str, str], language: str, *, rsvp: bool
) -> Written:
    text, note = coordinator_text(texts, language)
    body = finish(languages, language, text, rsvp=rsvp)
    fields = {"text": text, "optout": optout_line(languages, language)}
    if rsvp:
        fields["rsvp"] = rsvp_question(languages, language)
    return Written(body, fields, note)


def when(reader: Reader, starts_at: datetime, timezone: str) -> str:
    """ "martes, 15 de diciembre, 9:00": the day and time, in the reader's locale and the place's zone."""
    zone = place_zone(timezone)
    day = format_date(starts_at.astimezone(zone), "full", locale=reader.locale)
    time = format_time(starts_at, "short", tzinfo=zone, locale=reader.locale)
    pattern = str(reader.locale.datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", time)


def hearing_fields(
    reader: Reader, hearing: Hearing, place: Jurisdiction | None, starts_at: datetime, link: str | None
) -> dict[str, str]:
    timezone = place.timezone if place is not None else "America/Los_Angeles"
    return {
        "title": localized(hearing.title, reader.language),
        "body": hearing.body,
        "when": when(reader, starts_at, timezone),
        "where": hearing.location or reader.gettext("place to be announced"),
        "link": link or "",
    }


def reminder_message(
    languages: LanguageRegistry, language: str, hearing: Hearing, place: Jurisdiction | None, link: str | None
) -> Written:
    reader = reader_for(languages, language)
    _ = reader.gettext
    fields = hearing_fields(reader, hearing, place, hearing.starts_at, link)
    text = _("Reminder: %(title)s (%(body)s), %(when)s, at %(where)s.") % fields
    if link:
        text += "\n" + _("Add it to your calendar: %(link)s") % {"link": link}
    fields["text"] = text
    fields["optout"] = optout_line(languages, language)
    return Written(finish(languages, language, text, rsvp=False), fields)


def notice_message(
    languages: LanguageRegistry,
    language: str,
    hearing: Hearing,
    place: Jurisdiction | None,
    old_starts_at: datetime,
    link: str | None,
) -> Written:
    """A hearing the reader was reminded of has moved, or is cancelled."""
    reader = reader_for(languages, language)
    _ = reader.gettext
    fields = hearing_fields(reader, hearing, place, hearing.starts_at, link)
    old = hearing_fields(reader, hearing, place, old_starts_at, None)["when"]
    if hearing.status == "cancelled":
        text = _("Cancelled: %(title)s (%(body)s), which was set for %(old)s.") % {**fields, "old": old}
    else:
        text = _("Changed: %(title)s (%(body)s) moved from %(old)s to %(when)s, at %(where)s.") % {
            **fields,
            "old": old,
        }
        if link:
            text += "\n" + _("Add it to your calendar: %(link)s") % {"link": link}
    fields["text"] = text
    fields["optout"] = optout_line(languages, language)
    return Written(finish(languages, language, text, rsvp=False), fields)


def rsvp_thanks(languages: LanguageRegistry, language: str, answer: str) -> str:
    _ = languages.translations(language).gettext
    if answer == "yes":
        return _("Thank you! You're counted as coming. Reply %(no)s if that changes.") % {
            "no": word(languages, language, "no")
        }
    return _("Thank you for letting us know. Reply %(yes)s if that changes.") % {
        "yes": word(languages, language, "yes")
    }
