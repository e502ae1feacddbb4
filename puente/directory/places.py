"""Finding the places a message names, from the directory alone (never from trained entities).

A place is found by any of its names (the English name, the localized `names`, the
`aliases`, in either Chinese script), by a clinic's `site` (a school), or by a
California ZIP code (the jurisdiction's own `zip_codes` first, then the `zipcodes`
dataset's postal city and county), anywhere inside a sentence in any language, and
with typos ("modesta", "bakersfeld"). A directory that names new places works at once:
the index is rebuilt from the database whenever an import changes it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import zipcodes
from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.db import DATABASE_ERRORS, Database
from puente.directory.localize import convert
from puente.directory.models import Jurisdiction, LegalClinic
from puente.directory.schema import JurisdictionKind

#: How a place was found, best first: a tie between two places goes to the better kind of match.
HOW_RANK = {"name": 0, "alias": 0, "site": 1, "zip": 0, "short": 2, "fuzzy": 3}
#: When one name belongs to several places ("Fresno" the city and the county), the more local one wins.
KIND_RANK = {
    JurisdictionKind.CITY: 0, JurisdictionKind.COUNTY: 1, JurisdictionKind.SCHOOL_DISTRICT: 2,
    JurisdictionKind.STATE: 3,
}
#: Short acronyms ("LA", "SJ") are ordinary words too (Spanish "la"): they count only as written.
CASE_SENSITIVE_UP_TO = 3
#: Endings people leave out: "Kern" for Kern County, "Fresno Unified" for Fresno Unified School District.
SHORT_FORMS = (
    " county", " unified school district", " school district", " city school district",
    " city schools", " high school district", " elementary school district", " school", " high school",
)
logger = logging.getLogger(__name__)

FUZZY_CUTOFF = 85
FUZZY_MIN_LENGTH = 5
_ZIP = re.compile(r"(?<!\d)(9[0-6]\d{3})(?!\d)")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uac00" <= ch <= "\ud7af"


def fold_with_positions(text: str) -> tuple[str, list[int]]:
    """`text` folded for matching (no case, accents or punctuation; one space between words),
    and for each folded character the index of the character it came from."""
    out: list[str] = []
    positions: list[int] = []
    for index, ch in enumerate(text):
        # A Hangul syllable stays whole: decomposed into its letters, "프레즈노" would not end at a
        # letter boundary in "프레즈노로" (Fresno + a particle), and "커" would match inside "컨".
        parts = ch if "\uac00" <= ch <= "\ud7a3" else unicodedata.normalize("NFKD", ch)
        for part in parts:
            if unicodedata.combining(part):
                continue
            category = unicodedata.category(part)
            pieces = " " if category[0] in "PSZC" else part.casefold()
            for piece in pieces:
                if piece == " " and (not out or out[-1] == " "):
                    continue
                out.append(piece)
                positions.append(index)
    while out and out[-1] == " ":
        out.pop()
        positions.pop()
    return "".join(out), positions


def fold(text: str) -> str:
    return fold_with_positions(text)[0]


@dataclass(frozen=True)
class Place:
    """A place found in a message: the jurisdiction, and where and how it was named."""

    jurisdiction_id: str
    name: str  # the directory's name for it
    kind: str
    how: str  # name, alias, short, site, zip, fuzzy
    start: int  # the span of the message that named it
    end: int
    clinic_id: str | None = None  # when a clinic's site (a school) was named
    postal_city: str | None = None  # a ZIP's city, when the directory has no record of that city


@dataclass(frozen=True)
class PlaceRecord:
    """What the index keeps of a jurisdiction: plain values, never a session's ORM object
    (a rolled-back transaction would expire those under every later message)."""

    id: str
    name: str
    kind: str
    names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    zip_codes: tuple[str, ...] = ()

    @classmethod
    def of(cls, j: Jurisdiction) -> PlaceRecord:
        return cls(j.id, j.name, j.kind, tuple((j.names or {}).values()), tuple(j.aliases or ()),
                   tuple(j.zip_codes or ()))


@dataclass(frozen=True)
class SiteRecord:
    """A clinic's site (a school), as the index keeps it."""

    clinic_id: str
    school_district_id: str
    site: str


@dataclass(frozen=True)
class _Entry:
    jurisdiction_id: str
    how: str
    clinic_id: str | None = None
    as_written: str | None = None  # a short acronym, which must appear exactly so


class PlaceIndex:
    """Every way the directory's places can be named, folded, ready to match a message."""

    def __init__(
        self,
        jurisdictions: Iterable[Jurisdiction | PlaceRecord],
        clinics: Iterable[LegalClinic | SiteRecord],
        revision: int = 0,
    ) -> None:
        self.revision = revision
        self.jurisdictions: dict[str, PlaceRecord] = {
            j.id: j if isinstance(j, PlaceRecord) else PlaceRecord.of(j) for j in jurisdictions
        }
        sites = [c if isinstance(c, SiteRecord) else SiteRecord(c.id, c.school_district_id, c.site)
                 for c in clinics]
        self._names: dict[str, list[_Entry]] = {}
        self._zips: dict[str, str] = {}
        for j in self.jurisdictions.values():
            self._add(j.name, _Entry(j.id, "name"))
            for localized in j.names:
                self._add(localized, _Entry(j.id, "name"))
            for alias in j.aliases:
                self._add(alias, _Entry(j.id, "alias"))
            for short in _short_forms(j.name):
                self._add(short, _Entry(j.id, "short"))
            for code in j.zip_codes:
                self._zips[code] = j.id
        for clinic in sites:
            if clinic.school_district_id in self.jurisdictions:
                for site in (clinic.site, *_short_forms(clinic.site)):
                    self._add(site, _Entry(clinic.school_district_id, "site", clinic.clinic_id))
        # Longest first, so "Santa Rosa City Schools" beats "Santa Rosa" where both fit.
        self._ordered = sorted(self._names, key=len, reverse=True)
        self._latin = [n for n in self._ordered if n.isascii() and len(n) >= FUZZY_MIN_LENGTH]
        self._by_folded_name: dict[str, list[str]] = {}
        for j in self.jurisdictions.values():
            self._by_folded_name.setdefault(fold(j.name), []).append(j.id)

    def _add(self, name: str, entry: _Entry) -> None:
        if name.isupper() and name.isalpha() and len(name) <= CASE_SENSITIVE_UP_TO:
            entry = _Entry(entry.jurisdiction_id, entry.how, entry.clinic_id, as_written=name)
        variants = {name}
        if any(_is_cjk(ch) for ch in name):
            variants |= {convert(name, "s2t"), convert(name, "t2s")}
        for variant in variants:
            folded = fold(variant)
            if folded and entry not in self._names.setdefault(folded, []):
                self._names[folded].append(entry)

    def _best(self, entries: list[_Entry]) -> _Entry:
        return min(entries, key=lambda e: (HOW_RANK[e.how], KIND_RANK.get(
            JurisdictionKind(self.jurisdictions[e.jurisdiction_id].kind), 9)))

    def _place(self, entry: _Entry, how: str, start: int, end: int, postal_city: str | None = None) -> Place:
        j = self.jurisdictions[entry.jurisdiction_id]
        return Place(j.id, j.name, j.kind, how, start, end, entry.clinic_id, postal_city)

    def find(self, text: str) -> list[Place]:
        """Every place `text` names, without overlaps, in the order they appear."""
        folded, positions = fold_with_positions(text)
        taken = [False] * len(folded)
        shouting = text.upper() == text and any(ch.isalpha() for ch in text)
        found: list[Place] = []

        def span(a: int, b: int) -> tuple[int, int]:
            return positions[a], positions[b - 1] + 1

        for match in _ZIP.finditer(folded):
            place = self._zip_place(match.group(1), *span(match.start(), match.end()))
            if place is not None:
                found.append(place)
                taken[match.start():match.end()] = [True] * (match.end() - match.start())
        for name in self._ordered:
            start = folded.find(name)
            while start != -1:
                end = start + len(name)
                a, b = span(start, end)
                # An acronym counts as written, and not in a message written all in capitals.
                entries = [e for e in self._names[name]
                           if e.as_written is None or (e.as_written == text[a:b] and not shouting)]
                if entries and not any(taken[start:end]) and _bounded(folded, start, end):
                    entry = self._best(entries)
                    found.append(self._place(entry, entry.how, a, b))
                    taken[start:end] = [True] * (end - start)
                start = folded.find(name, end)
        if not found:
            found.extend(self._fuzzy(folded, positions))
        return sorted(found, key=lambda p: p.start)

    def resolve(self, text: str) -> Place | None:
        """The one place a message is about: the first named, the more local one on a tie."""
        places = self.find(text)
        return places[0] if places else None

    def named(self, text: str) -> list[str]:
        """The ids of the jurisdictions `text`, as a whole, names, in any case and either Chinese
        script: those whose name, localized name or alias it is; failing that, those whose short
        form it is ("Kern" for Kern County). So "Bakersfield" is the city, not also Bakersfield City
        School District. No ZIP code, school or typo: for a value given on its own (a CSV column),
        where a guess would be worse than a refusal."""
        entries = self._names.get(fold(text), [])
        for hows in (("name", "alias"), ("short",)):
            ids = sorted({e.jurisdiction_id for e in entries if e.how in hows})
            if ids:
                return ids
        return []

    def mask(self, text: str) -> str:
        """`text` without the place names in it (for language detection)."""
        for place in sorted(self.find(text), key=lambda p: p.start, reverse=True):
            text = text[:place.start] + " " + text[place.end:]
        return text

    def _zip_place(self, code: str, start: int, end: int) -> Place | None:
        own = self._zips.get(code)
        if own is not None:
            return self._place(_Entry(own, "zip"), "zip", start, end)
        found = _zip_info(code)
        if found is None:
            return None
        city, county = found
        for name, kinds in ((city, (JurisdictionKind.CITY,)), (county, (JurisdictionKind.COUNTY,))):
            for jid in self._by_folded_name.get(fold(name), []):
                if self.jurisdictions[jid].kind in kinds:
                    postal = city if kinds[0] == JurisdictionKind.COUNTY else None
                    return self._place(_Entry(jid, "zip"), "zip", start, end, postal_city=postal)
        states = [j.id for j in self.jurisdictions.values() if j.kind == JurisdictionKind.STATE]
        if states:
            return self._place(_Entry(states[0], "zip"), "zip", start, end, postal_city=city)
        return None

    def _fuzzy(self, folded: str, positions: list[int]) -> list[Place]:
        words = [(m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+", folded)]
        best: tuple[float, int, int, str] | None = None
        for i in range(len(words)):
            for n in range(1, 5):
                if i + n > len(words):
                    break
                a, b = words[i][0], words[i + n - 1][1]
                candidate = folded[a:b]
                if len(candidate) < FUZZY_MIN_LENGTH:
                    continue
                hit = process.extractOne(candidate, self._latin, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
                # A typo rarely strikes the first letter; requiring it keeps ordinary words out.
                if hit and hit[0][0] == candidate[0] and (best is None or hit[1] > best[0]):
                    best = (hit[1], a, b, hit[0])
        if best is None:
            return []
        _score, a, b, name = best
        entry = self._best(self._names[name])
        return [self._place(entry, "fuzzy", positions[a], positions[b - 1] + 1)]


def _bounded(folded: str, start: int, end: int) -> bool:
    """A Latin name must stand as whole words; Han and Hangul names need no spaces around them."""
    before = folded[start - 1] if start > 0 else " "
    after = folded[end] if end < len(folded) else " "
    def edge(ch: str, inner: str) -> bool:
        return ch == " " or _is_cjk(ch) or _is_cjk(inner) or not ch.isalnum()
    return edge(before, folded[start]) and edge(after, folded[end - 1])


def _short_forms(name: str) -> list[str]:
    folded = fold(name)
    return [folded[: -len(suffix)] for suffix in SHORT_FORMS
            if folded.endswith(suffix) and len(folded) - len(suffix) >= 3]


@lru_cache(maxsize=4096)
def _zip_info(code: str) -> tuple[str, str] | None:
    """(postal city, county) of a California ZIP code, from the `zipcodes` dataset."""
    try:
        matches = zipcodes.matching(code)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError):
        return None
    for match in matches:
        if match.get("state") == "CA":
            return str(match["city"]), str(match["county"])
    return None


def load_index(session: Session, revision: int = 0) -> PlaceIndex:
    """The place index for what the directory holds now."""
    places = [PlaceRecord.of(j) for j in session.scalars(select(Jurisdiction))]
    sites = [SiteRecord(c.id, c.school_district_id, c.site) for c in session.scalars(select(LegalClinic))]
    return PlaceIndex(places, sites, revision)


_EMPTY = PlaceIndex([], [], revision=-1)


class PlaceCache:
    """The current place index for one process, rebuilt when an import bumps the directory revision.

    The revision is read at most every `recheck` seconds, so an import reaches every
    running service within that time, and a busy webhook reads one small row a few
    times a minute rather than on every message.
    """

    def __init__(self, database: Database, recheck: float = 2.0, timeout: float = 1.0) -> None:
        self.database = database
        self.recheck = recheck
        self.timeout = timeout
        self._index: PlaceIndex | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def last(self) -> PlaceIndex:
        """The index as last loaded (empty before the first load), without touching the database."""
        return self._index or _EMPTY

    def _stale(self) -> bool:
        return self._index is None or time.monotonic() - self._checked >= self.recheck

    def _refresh(self, session: Session) -> None:
        """Read the revision in `session`; reload the index if an import changed it. Lock held."""
        from puente.directory.store import current_revision

        revision = current_revision(session)
        if self._index is None or self._index.revision != revision:
            self._index = load_index(session, revision)
        self._checked = time.monotonic()

    def index_in(self, session: Session) -> PlaceIndex:
        """The current index, checked (and reloaded if an import changed it) in the caller's session.

        For the webhook: one small query every few seconds inside the message's own
        transaction, so the directory never adds a wait of its own to a reply.
        """
        with self._lock:
            if self._stale():
                self._refresh(session)
            return self.last()

    def index(self) -> PlaceIndex:
        """The current index, checked in a session of its own that waits `timeout` s at most.

        While the database fails, the places as last loaded (none, at first).
        """
        with self._lock:
            if self._stale():
                try:
                    with self.database.session(self.timeout) as session:
                        self._refresh(session)
                except DATABASE_ERRORS as error:
                    logger.warning("directory unavailable (%s): places as last loaded", type(error).__name__)
                    self._checked = time.monotonic()
            return self.last()
