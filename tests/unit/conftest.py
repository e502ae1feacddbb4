"""Fixtures the unit tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from puente.directory.models import Jurisdiction, LegalClinic
from puente.directory.places import PlaceIndex
from puente.directory.schema import parse_directory
from puente.directory.store import _row_values

PLACES_FIXTURE = Path(__file__).parent.parent / "fixtures" / "places.yaml"


@pytest.fixture(scope="module")
def index() -> PlaceIndex:
    """The place index of tests/fixtures/places.yaml, built without a database."""
    parsed = parse_directory(yaml.safe_load(PLACES_FIXTURE.read_text()))
    jurisdictions = [Jurisdiction(**_row_values("jurisdictions", r)) for r in parsed.jurisdictions]
    clinics = [LegalClinic(**_row_values("legal_clinics", r)) for r in parsed.legal_clinics]
    return PlaceIndex(jurisdictions, clinics)
