"""What the directory can tell a person about a place: policies, coalitions, clinics, hearings.

Each lookup starts at the place asked about. When that place has nothing of the kind
asked for, it walks up the `within` chain (a city's county, then the state), then down
to the places within (a county's cities and school districts), and says where each
answer comes from, so a reply can say "Kern County has…" when asked about Lamont.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.directory.models import Coalition, CoalitionServes, Hearing, Jurisdiction, LegalClinic, Policy
from puente.directory.schema import HearingStatus, JurisdictionKind, PolicyStatus
from puente.models import utcnow

T = TypeVar("T")


@dataclass(frozen=True)
class Found(Generic[T]):
    """Records of one jurisdiction, and how that jurisdiction relates to the place asked about."""

    jurisdiction: Jurisdiction
    relation: str  # "self", "above" (the place is within it) or "below" (it is within the place)
    records: tuple[T, ...]


class Directory:
    """Read-only lookups over the stored directory, in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._jurisdictions: dict[str, Jurisdiction] | None = None

    @property
    def jurisdictions(self) -> dict[str, Jurisdiction]:
        if self._jurisdictions is None:
            self._jurisdictions = {j.id: j for j in self.session.scalars(select(Jurisdiction))}
        return self._jurisdictions

    def get(self, jurisdiction_id: str) -> Jurisdiction | None:
        return self.jurisdictions.get(jurisdiction_id)

    def ancestors(self, jurisdiction_id: str) -> list[Jurisdiction]:
        """The places `jurisdiction_id` is within, nearest first."""
        out: list[Jurisdiction] = []
        current = self.jurisdictions.get(jurisdiction_id)
        while current is not None and current.within_id and len(out) < 10:
            current = self.jurisdictions.get(current.within_id)
            if current is not None:
                out.append(current)
        return out

    def descendants(self, jurisdiction_id: str) -> list[Jurisdiction]:
        """The places within `jurisdiction_id`, at any depth, nearest first."""
        children: dict[str, list[Jurisdiction]] = {}
        for j in self.jurisdictions.values():
            if j.within_id:
                children.setdefault(j.within_id, []).append(j)
        out: list[Jurisdiction] = []
        frontier = sorted(children.get(jurisdiction_id, []), key=lambda j: j.name)
        while frontier:
            out.extend(frontier)
            frontier = [c for j in frontier for c in sorted(children.get(j.id, []), key=lambda j: j.name)]
        return out

    def _walk(self, jurisdiction_id: str, lookup: Callable[[Sequence[str]], list[T]], down: bool = True
              ) -> list[Found[T]]:
        """Records at the place; else in the places above it; else (if `down`) in the places within it."""
        place = self.jurisdictions.get(jurisdiction_id)
        if place is None:
            return []
        own = lookup([place.id])
        if own:
            return [Found(place, "self", tuple(own))]
        for above in self.ancestors(place.id):
            if above.kind == JurisdictionKind.STATE and down:
                break  # the state comes last: first what is closer, inside the place
            records = lookup([above.id])
            if records:
                return [Found(above, "above", tuple(records))]
        if down:
            found: list[Found[T]] = []
            for below in self.descendants(place.id):
                records = lookup([below.id])
                if records:
                    found.append(Found(below, "below", tuple(records)))
            if found:
                return found
            for above in self.ancestors(place.id):
                if above.kind == JurisdictionKind.STATE:
                    records = lookup([above.id])
                    if records:
                        return [Found(above, "above", tuple(records))]
        return []

    # --- the lookups ------------------------------------------------------------------------------

    def _policies(self, ids: Sequence[str], kinds: Iterable[str] | None) -> list[Policy]:
        query = select(Policy).where(Policy.jurisdiction_id.in_(ids))
        kinds = list(kinds or [])
        if kinds:
            query = query.where(Policy.kind.in_(kinds))
        order = {PolicyStatus.ADOPTED: 0, PolicyStatus.PROPOSED: 1, PolicyStatus.REPEALED: 2,
                 PolicyStatus.REJECTED: 3}
        return sorted(self.session.scalars(query), key=lambda p: (order.get(PolicyStatus(p.status), 9), p.id))

    def policies_here(self, jurisdiction_id: str) -> list[Policy]:
        """The place's own policies, of every kind, without walking."""
        return self._policies([jurisdiction_id], None)

    def policies(self, jurisdiction_id: str, kinds: Iterable[str] | None = None) -> list[Found[Policy]]:
        """Policies of the place (of `kinds`, if given); else of the places around it."""
        kinds = list(kinds or [])
        return self._walk(jurisdiction_id, lambda ids: self._policies(ids, kinds))

    def coalitions(self, jurisdiction_id: str) -> list[Found[Coalition]]:
        """The coalitions serving the place, or the nearest place above it that has one."""
        def lookup(ids: Sequence[str]) -> list[Coalition]:
            query = (select(Coalition).join(CoalitionServes, CoalitionServes.coalition_id == Coalition.id)
                     .where(CoalitionServes.jurisdiction_id.in_(ids)).order_by(Coalition.name))
            return list(dict.fromkeys(self.session.scalars(query)))
        return self._walk(jurisdiction_id, lookup, down=False) or self._walk(jurisdiction_id, lookup)

    def clinics(self, jurisdiction_id: str, clinic_id: str | None = None) -> list[Found[LegalClinic]]:
        """Clinics for a school site, a district, or the districts in and around a city or county."""
        if clinic_id is not None:
            clinic = self.session.get(LegalClinic, clinic_id)
            district = self.jurisdictions.get(clinic.school_district_id) if clinic else None
            if clinic is not None and district is not None:
                others = [c for c in self._clinics([district.id]) if c.id != clinic.id]
                return [Found(district, "self", (clinic, *others))]
        place = self.jurisdictions.get(jurisdiction_id)
        if place is None:
            return []
        if place.kind == JurisdictionKind.SCHOOL_DISTRICT:
            own = self._clinics([place.id])
            return [Found(place, "self", tuple(own))] if own else []
        # A city or county: its own districts first, else its county's.
        for scope, relation in ((place, "self"), *((a, "above") for a in self.ancestors(place.id)
                                                  if a.kind == JurisdictionKind.COUNTY)):
            districts = [d for d in self.descendants(scope.id) if d.kind == JurisdictionKind.SCHOOL_DISTRICT]
            found = [Found(d, "below" if relation == "self" else relation, tuple(c))
                     for d in districts if (c := self._clinics([d.id]))]
            if found:
                return found
        return []

    def _clinics(self, district_ids: Sequence[str]) -> list[LegalClinic]:
        query = select(LegalClinic).where(LegalClinic.school_district_id.in_(district_ids))
        return list(self.session.scalars(query.order_by(LegalClinic.name)))

    def hearings(self, jurisdiction_id: str, now: datetime | None = None) -> list[Found[Hearing]]:
        """Upcoming scheduled hearings of the place and the places above and within it, soonest first."""
        now = now or utcnow()
        place = self.jurisdictions.get(jurisdiction_id)
        if place is None:
            return []
        found: list[Found[Hearing]] = []
        for scope, relation in ((place, "self"), *((a, "above") for a in self.ancestors(place.id)),
                                *((d, "below") for d in self.descendants(place.id))):
            query = (select(Hearing).where(Hearing.jurisdiction_id == scope.id)
                     .where(Hearing.status == HearingStatus.SCHEDULED.value)
                     .where(Hearing.starts_at > now).order_by(Hearing.starts_at))
            records = list(self.session.scalars(query))
            if records:
                found.append(Found(scope, relation, tuple(records)))
        return found

    def rapid_response(self, jurisdiction_id: str) -> list[Coalition]:
        """Coalitions with a rapid-response line serving the place or the places above it."""
        for found in self.coalitions(jurisdiction_id):
            lines = [c for c in found.records if c.rapid_response_phone]
            if lines:
                return lines
        return []
