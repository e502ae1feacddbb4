"""Place resolution from the directory alone: names in any script, aliases, typos, ZIP codes, schools."""

from __future__ import annotations

from pathlib import Path

import pytest

from puente.directory.places import PlaceIndex, fold

FIXTURE = Path(__file__).parent.parent / "fixtures" / "places.yaml"


@pytest.mark.parametrize(
    ("message", "expected", "named"),
    [
        ("is santa rosa a sanctuary city?", "ca-santa-rosa", "santa rosa"),
        ("圣罗莎是庇护城市吗?", "ca-santa-rosa", "圣罗莎"),
        ("聖羅莎是庇護城市嗎", "ca-santa-rosa", "聖羅莎"),  # the Simplified name, converted
        ("Fresno有没有法律诊所", "ca-fresno", "Fresno"),  # a Latin name inside Chinese
        ("hay clinica en el Condado de Kern?", "ca-kern-county", "Condado de Kern"),
        ("컨 카운티 법률 클리닉", "ca-kern-county", "컨 카운티"),
        ("Quận Kern có luật gì", "ca-kern-county", "Quận Kern"),
        ("quiero saber si Modesto es sanctuary city", "ca-modesto", "Modesto"),
        ("legal clinc in modesta schools?", "ca-modesto", "modesta"),  # a typo
        ("bakersfeld", "ca-bakersfield", "bakersfeld"),
        ("anything for Bako?", "ca-bakersfield", "Bako"),  # an alias
        ("kern", "ca-kern-county", "kern"),  # "Kern County" without "County"
        ("fresno unified clinic", "ca-fresno-unified", "fresno unified"),
        ("Santa Rosa City Schools clinic", "ca-santa-rosa-city-schools", "Santa Rosa City Schools"),
        ("I live in LA", "ca-los-angeles", "LA"),
        ("is there anything in east la", "ca-la-county", "east la"),
        ("SAN JOSÉ? no, fresno", "ca-fresno", "fresno"),
    ],
)
def test_a_place_is_found_inside_a_sentence(
    index: PlaceIndex, message: str, expected: str, named: str
) -> None:
    place = index.resolve(message)
    assert place is not None, message
    assert (place.jurisdiction_id, message[place.start:place.end]) == (expected, named)


@pytest.mark.parametrize(
    ("message", "expected", "postal_city"),
    [
        ("95407", "ca-santa-rosa", None),  # the dataset's postal city is in the directory
        ("my zip is 93307", "ca-bakersfield", None),  # the city's own zip_codes
        ("90022", "ca-la-county", None),  # East LA: the county's own list wins over the postal city
        ("93241", "ca-kern-county", "Lamont"),  # Lamont is no city of the directory: its county
        ("96161", "ca", "Truckee"),  # a county the directory lacks: the state
    ],
)
def test_a_zip_code_finds_its_city_or_county(
    index: PlaceIndex, message: str, expected: str, postal_city: str | None
) -> None:
    place = index.resolve(message)
    assert place is not None and place.how == "zip"
    assert (place.jurisdiction_id, place.postal_city) == (expected, postal_city)


def test_a_school_finds_its_clinic(index: PlaceIndex) -> None:
    place = index.resolve("is there a clinic at Roosevelt High?")
    assert place is not None
    assert (place.jurisdiction_id, place.clinic_id) == ("ca-fresno-unified", "clinic-fresno-roosevelt-test")


@pytest.mark.parametrize(
    "message",
    ["la clinica esta abierta?", "hello", "what is sb 54", "10001", "legal clinic near me",
     "can i talk to a person"],
)
def test_ordinary_words_are_not_places(index: PlaceIndex, message: str) -> None:
    assert index.find(message) == []


def test_mask_removes_place_names_for_language_detection(index: PlaceIndex) -> None:
    assert index.mask("Is Santa Ana a sanctuary city? what about Modesto").split() == [
        "Is", "Santa", "Ana", "a", "sanctuary", "city?", "what", "about",
    ]
    assert index.mask("圣罗莎是庇护城市吗").strip() == "是庇护城市吗"


def test_fold_drops_case_accents_and_punctuation() -> None:
    assert fold("¡San José, CA!") == "san jose ca"
    assert fold("Quận  Kern") == "quan kern"


def test_a_korean_place_name_is_found_with_a_particle_glued_to_it(index: PlaceIndex) -> None:
    """Hangul syllables stay whole: "산타로사로" is Santa Rosa + 로, and "커" is not inside "컨"."""
    assert [p.jurisdiction_id for p in index.find("지역을 산타로사로 바꿔주세요")] == ["ca-santa-rosa"]
    assert [p.jurisdiction_id for p in index.find("컨 카운티에서 공청회 있어요?")] == ["ca-kern-county"]
