"""The directory file, version 1 (CONTRACTS.md): its closed sets, and validation.

`parse_directory()` checks a whole file before anything is written. Every problem
names the section, the record (index and id) and the field, so a coordinator can
fix the file without reading code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

#: Keys a localized text map may have. `zh` serves both Chinese scripts.
TEXT_LANGUAGES = ("en", "es", "vi", "tl", "ko", "zh", "zh_Hans", "zh_Hant")
SECTIONS = ("jurisdictions", "policies", "coalitions", "legal_clinics", "hearings")
DEFAULT_TIMEZONE = "America/Los_Angeles"
DEFAULT_REMINDERS = ("P7D", "P1D", "PT2H")


class JurisdictionKind(StrEnum):
    STATE = "state"
    COUNTY = "county"
    CITY = "city"
    SCHOOL_DISTRICT = "school_district"


class PolicyKind(StrEnum):
    SANCTUARY_RESOLUTION = "sanctuary_resolution"
    WELCOMING_RESOLUTION = "welcoming_resolution"
    SAFE_SPACE_RESOLUTION = "safe_space_resolution"
    LAW_ENFORCEMENT_POLICY = "law_enforcement_policy"
    OFFICE_OF_IMMIGRANT_AFFAIRS = "office_of_immigrant_affairs"
    INTEGRATION_PLAN = "integration_plan"
    SANCTUARY_WORKPLACE = "sanctuary_workplace"
    OTHER = "other"


class PolicyStatus(StrEnum):
    ADOPTED = "adopted"
    PROPOSED = "proposed"
    REJECTED = "rejected"
    REPEALED = "repealed"


class ClinicService(StrEnum):
    LEGAL_SCREENING = "legal_screening"
    IMMIGRATION_LEGAL_SERVICES = "immigration_legal_services"
    MENTAL_HEALTH = "mental_health"
    KNOW_YOUR_RIGHTS = "know_your_rights"
    OTHER = "other"


class HearingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Topic(StrEnum):
    HEARINGS = "hearings"
    MOBILIZATION = "mobilization"
    POLICY_UPDATES = "policy_updates"
    CLINICS = "clinics"


LocalizedText = dict[str, str]


class DirectoryError(ValueError):
    """A directory file Puente cannot use; `problems` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        count = len(problems)
        super().__init__(f"the directory file has {count} problem(s); nothing was changed:\n{shown}{more}")


@dataclass
class DirectoryFile:
    """A validated file: each section a list of normalized records (plain dicts), in file order."""

    jurisdictions: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    coalitions: list[dict[str, Any]] = field(default_factory=list)
    legal_clinics: list[dict[str, Any]] = field(default_factory=list)
    hearings: list[dict[str, Any]] = field(default_factory=list)

    def sections(self) -> Iterable[tuple[str, list[dict[str, Any]]]]:
        for name in SECTIONS:
            yield name, getattr(self, name)

    def __len__(self) -> int:
        return sum(len(records) for _name, records in self.sections())


_ZIP_CODE = re.compile(r"^\d{5}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
_FIELDS: dict[str, dict[str, bool]] = {
    # field -> required
    "jurisdictions": {"id": True, "name": True, "kind": True, "within": False, "names": False,
                      "aliases": False, "zip_codes": False, "timezone": False},
    "policies": {"id": True, "jurisdiction": True, "kind": True, "status": True, "title": True, "date": False,
                 "summary": True, "source_url": True, "verified_on": True},
    "coalitions": {"id": True, "name": True, "serves": True, "phone": False, "email": False, "website": False,
                   "languages": False, "description": False, "rapid_response_phone": False},
    "legal_clinics": {"id": True, "name": True, "school_district": True, "site": True, "address": False,
                      "schedule": False, "services": True, "open_to": False, "phone": False,
                      "languages": False},
    "hearings": {"id": True, "jurisdiction": True, "body": True, "title": True, "starts_at": True,
                 "location": False, "topics": True, "status": False, "reminders": False},
}


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours and minutes (`P7D`, `PT2H`, `P1DT12H`)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P7D or PT2H")
    weeks, days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


class _Checker:
    """Collects problems for one record; each problem names where it is."""

    def __init__(self, problems: list[str], where: str, record: Mapping[str, Any]) -> None:
        self.problems, self.where, self.record = problems, where, record

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.where}: field {name!r}: {message}")

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.record.get(name)
        if value is None or value == "":
            if required:
                self.problem(name, "is required")
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.problem(name, f"must be text, not {type(value).__name__}")
            return None
        return str(value).strip()

    def choice(self, name: str, enum: type[StrEnum], default: str | None = None) -> str | None:
        value = self.record.get(name, default)
        if value is None:
            self.problem(name, "is required")
            return None
        try:
            return enum(str(value)).value
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            self.problem(name, f"{value!r} is not one of {allowed}")
            return None

    def localized(self, name: str, required: bool = False, needs_en: bool = True) -> LocalizedText | None:
        value = self.record.get(name)
        if value is None:
            if required:
                self.problem(name, "is required (a map of languages to text, with at least en)")
            return None
        if isinstance(value, str):  # a plain string is the English text
            value = {"en": value}
        if not isinstance(value, Mapping):
            self.problem(name, "must be a map of languages to text, e.g. {en: …, es: …}")
            return None
        result: LocalizedText = {}
        for language, text in value.items():
            if language not in TEXT_LANGUAGES:
                self.problem(name, f"language {language!r} is not one of {', '.join(TEXT_LANGUAGES)}")
            elif not isinstance(text, str) or not text.strip():
                self.problem(name, f"the {language} text must be non-empty text")
            else:
                result[str(language)] = text.strip()
        if "en" not in value and needs_en:
            self.problem(name, "needs an en text (the other languages fall back to it)")
        return result

    def strings(self, name: str, required: bool = False, pattern: re.Pattern[str] | None = None,
                what: str = "") -> list[str]:
        value = self.record.get(name)
        if value is None:
            if required:
                self.problem(name, "is required")
            return []
        if isinstance(value, str | int):
            value = [value]
        if not isinstance(value, list):
            self.problem(name, "must be a list")
            return []
        result = []
        for item in value:
            if not isinstance(item, str | int) or isinstance(item, bool) or not str(item).strip():
                self.problem(name, f"{item!r} must be non-empty text")
            elif pattern is not None and not pattern.match(str(item)):
                self.problem(name, f"{item!r} is not {what}")
            else:
                result.append(str(item).strip())
        if required and not result and value:
            self.problem(name, "must not be empty")
        return result

    def day(self, name: str, required: bool = False) -> str | None:
        value = self.record.get(name)
        if value is None or value == "":
            if required:
                self.problem(name, "is required (a date, YYYY-MM-DD)")
            return None
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            self.problem(name, f"{value!r} is not a date (YYYY-MM-DD)")
            return None

    def moment(self, name: str) -> str | None:
        value = self.record.get(name)
        if value is None:
            self.problem(name, "is required (ISO 8601 with an offset, e.g. 2027-01-12T09:00:00-08:00)")
            return None
        try:
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            self.problem(name, f"{value!r} is not an ISO 8601 date and time")
            return None
        if parsed.tzinfo is None:
            self.problem(name, f"{value!r} needs a UTC offset (e.g. -08:00), or its time is ambiguous")
            return None
        return parsed.isoformat()

    def url(self, name: str, required: bool = False) -> str | None:
        value = self.text(name, required)
        if value is not None and not re.match(r"^(https?://\S+|primer:\S+)$", value):
            self.problem(name, f"{value!r} is not a URL (https://…)")
        return value

    def phone(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not re.fullmatch(r"\+?[0-9][0-9 ().-]{6,20}", value):
            self.problem(name, f"{value!r} is not a phone number")
        return value


def _check_record(section: str, index: int, raw: Any, problems: list[str]) -> dict[str, Any] | None:
    label = f"{section}[{index}]"
    if not isinstance(raw, Mapping):
        problems.append(f"{label}: must be a map of fields, not {type(raw).__name__}")
        return None
    record_id = raw.get("id")
    where = f"{label} (id {record_id!r})" if record_id is not None else label
    check = _Checker(problems, where, raw)
    for name in raw:
        if name not in _FIELDS[section]:
            known = ", ".join(_FIELDS[section])
            problems.append(f"{where}: field {name!r} is not part of version 1 (known: {known})")
    if record_id is None:
        check.problem("id", "is required")
    elif not isinstance(record_id, str) or not _SLUG.match(record_id):
        check.problem("id", f"{record_id!r} is not a slug (lowercase letters, digits, - and _)")
    out: dict[str, Any] = {"id": record_id}
    languages = re.compile(_LANGUAGE_CODE.pattern)
    if section == "jurisdictions":
        out |= {
            "name": check.text("name", True), "kind": check.choice("kind", JurisdictionKind),
            "within": check.text("within"), "names": check.localized("names", needs_en=False) or {},
            "aliases": check.strings("aliases"),
            "zip_codes": check.strings("zip_codes", pattern=_ZIP_CODE, what="a 5-digit ZIP code"),
            "timezone": check.text("timezone") or DEFAULT_TIMEZONE,
        }
        _check_timezone(check, out["timezone"])
    elif section == "policies":
        out |= {
            "jurisdiction": check.text("jurisdiction", True), "kind": check.choice("kind", PolicyKind),
            "status": check.choice("status", PolicyStatus), "title": check.text("title", True),
            "date": check.day("date"), "summary": check.localized("summary", True),
            "source_url": check.url("source_url", True), "verified_on": check.day("verified_on", True),
        }
    elif section == "coalitions":
        out |= {
            "name": check.text("name", True), "serves": check.strings("serves", True),
            "phone": check.phone("phone"), "email": check.text("email"), "website": check.url("website"),
            "languages": check.strings("languages", pattern=languages, what="an ISO 639 code"),
            "description": check.localized("description") or {},
            "rapid_response_phone": check.phone("rapid_response_phone"),
        }
    elif section == "legal_clinics":
        out |= {
            "name": check.text("name", True), "school_district": check.text("school_district", True),
            "site": check.text("site", True), "address": check.text("address"),
            "schedule": check.localized("schedule") or {},
            "services": [s for s in check.strings("services", True) if _is_member(check, "services", s,
                                                                                 ClinicService)],
            "open_to": check.localized("open_to") or {}, "phone": check.phone("phone"),
            "languages": check.strings("languages", pattern=languages, what="an ISO 639 code"),
        }
    else:
        out |= {
            "jurisdiction": check.text("jurisdiction", True), "body": check.text("body", True),
            "title": check.localized("title", True), "starts_at": check.moment("starts_at"),
            "location": check.text("location"),
            "topics": [t for t in check.strings("topics", True) if _is_member(check, "topics", t, Topic)],
            "status": check.choice("status", HearingStatus, default=HearingStatus.SCHEDULED.value),
            "reminders": check.strings("reminders") or list(DEFAULT_REMINDERS),
        }
        for reminder in out["reminders"]:
            try:
                parse_duration(reminder)
            except ValueError as error:
                check.problem("reminders", str(error))
    return out


def _is_member(check: _Checker, name: str, value: str, enum: type[StrEnum]) -> bool:
    if value in {e.value for e in enum}:
        return True
    check.problem(name, f"{value!r} is not one of {', '.join(e.value for e in enum)}")
    return False


def _check_timezone(check: _Checker, name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        check.problem("timezone", f"{name!r} is not an IANA time zone such as America/Los_Angeles")


#: Which field of which section names a jurisdiction (or several).
REFERENCES = {
    "policies": ("jurisdiction",),
    "coalitions": ("serves",),
    "legal_clinics": ("school_district",),
    "hearings": ("jurisdiction",),
}


def parse_directory(data: Any, known_jurisdictions: Mapping[str, str] | None = None) -> DirectoryFile:
    """Validate a loaded directory file (YAML or JSON) as a whole; `DirectoryError` lists every problem.

    `known_jurisdictions` (id → kind) are jurisdictions already stored that the file may
    refer to without repeating them.
    """
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise DirectoryError(["the file must be a map with the sections " + ", ".join(SECTIONS)])
    for key in data:
        if key not in SECTIONS and key != "version":
            problems.append(f"section {key!r} is not part of version 1 (known: {', '.join(SECTIONS)})")
    if data.get("version", 1) not in (1, "1"):
        problems.append(f"version {data.get('version')!r} is not supported: this Puente reads version 1")
    parsed = DirectoryFile()
    seen: dict[str, str] = {}
    for section in SECTIONS:
        raw_records = data.get(section) or []
        if not isinstance(raw_records, list):
            problems.append(f"section {section!r} must be a list of records")
            continue
        for index, raw in enumerate(raw_records):
            record = _check_record(section, index, raw, problems)
            if record is None:
                continue
            if isinstance(record["id"], str):
                if record["id"] in seen:
                    problems.append(f"{section}[{index}] (id {record['id']!r}): field 'id': "
                                    f"already used by a record in {seen[record['id']]}")
                seen[record["id"]] = section
            getattr(parsed, section).append(record)
    _check_references(parsed, dict(known_jurisdictions or {}), problems)
    if problems:
        raise DirectoryError(problems)
    return parsed


def _check_references(parsed: DirectoryFile, known: dict[str, str], problems: list[str]) -> None:
    kinds = known | {j["id"]: j["kind"] for j in parsed.jurisdictions if isinstance(j["id"], str)}
    for index, jurisdiction in enumerate(parsed.jurisdictions):
        parent = jurisdiction["within"]
        if parent is not None and parent not in kinds:
            problems.append(f"jurisdictions[{index}] (id {jurisdiction['id']!r}): field 'within': "
                            f"{parent!r} is not a jurisdiction in this file or the directory")
    parents = {j["id"]: j["within"] for j in parsed.jurisdictions}
    for start in parents:  # `within` must not loop
        current, steps = parents.get(start), 0
        while current is not None and steps <= len(parents):
            if current == start:
                problems.append(f"jurisdictions (id {start!r}): field 'within': the chain loops back to it")
                break
            current, steps = parents.get(current), steps + 1
    for section, fields in REFERENCES.items():
        for index, record in enumerate(getattr(parsed, section)):
            for name in fields:
                values = record[name] if isinstance(record[name], list) else [record[name]]
                for value in values:
                    if value is not None and value not in kinds:
                        problems.append(f"{section}[{index}] (id {record['id']!r}): field {name!r}: "
                                        f"{value!r} is not a jurisdiction in this file or the directory")
                    elif (section == "legal_clinics" and value is not None
                          and kinds[value] != JurisdictionKind.SCHOOL_DISTRICT):
                        problems.append(f"{section}[{index}] (id {record['id']!r}): field {name!r}: "
                                        f"{value!r} is a {kinds[value]}, not a school_district")
