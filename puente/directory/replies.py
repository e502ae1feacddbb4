"""Answers about a place, written from the directory in the person's language.

Every sentence comes from the Babel catalogs; names, summaries and schedules come
from the directory in the reader's language (`localize`). A place with no record
never gets "it has no policy": it gets "I have no record of …", and who to ask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime

from puente.directory.answers import Directory, Found
from puente.directory.localize import localized
from puente.directory.models import Coalition, Hearing, Jurisdiction, LegalClinic, Policy
from puente.directory.schema import ClinicService, PolicyKind, PolicyStatus
from puente.i18n import N_, LanguageRegistry

POLICY_KINDS = {
    PolicyKind.SANCTUARY_RESOLUTION: N_("sanctuary resolution"),
    PolicyKind.WELCOMING_RESOLUTION: N_("welcoming resolution"),
    PolicyKind.SAFE_SPACE_RESOLUTION: N_("school \"safe space\" resolution"),
    PolicyKind.LAW_ENFORCEMENT_POLICY: N_("law-enforcement policy"),
    PolicyKind.OFFICE_OF_IMMIGRANT_AFFAIRS: N_("office of immigrant affairs"),
    PolicyKind.INTEGRATION_PLAN: N_("immigrant integration plan"),
    PolicyKind.SANCTUARY_WORKPLACE: N_("sanctuary workplace policy"),
    PolicyKind.OTHER: N_("policy"),
}
STATUSES = {
    PolicyStatus.ADOPTED: N_("adopted"),
    PolicyStatus.PROPOSED: N_("proposed"),
    PolicyStatus.REJECTED: N_("rejected"),
    PolicyStatus.REPEALED: N_("repealed"),
}
SERVICES = {
    ClinicService.LEGAL_SCREENING: N_("legal screening"),
    ClinicService.IMMIGRATION_LEGAL_SERVICES: N_("immigration legal services"),
    ClinicService.MENTAL_HEALTH: N_("mental health"),
    ClinicService.KNOW_YOUR_RIGHTS: N_("know-your-rights sessions"),
    ClinicService.OTHER: N_("other services"),
}
#: How many records of one kind an answer lists; MORE pages through a long answer anyway.
LISTED = 4


@dataclass(frozen=True)
class Reader:
    """Who an answer is written for: their language, its catalog and its Babel locale."""

    language: str
    gettext: Callable[[str], str]
    locale: Locale

    def name(self, place: Jurisdiction) -> str:
        return localized({"en": place.name, **(place.names or {})}, self.language)

    def day(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.locale)

    def moment(self, value: datetime, timezone: str) -> str:
        return format_datetime(value, format="full", tzinfo=ZoneInfo(timezone), locale=self.locale)

    def languages(self, codes: Sequence[str]) -> str:
        names = [self.locale.languages.get(code.replace("-", "_"), code) for code in codes]
        return ", ".join(names)


def reader_for(languages: LanguageRegistry, language: str) -> Reader:
    """A reader of `language`: its catalog and its Babel locale."""
    return Reader(language, languages.translations(language).gettext,
                  Locale.parse(languages.get(language).babel_locale))


def _lines(parts: Sequence[str]) -> str:
    return "\n".join(p for p in parts if p)


def _contact(*values: str | None) -> str:
    return ", ".join(v for v in values if v)


def _coalition_contact(coalition: Coalition) -> str:
    return _contact(coalition.phone, coalition.email, coalition.website)


def which_place(reader: Reader) -> str:
    _ = reader.gettext
    return _("Which city, county, school district or ZIP code do you mean?")


def ask_coalition(reader: Reader, directory: Directory, place: Jurisdiction) -> str:
    """Who to ask about a place: its coalition, or the line's own help."""
    _ = reader.gettext
    for found in directory.coalitions(place.id):
        coalition = found.records[0]
        return _("%(coalition)s can tell you more: %(contact)s") % {
            "coalition": coalition.name, "contact": _coalition_contact(coalition),
        }
    return _("I have no coalition on record for %(place)s yet.") % {"place": reader.name(place)}


# --- policies ----------------------------------------------------------------------------------------

def _policy_line(reader: Reader, policy: Policy) -> str:
    _ = reader.gettext
    status = _(STATUSES[PolicyStatus(policy.status)])
    if policy.date:
        status = _("%(status)s on %(date)s") % {"status": status, "date": reader.day(policy.date)}
    return _("%(title)s (%(kind)s): %(status)s. %(summary)s Source: %(source)s, verified %(verified)s.") % {
        "title": policy.title, "kind": _(POLICY_KINDS[PolicyKind(policy.kind)]), "status": status,
        "summary": localized(policy.summary, reader.language), "source": policy.source_url,
        "verified": reader.day(policy.verified_on),
    }


def policy_answer(reader: Reader, directory: Directory, place_id: str, kinds: Sequence[str] = ()) -> str:
    """What a place (or the places around it) has passed, of `kinds` if the question named any."""
    _ = reader.gettext
    place = directory.get(place_id)
    if place is None:
        return which_place(reader)
    name = reader.name(place)
    lead = ""
    if kinds:
        groups = directory.policies(place.id, kinds)
        if not groups or groups[0].relation != "self":
            kind = _(POLICY_KINDS[PolicyKind(kinds[0])])
            lead = _("I have no record of a %(kind)s in %(place)s.") % {"kind": kind, "place": name}
            # What the place itself has passed of other kinds comes first.
            own = [p for p in directory.policies_here(place.id) if p.kind not in kinds]
            if own:
                groups = [Found(place, "self", tuple(own)), *groups]
    else:
        groups = directory.policies(place.id)
    if not groups:
        no_record = lead or _("I have no record of a policy in %(place)s.") % {"place": name}
        return _lines([no_record, ask_coalition(reader, directory, place)])
    parts = [lead]
    has_own = any(g.relation == "self" for g in groups)
    for group in groups:
        where = reader.name(group.jurisdiction)
        if group.relation == "self":
            parts.append(_("%(place)s:") % {"place": where})
        elif group.relation == "above":
            if not lead and not has_own:
                parts.append(_("I have no record of a policy in %(place)s.") % {"place": name})
            parts.append(_("%(place)s, which includes %(asked)s:") % {"place": where, "asked": name})
        else:
            parts.append(_("In %(place)s:") % {"place": where})
        parts.extend(_policy_line(reader, p) for p in group.records[:LISTED])
    parts.append(ask_coalition(reader, directory, place))
    return _lines(parts)


# --- coalitions, clinics, hearings ---------------------------------------------------------------------

def _coalition_line(reader: Reader, coalition: Coalition) -> str:
    _ = reader.gettext
    line = f"{coalition.name}: {_coalition_contact(coalition)}."
    description = localized(coalition.description, reader.language)
    languages = _("Languages: %(languages)s.") % {"languages": reader.languages(coalition.languages)} \
        if coalition.languages else ""
    return " ".join(p for p in (line, description, languages) if p)


def coalition_answer(reader: Reader, directory: Directory, place_id: str) -> str:
    _ = reader.gettext
    place = directory.get(place_id)
    if place is None:
        return which_place(reader)
    found = directory.coalitions(place.id)
    if not found:
        return _("I have no coalition on record for %(place)s yet.") % {"place": reader.name(place)}
    coalitions = [c for group in found for c in group.records][:LISTED]
    head = _("Coalitions that work in %(place)s:") % {"place": reader.name(place)}
    return _lines([head, *(_coalition_line(reader, c) for c in coalitions)])


def _clinic_line(reader: Reader, clinic: LegalClinic, district: Jurisdiction) -> str:
    _ = reader.gettext
    parts = [_("%(name)s at %(site)s (%(district)s).") % {
        "name": clinic.name, "site": clinic.site, "district": reader.name(district)}]
    if clinic.schedule:
        parts.append(localized(clinic.schedule, reader.language))
    if clinic.services:
        services = ", ".join(_(SERVICES[ClinicService(s)]) for s in clinic.services)
        parts.append(_("Services: %(services)s.") % {"services": services})
    if clinic.open_to:
        parts.append(_("Open to: %(who)s.") % {"who": localized(clinic.open_to, reader.language)})
    if clinic.phone:
        parts.append(_("Call %(phone)s.") % {"phone": clinic.phone})
    if clinic.languages:
        parts.append(_("Languages: %(languages)s.") % {"languages": reader.languages(clinic.languages)})
    return " ".join(parts)


def clinic_answer(reader: Reader, directory: Directory, place_id: str, clinic_id: str | None = None) -> str:
    _ = reader.gettext
    place = directory.get(place_id)
    if place is None:
        return which_place(reader)
    found = directory.clinics(place.id, clinic_id)
    if not found:
        return _lines([
            _("I have no record of a school legal clinic for %(place)s.") % {"place": reader.name(place)},
            ask_coalition(reader, directory, place),
        ])
    listed: list[tuple[LegalClinic, Jurisdiction]] = [(c, g.jurisdiction) for g in found for c in g.records]
    head = _("School legal clinics for %(place)s:") % {"place": reader.name(place)}
    return _lines([head, *(_clinic_line(reader, c, d) for c, d in listed[:LISTED])])


def _hearing_line(reader: Reader, hearing: Hearing, place: Jurisdiction) -> str:
    _ = reader.gettext
    return _("%(title)s: %(body)s, %(when)s, %(where)s.") % {
        "title": localized(hearing.title, reader.language), "body": hearing.body,
        "when": reader.moment(hearing.starts_at, place.timezone),
        "where": hearing.location or _("place to be announced"),
    }


def hearing_answer(reader: Reader, directory: Directory, place_id: str, now: datetime | None = None) -> str:
    _ = reader.gettext
    place = directory.get(place_id)
    if place is None:
        return which_place(reader)
    found: list[Found[Hearing]] = directory.hearings(place.id, now)
    if not found:
        return _lines([
            _("I have no record of upcoming hearings for %(place)s.") % {"place": reader.name(place)},
            ask_coalition(reader, directory, place),
        ])
    hearings = sorted(((h, g.jurisdiction) for g in found for h in g.records), key=lambda x: x[0].starts_at)
    head = _("Upcoming hearings for %(place)s:") % {"place": reader.name(place)}
    return _lines([head, *(_hearing_line(reader, h, j) for h, j in hearings[:LISTED])])


# --- people to talk to ---------------------------------------------------------------------------------

def person_answer(reader: Reader, directory: Directory, place_id: str) -> str:
    """"Talk to a person": the coalition that serves the person's area."""
    _ = reader.gettext
    place = directory.get(place_id)
    if place is None:
        return which_place(reader)
    for found in directory.coalitions(place.id):
        coalition = found.records[0]
        return _("To talk with a person, contact %(coalition)s: %(contact)s.") % {
            "coalition": coalition.name, "contact": _coalition_contact(coalition),
        }
    return _("I have no coalition on record for %(place)s yet.") % {"place": reader.name(place)}


def legal_advice_answer(reader: Reader, directory: Directory, place_id: str | None) -> str:
    _ = reader.gettext
    lead = _("Puente can't give legal advice, and nothing it says is legal advice. "
             "A legal clinic or a coalition can help with your situation.")
    if place_id is None or directory.get(place_id) is None:
        return _lines([lead, _("Tell me your city, school district or ZIP code and I'll find one near you.")])
    return _lines([lead, clinic_answer(reader, directory, place_id)])


def enforcement_answer(reader: Reader, directory: Directory, place_id: str | None) -> str:
    """Immigration enforcement happening now: the area's rapid-response line first."""
    _ = reader.gettext
    rights = _("You have the right to remain silent. Don't open the door unless they show a warrant "
               "signed by a judge. If someone's life is in danger, call 911.")
    lines = directory.rapid_response(place_id) if place_id else []
    if lines:
        numbers = "; ".join(f"{c.name}: {c.rapid_response_phone}" for c in lines)
        return _lines([_("Call the rapid response line now: %(lines)s.") % {"lines": numbers}, rights])
    place = directory.get(place_id) if place_id else None
    if place is not None:
        return _lines([
            _("I have no rapid response line on record for %(place)s.") % {"place": reader.name(place)},
            rights, ask_coalition(reader, directory, place),
        ])
    return _lines([rights, _("Tell me your city or ZIP code to get your area's rapid response line.")])


def emergency_answer(reader: Reader) -> str:
    _ = reader.gettext
    return _("If a life is at risk, call 911 now.")
