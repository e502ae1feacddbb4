"""How the directory's records appear as forms: which input each field gets, and back again.

Presentation only: the form is turned into a record of the directory file, and the core
(`puente.directory.schema`) validates it exactly as it validates an imported file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from puente.directory.schema import (
    ClinicService,
    HearingStatus,
    JurisdictionKind,
    PolicyKind,
    PolicyStatus,
    Topic,
)

#: The languages a localized text has an input for (zh serves both scripts; the rest fall back to en).
TEXT_LANGUAGES = ("en", "es", "zh", "vi", "tl", "ko", "zh_Hant")
#: The sections edited on the directory page (hearings have a page of their own).
SECTIONS = ("jurisdictions", "policies", "coalitions", "legal_clinics")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text, textarea, choice, multi, list, localized, place, places, date
    required: bool = False
    choices: tuple[str, ...] = ()


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(e.value for e in enum)


FIELDS: dict[str, tuple[Field, ...]] = {
    "jurisdictions": (
        Field("name", "text", True),
        Field("kind", "choice", True, _values(JurisdictionKind)),
        Field("within", "place"),
        Field("names", "localized"),
        Field("aliases", "list"),
        Field("zip_codes", "list"),
        Field("timezone", "text"),
    ),
    "policies": (
        Field("jurisdiction", "place", True),
        Field("kind", "choice", True, _values(PolicyKind)),
        Field("status", "choice", True, _values(PolicyStatus)),
        Field("title", "text", True),
        Field("date", "date"),
        Field("summary", "localized", True),
        Field("source_url", "text", True),
        Field("verified_on", "date", True),
    ),
    "coalitions": (
        Field("name", "text", True),
        Field("serves", "places", True),
        Field("phone", "text"),
        Field("email", "text"),
        Field("website", "text"),
        Field("languages", "list"),
        Field("description", "localized"),
        Field("rapid_response_phone", "text"),
    ),
    "legal_clinics": (
        Field("name", "text", True),
        Field("school_district", "place", True),
        Field("site", "text", True),
        Field("address", "textarea"),
        Field("schedule", "localized"),
        Field("services", "multi", True, _values(ClinicService)),
        Field("open_to", "localized"),
        Field("phone", "text"),
        Field("languages", "list"),
    ),
    "hearings": (
        Field("jurisdiction", "place", True),
        Field("body", "text", True),
        Field("title", "localized", True),
        Field("starts_at", "text", True),
        Field("location", "textarea"),
        Field("topics", "multi", True, _values(Topic)),
        Field("status", "choice", False, _values(HearingStatus)),
        Field("reminders", "list"),
    ),
}


def _list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def record_from_form(section: str, form: MultiDict[str, str], base: dict[str, Any]) -> dict[str, Any]:
    """`base` (the stored record, or {} for a new one) with the form's fields written over it."""
    record = dict(base)
    if "id" in form:
        record["id"] = form.get("id", "").strip()
    for field in FIELDS[section]:
        if field.kind == "localized":
            record[field.name] = {
                code: text.strip()
                for code in TEXT_LANGUAGES
                if (text := form.get(f"{field.name}.{code}", "")).strip()
            }
        elif field.kind == "multi":
            record[field.name] = form.getlist(field.name)
        elif field.kind in ("list", "places"):
            record[field.name] = _list(form.get(field.name, ""))
        else:
            record[field.name] = form.get(field.name, "").strip() or None
    return {name: value for name, value in record.items() if value not in (None, [], {})}


def shown(record: dict[str, Any], field: Field) -> str:
    """A field's value as its input shows it."""
    value = record.get(field.name)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


_PROBLEM = re.compile(r"^(?P<where>.+?): field '(?P<field>[^']+)'[: ]\s*(?P<message>.*)$")


@dataclass(frozen=True)
class Problem:
    record: str
    field: str
    message: str


def problems_by_field(problems: list[str]) -> list[Problem]:
    """The core's problems ("policies[2] (id 'x'): field 'kind': …") split into record, field, message."""
    out = []
    for text in problems:
        match = _PROBLEM.match(text)
        if match:
            out.append(Problem(match["where"], match["field"], match["message"]))
        else:
            where, _sep, message = text.partition(": ")
            out.append(Problem(where if message else "", "", message or text))
    return out
