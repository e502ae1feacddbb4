"""The compose form as the core's broadcast `Request`, and what a preview shows.

Presentation only: the recipients, segments, cost and time come from
`puente.broadcasts.service.plan`, each reader's message from `puente.broadcasts.texts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from puente.broadcasts import texts
from puente.broadcasts.service import DEFAULT_RSVP_HOURS, BroadcastError, Plan, Request
from puente.i18n import LanguageRegistry
from puente.messaging.segments import encoding_of, segments

#: The text inputs of the compose form (zh serves both Chinese scripts; zh_Hant overrides it).
TEXT_CODES = ("en", "es", "zh", "vi", "tl", "ko", "zh_Hant")
#: Shown open by default: a broadcast is usually written in two or three of them.
FIRST_CODES = ("en", "es", "zh")
#: The zone the "send at" field is read in (the directory's default, California's).
SCHEDULE_ZONE = "America/Los_Angeles"


def request_from_form(form: MultiDict[str, str], created_by: str) -> Request:
    """The form as a broadcast request; `BroadcastError` for what the core cannot be asked."""
    written = {code: form.get(f"text.{code}", "").strip() for code in TEXT_CODES}
    at = None
    if form.get("at", "").strip():
        try:
            at = datetime.fromisoformat(form["at"].strip()).replace(tzinfo=ZoneInfo(SCHEDULE_ZONE))
        except ValueError:
            raise BroadcastError("the time to send is not a date and time") from None
    rsvp = None
    if form.get("rsvp") == "yes":
        try:
            rsvp = float(form.get("rsvp_hours") or DEFAULT_RSVP_HOURS)
        except ValueError:
            raise BroadcastError("the RSVP hours are not a number") from None
    return Request(
        topic=form.get("topic", ""),
        message=written.pop("en"),
        translations={code: text for code, text in written.items() if text},
        jurisdiction_id=form.get("jurisdiction", "").strip() or None,
        language=form.get("language", "").strip() or None,
        at=at,
        urgent=form.get("urgent") == "yes",
        rsvp_hours=rsvp,
        created_by=created_by,
    )


@dataclass
class Bubble:
    language: str
    name: str
    body: str
    segments: int
    encoding: str
    chars: int
    en_fallback: bool


@dataclass
class Preview:
    bubbles: list[Bubble] = field(default_factory=list)
    plan: Plan | None = None


def reader_languages(registry: LanguageRegistry, request: Request, plan: Plan | None) -> list[str]:
    """Whose phones to show: every language with a text of its own, and every recipient's."""
    wanted = {"en"}
    for code in request.texts:
        wanted.update(("zh_Hans", "zh_Hant") if code == "zh" else (code,))
    if plan is not None:
        wanted.update(lp.language for lp in plan.languages)
    return [code for code in registry.codes if code in wanted]


def bubbles(registry: LanguageRegistry, request: Request, plan: Plan | None) -> list[Bubble]:
    """Each reader language's message exactly as the phone will show it (opt-out line included)."""
    out = []
    rsvp = request.rsvp_hours is not None
    for code in reader_languages(registry, request, plan):
        written = texts.broadcast_message(registry, request.texts, code, rsvp=rsvp)
        out.append(
            Bubble(
                code,
                registry.get(code).name,
                written.body,
                segments(written.body),
                encoding_of(written.body).name,
                len(written.body),
                written.note == texts.EN_FALLBACK,
            )
        )
    return out


def duration(seconds: float) -> tuple[str, float]:
    """("s" | "min" | "h", amount) for an estimate of time."""
    if seconds < 90:
        return "s", round(seconds)
    if seconds < 3 * 3600:
        return "min", round(seconds / 60)
    return "h", round(seconds / 3600, 1)
