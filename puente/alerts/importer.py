"""`puente subscribers import FILE.csv`: a coalition's list of people who agreed to alerts.

Every row carries the consent behind it (`consent_at`, `consent_source`); a row without
it is refused, as is a row with an invalid number, an unknown language, place, topic or
channel. A refusal names the file's row and column, never the number: no phone number
is printed, logged or put in an exception, and a value that looks like one (a shifted
column) is not shown either.

What an import does for each number:

- suppressed (the person erased themselves): nothing, counted as skipped;
- opted out (they texted STOP): nothing, counted as skipped; they stay opted out;
- chose their alerts by text after the row's consent (signed up, or left a topic): nothing,
  their own later word wins over an older list;
- otherwise the topics they lack are added, with one consent record per row that added
  any (`action="import"`, the row's source, time, topics, place, channel and language).

One plan per person, as everywhere in Puente: whoever already gets alerts keeps their
place, channel and language, and the import only adds the topics they lack. So for a
number listed twice, the first row gives the place, channel and language, and the topics
are the union. A person's language is theirs when they chose it; otherwise the list's.
Re-importing a file therefore changes nothing and records no new consent.

The file is read as a stream and written in batches (one transaction each: a few
SELECTs by keyed hash, then bulk INSERTs), so memory stays flat whatever the file's
size, and the running webhook is never locked out for long. A stopped import (an
unreadable row, the database gone) keeps the batches already written: running it again
is safe.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

import phonenumbers
from psycopg import sql as pgsql
from sqlalchemy import DateTime, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from puente.alerts.models import TOPICS, ConsentRecord, Subscription, Suppression
from puente.db import Database, as_utc
from puente.directory.places import PlaceIndex, load_index
from puente.models import Contact, utcnow
from puente.privacy import Vault, new_pseudonym

COLUMNS = ("phone", "language", "jurisdiction", "topics", "channel", "consent_at", "consent_source")
CHANNELS = ("sms", "whatsapp")
#: Rows written per transaction.
BATCH_SIZE = 1000
#: Numbers written without a country code are read as this region's.
DEFAULT_REGION = "US"
#: A consent dated later than this after the import is refused (slack for time zones).
FUTURE_SLACK = timedelta(days=1)
#: consent_records.source is String(200).
SOURCE_MAX = 200
#: Progress is reported at most this often (seconds): small files say nothing until done.
PROGRESS_EVERY = 2.0
#: The person's own word, by text: after a row's consent date, it wins over the row.
OWN_ACTIONS = ("subscribe", "leave")
#: language_source of a contact an import created (behaves as "detected": their texts may move it).
IMPORTED = "imported"

#: The tables, for Core bulk INSERTs (a third cheaper per row than the ORM's bulk path).
CONTACTS = cast(Table, Contact.__table__)
SUBSCRIPTIONS = cast(Table, Subscription.__table__)
CONSENT_RECORDS = cast(Table, ConsentRecord.__table__)

#: Why a row is refused, as the summary says it.
REASONS = {
    "malformed": "wrong number of fields",
    "no_consent": "no consent",
    "bad_consent_at": "consent_at not a valid time",
    "bad_phone": "invalid phone number",
    "unknown_language": "unknown language",
    "unknown_jurisdiction": "unknown or ambiguous jurisdiction",
    "unknown_topic": "unknown or missing topic",
    "unknown_channel": "unknown channel",
}
#: Why a valid row was skipped, as the summary says it.
SKIPS = {
    "suppressed": "suppressed (erased at their request)",
    "opted_out": "opted out (texted STOP)",
    "chose_since": "chose their alerts by text after the consent date",
}


class ImportFileError(Exception):
    """The file cannot be read as a subscriber list; the message says where (never a number)."""


@dataclass(frozen=True)
class Problem:
    """What is wrong with one column of a row."""

    column: str | None  # None: the row as a whole
    reason: str  # a key of REASONS
    detail: str

    def __str__(self) -> str:
        return f"{self.column}: {self.detail}" if self.column else self.detail


@dataclass(frozen=True, slots=True)
class Candidate:
    """A valid row, ready to write."""

    row: int
    phone: str  # E.164
    language: str
    jurisdiction_id: str
    topics: tuple[str, ...]  # in the order of TOPICS
    channel: str
    consent_at: datetime  # aware, UTC
    consent_source: str


@dataclass
class ImportReport:
    """What an import did, row by row (a row is counted once, except in `refused`)."""

    rows: int = 0  # data rows read (blank lines aside)
    imported: int = 0  # rows that added topics (each with its consent record)
    unchanged: int = 0  # rows whose topics the person already had
    new_contacts: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    refused_rows: int = 0
    #: By reason: a row with several problems counts under each.
    refused: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        skipped = sum(self.skipped.values())
        out = [
            f"rows read: {self.rows}",
            f"imported: {self.imported} ({self.new_contacts} new contacts)",
            f"unchanged: {self.unchanged} (already subscribed to those topics)",
            f"skipped: {skipped}" + _by(self.skipped, SKIPS),
            f"refused: {self.refused_rows}" + _by(self.refused, REASONS),
        ]
        if sum(self.refused.values()) > self.refused_rows:
            out[-1] += ": a row may be refused for several reasons"
        return out


def _by(counts: Counter[str], labels: Mapping[str, str]) -> str:
    parts = [f"{labels[key]} {counts[key]}" for key in labels if counts[key]]
    return f" ({', '.join(parts)})" if parts else ""


#: A US number as lists write it: 10 digits (a leading 1 or +1 allowed), in the usual punctuation.
_NANP = re.compile(r"(?:\+?1)?([2-9][0-9]{9})")
_PUNCTUATION = str.maketrans("", "", " ()-.\t")


def e164(raw: str) -> str | None:
    """`raw` as an E.164 number if `phonenumbers` finds it a valid one (region US when it has no
    country code), else None.

    A US number in the usual forms skips `phonenumbers.parse` (the better part of an import's
    time); only its validity is asked, and any other form, or a number valid but not in the US
    (Canada, the Caribbean), goes the whole way: the result is the same either way.
    """
    plain = _NANP.fullmatch(raw.translate(_PUNCTUATION))
    if plain is not None:
        national = plain.group(1)
        if phonenumbers.is_valid_number_for_region(
                phonenumbers.PhoneNumber(country_code=1, national_number=int(national)), DEFAULT_REGION):
            return "+1" + national
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def shown(value: str) -> str:
    """`value` quoted for a message, unless it may be a phone number (in the wrong column)."""
    if sum(ch.isdigit() for ch in value) >= 7:
        return "(value not shown: it has as many digits as a phone number)"
    return repr(value if len(value) <= 40 else value[:40] + "…")


def language_codes(codes: Sequence[str]) -> dict[str, str]:
    """What a file may write for each language (any case, `-` for `_`), to Puente's code.

    `zh` is Simplified Chinese (CONTRACTS.md "Language codes").
    """
    accepted = {code.lower(): code for code in codes}
    if "zh_hans" in accepted:
        accepted.setdefault("zh", accepted["zh_hans"])
    return accepted


class RowChecker:
    """Turns one row's fields into a Candidate, or says everything wrong with it."""

    def __init__(self, places: PlaceIndex, languages: Mapping[str, str], now: datetime) -> None:
        self.places = places
        self.languages = languages
        self.latest = now + FUTURE_SLACK
        # Each distinct place written, resolved once (bounded: cleared when full).
        self._jurisdictions: dict[str, str | Problem] = {}

    def check(self, row: int, values: Mapping[str, str]) -> Candidate | list[Problem]:
        """`values`: the row's cell for each of COLUMNS."""
        problems: list[Problem] = []
        consent_at = self._consent_at(values["consent_at"], problems)
        source = values["consent_source"].strip()
        if not source:
            problems.append(Problem("consent_source", "no_consent",
                                    "empty: every row needs its consent's source"))
        elif len(source) > SOURCE_MAX:
            problems.append(Problem("consent_source", "no_consent", f"longer than {SOURCE_MAX} characters"))
        phone = self._phone(values["phone"], problems)
        language = self._language(values["language"], problems)
        jurisdiction = self._jurisdiction(values["jurisdiction"], problems)
        topics = self._topics(values["topics"], problems)
        channel = values["channel"].strip().lower()
        if channel not in CHANNELS:
            problems.append(Problem("channel", "unknown_channel",
                                    f"{shown(values['channel'].strip())} is not sms or whatsapp"))
        if problems:
            return problems
        assert consent_at and phone and language and jurisdiction
        return Candidate(row, phone, language, jurisdiction, topics, channel, consent_at, source)

    def _consent_at(self, raw: str, problems: list[Problem]) -> datetime | None:
        raw = raw.strip()
        if not raw:
            problems.append(Problem("consent_at", "no_consent",
                                    "empty: every row needs the time consent was given"))
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            problems.append(Problem("consent_at", "bad_consent_at", f"{shown(raw)} is not an ISO 8601 time"))
            return None
        # A time without an offset is taken as UTC (as the README says).
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if moment > self.latest:
            problems.append(Problem("consent_at", "bad_consent_at", f"{shown(raw)} is in the future"))
            return None
        return moment

    @staticmethod
    def _phone(raw: str, problems: list[Problem]) -> str | None:
        # The value itself never goes into a message: only that it is wrong.
        phone = e164(raw)
        if phone is None:
            problems.append(Problem("phone", "bad_phone", "not a valid phone number (value not shown)"))
        return phone

    def _language(self, raw: str, problems: list[Problem]) -> str | None:
        code = self.languages.get(raw.strip().lower().replace("-", "_"))
        if code is None:
            # Puente's codes, and `zh`, as the README writes them.
            accepted = ", ".join(sorted({*self.languages.values(), *({"zh"} & self.languages.keys())}))
            problems.append(Problem("language", "unknown_language",
                                    f"{shown(raw.strip())} is not one of {accepted}"))
        return code

    def _jurisdiction(self, raw: str, problems: list[Problem]) -> str | None:
        raw = raw.strip()
        found = self._jurisdictions.get(raw)
        if found is None:
            found = self._resolve(raw)
            if len(self._jurisdictions) >= 10_000:
                self._jurisdictions.clear()
            self._jurisdictions[raw] = found
        if isinstance(found, Problem):
            problems.append(found)
            return None
        return found

    def _resolve(self, raw: str) -> str | Problem:
        if raw in self.places.jurisdictions:
            return raw
        if not raw:
            return Problem("jurisdiction", "unknown_jurisdiction", "empty")
        ids = self.places.named(raw)
        if len(ids) == 1:
            return ids[0]
        if ids:
            return Problem("jurisdiction", "unknown_jurisdiction",
                           f"{shown(raw)} names {len(ids)} places ({', '.join(ids)}): give the id")
        return Problem("jurisdiction", "unknown_jurisdiction",
                       f"{shown(raw)} is no jurisdiction id or name in the directory")

    @staticmethod
    def _topics(raw: str, problems: list[Problem]) -> tuple[str, ...]:
        given = [t.strip().lower() for t in raw.split(";") if t.strip()]
        unknown = [t for t in given if t not in TOPICS]
        if unknown:
            problems.append(Problem("topics", "unknown_topic",
                                    f"{', '.join(shown(t) for t in unknown)} not among {', '.join(TOPICS)}"))
        elif not given:
            problems.append(Problem("topics", "unknown_topic",
                                    f"empty: give one or more of {', '.join(TOPICS)}"))
        return tuple(t for t in TOPICS if t in given)


@dataclass
class _Delta:
    """One batch's counts, added to the report once its transaction has committed."""

    imported: int = 0
    unchanged: int = 0
    new_contacts: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class SubscriberImport:
    """One import of one file; `report` holds what was done, even when it stops early."""

    def __init__(
        self,
        database: Database,
        vault: Vault,
        *,
        languages: Sequence[str],
        on_refused: Callable[[int, list[Problem]], None] | None = None,
        progress: Callable[[int, float | None], None] | None = None,
        batch_size: int = BATCH_SIZE,
        now: datetime | None = None,
    ) -> None:
        self.database = database
        self.vault = vault
        self.languages = language_codes(languages)
        self.on_refused = on_refused
        self.progress = progress
        self.batch_size = batch_size
        self.now = now
        self.report = ImportReport()

    def run(self, path: Path) -> ImportReport:
        now = self.now or utcnow()
        with self.database.session(None) as session:
            places = load_index(session)
        checker = RowChecker(places, self.languages, now)
        try:
            handle = path.open("rb")
        except OSError as error:
            raise ImportFileError(f"cannot be read ({type(error).__name__})") from None
        with handle:
            size = _size(handle)
            batch: list[Candidate] = []
            last_progress = time.monotonic()
            try:
                for row, values in _rows(_decoded(handle)):
                    self.report.rows += 1
                    if values is None:
                        self._refuse(row, [Problem(None, "malformed",
                                                   "a different number of fields than the header")])
                        continue
                    checked = checker.check(row, values)
                    if isinstance(checked, list):
                        self._refuse(row, checked)
                        continue
                    batch.append(checked)
                    if len(batch) >= self.batch_size:
                        self._write(batch, now)
                        batch = []
                        if self.progress and time.monotonic() - last_progress >= PROGRESS_EVERY:
                            self.progress(self.report.rows, _fraction(handle, size))
                            last_progress = time.monotonic()
            except ImportFileError:
                # The rows before an unreadable one are written too: "imported up to row N".
                if batch:
                    self._write(batch, now)
                raise
            if batch:
                self._write(batch, now)
        return self.report

    def _refuse(self, row: int, problems: list[Problem]) -> None:
        self.report.refused_rows += 1
        self.report.refused.update({p.reason for p in problems})
        if self.on_refused:
            self.on_refused(row, problems)

    def _write(self, batch: list[Candidate], now: datetime) -> None:
        # A contact or subscription created meanwhile by the webhook (the same person texting
        # right now) fails the batch on a unique key: once more, the batch then finds it.
        for attempt in (1, 2):
            try:
                with self.database.session(None) as session:
                    delta = write_batch(session, self.vault, batch, now)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            break
        self.report.imported += delta.imported
        self.report.unchanged += delta.unchanged
        self.report.new_contacts += delta.new_contacts
        self.report.skipped.update(delta.skipped)


def write_batch(session: Session, vault: Vault, batch: list[Candidate], now: datetime) -> _Delta:
    """Write one batch of valid rows in `session`; what it did, counted."""
    delta = _Delta()
    people: dict[str, list[Candidate]] = {}
    for candidate in batch:
        people.setdefault(candidate.phone, []).append(candidate)
    # Each number's hash under the current key, then (during a key rotation) the previous one:
    # a row `puente keys rotate` has not reached yet must still be found, and still suppress.
    all_hashes = {phone: vault.phone_hashes(phone) for phone in people}
    hashes = {phone: found[0] for phone, found in all_hashes.items()}
    wanted = [h for found in all_hashes.values() for h in found]
    suppressed_any = set(session.scalars(
        select(Suppression.phone_hash).where(Suppression.phone_hash.in_(wanted))))
    by_any = {r.phone_hash: r for r in session.execute(
        select(Contact.id, Contact.phone_hash, Contact.language, Contact.language_source,
               Contact.opted_out_at, Contact.phone_encrypted, Contact.key_id)
        .where(Contact.phone_hash.in_(wanted)))}
    known = {}
    suppressed = set()
    for phone, found in all_hashes.items():
        match = next((by_any[h] for h in found if h in by_any), None)
        if match is not None:
            known[hashes[phone]] = match
        if any(h in suppressed_any for h in found):
            suppressed.add(hashes[phone])
    ids = [r.id for h, r in known.items() if r.opted_out_at is None and h not in suppressed]
    plans: dict[int, dict[str, tuple[str, str, str]]] = {}
    spoke: dict[int, datetime] = {}
    if ids:
        for s in session.execute(
                select(Subscription.contact_id, Subscription.topic, Subscription.jurisdiction_id,
                       Subscription.channel, Subscription.language)
                .where(Subscription.contact_id.in_(ids))):
            plans.setdefault(s.contact_id, {})[s.topic] = (s.jurisdiction_id, s.channel, s.language)
        for contact_id, latest in session.execute(
                select(ConsentRecord.contact_id, func.max(ConsentRecord.recorded_at))
                .where(ConsentRecord.contact_id.in_(ids), ConsentRecord.action.in_(OWN_ACTIONS))
                .group_by(ConsentRecord.contact_id)):
            if latest is not None:
                spoke[contact_id] = as_utc(latest)

    new_contacts: list[dict[str, Any]] = []
    numbers_filled: list[dict[str, Any]] = []
    todo: list[tuple[str, list[Candidate], Any]] = []
    for phone, rows in people.items():
        phone_hash = hashes[phone]
        contact = known.get(phone_hash)
        if phone_hash in suppressed:
            delta.skipped["suppressed"] += len(rows)
            continue
        if contact is not None and contact.opted_out_at is not None:
            delta.skipped["opted_out"] += len(rows)
            continue
        if contact is not None and contact.id in spoke:
            since = spoke[contact.id]
            later = [r for r in rows if r.consent_at > since]
            delta.skipped["chose_since"] += len(rows) - len(later)
            rows = later
            if not rows:
                continue
        if contact is None:
            first = rows[0]
            new_contacts.append({
                "phone_hash": phone_hash, "phone_encrypted": vault.encrypt(phone), "key_id": vault.key_id,
                "pseudonym": new_pseudonym(),
                "language": first.language, "language_source": IMPORTED, "channel": first.channel,
                "created_at": now,
            })
        elif contact.phone_encrypted is None or contact.key_id != vault.key_id:
            # Known only by hash until now, or under the previous key: the number is at hand.
            numbers_filled.append({"id": contact.id, "phone_hash": phone_hash,
                                   "phone_encrypted": vault.encrypt(phone), "key_id": vault.key_id})
        todo.append((phone_hash, rows, contact))
    created: dict[str, int] = {}
    if new_contacts:
        insert_many(session, CONTACTS, new_contacts)
        created = {r.phone_hash: r.id for r in session.execute(
            select(CONTACTS.c.id, CONTACTS.c.phone_hash)
            .where(CONTACTS.c.phone_hash.in_([c["phone_hash"] for c in new_contacts])))}
        delta.new_contacts += len(new_contacts)
    if numbers_filled:
        session.execute(update(Contact), numbers_filled)

    subscriptions: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    languages: list[dict[str, Any]] = []
    for phone_hash, rows, contact in todo:
        contact_id = created[phone_hash] if contact is None else contact.id
        have = plans.get(contact_id, {})
        if have:  # a subscriber keeps their place, channel and language
            jurisdiction_id, channel, language = have[min(have, key=_topic_order)]
        else:
            jurisdiction_id, channel, language = rows[0].jurisdiction_id, rows[0].channel, rows[0].language
            if contact is not None and contact.language_source == "chosen":
                language = contact.language
            elif contact is not None and contact.language != language:
                languages.append({"id": contact.id, "language": language})  # their alerts follow it
        for r in rows:
            added = [t for t in r.topics if t not in have]
            if not added:
                delta.unchanged += 1
                continue
            for topic in added:
                have[topic] = (jurisdiction_id, channel, language)
                subscriptions.append({
                    "contact_id": contact_id, "topic": topic, "jurisdiction_id": jurisdiction_id,
                    "channel": channel, "language": language, "created_at": now, "updated_at": now,
                })
            consents.append({
                "contact_id": contact_id, "action": "import", "recorded_at": r.consent_at,
                "channel": r.channel,
                "source": r.consent_source, "language": r.language, "text": None, "topics": list(r.topics),
                "jurisdiction_id": r.jurisdiction_id,
            })
            delta.imported += 1
    if languages:
        session.execute(update(Contact), languages)
    if subscriptions:
        insert_many(session, SUBSCRIPTIONS, subscriptions)
    if consents:
        insert_many(session, CONSENT_RECORDS, consents)
    return delta


def insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys): one DBAPI executemany, or COPY on PostgreSQL.

    What SQLAlchemy's bulk INSERT does, less its per-row bookkeeping (measured: 15% of an
    import's CPU time on SQLite, a third on PostgreSQL with COPY): the statement is compiled
    once for the dialect, and each value goes through its column type's own bind processor
    (SQLite gets the same date strings, PostgreSQL the same JSON). A time seen before in
    this call (the batch's one `now`, a sign-up sheet's one consent time) is converted once:
    every time given here is in UTC, so equal times are written alike.
    """
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    order = list(compiled.positiontup or ()) if dialect.positional else keys
    convert: list[Callable[[Any], Any] | None] = []
    for key in order:
        process = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and isinstance(table.c[key].type, DateTime):
            process = functools.lru_cache(maxsize=256)(process)
        convert.append(process)
    pairs = list(zip(order, convert, strict=True))
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy(connection.connection.driver_connection, table.name, pairs, rows)
        return
    if dialect.positional:
        params: list[Any] = [tuple(row[k] if c is None else c(row[k]) for k, c in pairs) for row in rows]
    else:
        params = [{k: row[k] if c is None else c(row[k]) for k, c in pairs} for row in rows]
    connection.exec_driver_sql(str(compiled), params)


def _copy(
    driver_connection: Any, table: str, pairs: list[tuple[str, Any]], rows: list[dict[str, Any]]
) -> None:
    """PostgreSQL: COPY FROM STDIN, several times faster than INSERTs row by row."""
    statement = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
        pgsql.Identifier(table), pgsql.SQL(", ").join(pgsql.Identifier(k) for k, _c in pairs))
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(tuple(row[k] if c is None else c(row[k]) for k, c in pairs))


def _topic_order(topic: str) -> int:
    return TOPICS.index(topic) if topic in TOPICS else len(TOPICS)


def _decoded(handle: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one line at a time: a byte that is not UTF-8 stops the
    import at its own row, after every row before it (a text file's decoder reads ahead, and
    would fail rows earlier, losing the ones in between)."""
    first = True
    for line in handle:
        text = line.decode("utf-8-sig" if first else "utf-8")
        first = False
        yield text


def _rows(handle: Iterator[str]) -> Iterator[tuple[int, dict[str, str] | None]]:
    """(row number, the row's cell by column, or None when its fields do not fit the header).

    Row numbers are a spreadsheet's: the header is row 1. Blank rows are passed over.
    """
    reader = csv.reader(handle)
    row = 1
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError("the file is empty: the first row must name the columns "
                                  + ",".join(COLUMNS))
        names = [name.strip().lower() for name in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            hint = (" (columns must be separated by commas)"
                    if len(header) == 1 and ";" in header[0] else "")
            raise ImportFileError(f"missing column{'s' if len(missing) > 1 else ''} "
                                  f"{', '.join(missing)}: the header must name {','.join(COLUMNS)}{hint}")
        twice = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
        if twice:
            raise ImportFileError(f"column {', '.join(twice)} named twice in the header")
        index = {c: names.index(c) for c in COLUMNS}
        width = len(names)
        for fields in reader:
            row += 1
            if not any(f.strip() for f in fields):
                continue
            # Empty cells past the header's end (spreadsheets add them) are harmless.
            if len(fields) < width or any(f.strip() for f in fields[width:]):
                yield row, None
                continue
            yield row, {column: fields[i] for column, i in index.items()}
    except UnicodeDecodeError:
        raise ImportFileError(f"row {row + 1} is not UTF-8 text (save the file as CSV UTF-8)") from None
    except csv.Error as error:
        raise ImportFileError(f"row {row + 1} cannot be read as CSV ({error})") from None


def _size(handle: IO[bytes]) -> int | None:
    try:
        return os.fstat(handle.fileno()).st_size or None
    except (OSError, ValueError):
        return None


def _fraction(handle: IO[bytes], size: int | None) -> float | None:
    if size is None:
        return None
    try:
        position: int = handle.tell()
    except (OSError, ValueError):
        return None
    return min(1.0, position / size)
