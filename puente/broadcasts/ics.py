"""A hearing as an iCalendar file (RFC 5545): the link in a reminder that adds it to a phone's calendar.

`GET /hearings/<id>.ics?lang=es` (webhooks/calendar.py) serves it. The link carries the
hearing and a language, nothing about the person who got it: anyone may open it, and a
hearing is public.

One VEVENT per file, with a stable UID (`hearing-<id>@puente`), so opening a newer
file updates the event a calendar already holds: a moved hearing gets a new start and a
higher SEQUENCE, a cancelled one STATUS:CANCELLED.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import quote

from babel.dates import format_datetime
from sqlalchemy import select

from puente.broadcasts.zones import place_zone
from puente.db import Database, as_utc
from puente.directory.localize import localized
from puente.directory.models import Hearing, Jurisdiction
from puente.directory.schema import DEFAULT_TIMEZONE, HearingStatus
from puente.i18n import BASE_LANGUAGE, registry

#: Who made the file (RFC 5545 requires a PRODID).
PRODID = "-//Puente//Hearing reminders//EN"
#: How long an event lasts: the directory gives hearings no end, and most last about this.
DURATION = "PT2H"
#: RFC 5545 folds lines longer than this many octets.
LINE_OCTETS = 75
#: The directory's ids (its slugs): anything else is not looked up.
_HEARING_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


def hearing_link(public_base_url: str, hearing_id: str, language: str) -> str | None:
    """The .ics link for a hearing in `language`; None without PUBLIC_BASE_URL.

    No link at all rather than a localhost one nobody's phone can open. English, the
    route's default, needs no `lang` (every character counts in an SMS).
    """
    if not public_base_url:
        return None
    link = f"{public_base_url.rstrip('/')}/hearings/{quote(hearing_id, safe='')}.ics"
    return link if language == BASE_LANGUAGE else f"{link}?lang={quote(language, safe='')}"


def find_hearing(database: Database, hearing_id: str) -> tuple[Hearing, str] | None:
    """The hearing with `hearing_id` and its place's time zone; None when there is none."""
    if not _HEARING_ID.fullmatch(hearing_id):
        return None
    with database.session() as session:
        hearing = session.get(Hearing, hearing_id)
        if hearing is None:
            return None
        timezone = session.scalar(
            select(Jurisdiction.timezone).where(Jurisdiction.id == hearing.jurisdiction_id)
        )
    return hearing, timezone or DEFAULT_TIMEZONE


def hearing_ics(
    hearing: Hearing, place_timezone: str, language: str, base_url: str, *, now: datetime | None = None
) -> str:
    """The hearing as a VCALENDAR with one VEVENT, CRLF line endings, lines folded at 75 octets.

    DTSTART is in UTC: the phone shows it in its own zone. The description gives the start
    in the place's zone (`place_timezone`) too, written in `language`, for a phone set to
    another zone. `base_url` (PUBLIC_BASE_URL) gives the event its URL, this file's link;
    `now` is the DTSTAMP (the clock when not given).
    """
    starts_at = as_utc(hearing.starts_at)
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    cancelled = hearing.status == HearingStatus.CANCELLED.value
    title = localized(hearing.title, language)
    locale = registry().get(language).babel_locale
    when = format_datetime(starts_at, format="full", tzinfo=place_zone(place_timezone), locale=locale)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{_text(f'hearing-{hearing.id}@puente')}",
        f"DTSTAMP:{_utc(stamp)}",
        f"SEQUENCE:{sequence(starts_at, cancelled)}",
        f"DTSTART:{_utc(starts_at)}",
        f"DURATION:{DURATION}",
        f"SUMMARY:{_text(f'{title} — {hearing.body}' if title else hearing.body)}",
    ]
    if hearing.location:
        lines.append(f"LOCATION:{_text(hearing.location)}")
    lines.append(f"DESCRIPTION:{_text(when)}")
    link = hearing_link(base_url, hearing.id, language)
    if link:
        lines.append(f"URL:{link}")
    lines += [f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}", "END:VEVENT", "END:VCALENDAR"]
    return "".join(f"{fold(line)}\r\n" for line in lines)


def sequence(starts_at: datetime, cancelled: bool) -> int:
    """The event's revision: from its start, so a hearing moved later replaces the old event.

    Whole minutes since 1970, twice, plus one once cancelled: a cancellation outranks the
    event it cancels. No history is kept, so a hearing moved *earlier* gets a lower number;
    calendars that open a published file (METHOD:PUBLISH) replace the event by its UID
    anyway, and those that compare SEQUENCE keep the old time. (It stays below 2^31, the
    largest INTEGER the RFC allows, for two thousand years.)
    """
    minutes = int(as_utc(starts_at).timestamp()) // 60
    return minutes * 2 + (1 if cancelled else 0)


def fold(line: str) -> str:
    """`line` cut into lines of at most 75 octets of UTF-8, never inside a character.

    Each continuation line starts with a space, which counts toward its 75 octets.
    """
    if len(line.encode()) <= LINE_OCTETS:
        return line
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        octets = len(char.encode())
        if size + octets > LINE_OCTETS:
            parts.append("".join(current))
            current, size = [], 1  # the leading space of the next line
        current.append(char)
        size += octets
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _text(value: str) -> str:
    """A TEXT value escaped: backslash, semicolon, comma, newline; other control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
