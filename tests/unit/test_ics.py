"""A hearing as an iCalendar file: RFC 5545's line endings, folding, escaping; UTC starts; cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puente.broadcasts.ics import LINE_OCTETS, fold, hearing_ics, hearing_link, sequence
from puente.directory.models import Hearing

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BASE = "https://puente.example.org"
TITLES = {
    "en": "Public comment on county immigrant-services funding",
    "es": "Comentario público sobre fondos del condado para servicios a inmigrantes",
    "zh": "关于县移民服务资金的公众意见，请准时到场发言并携带证件",
    "ko": "카운티 이민자 서비스 예산에 대한 공개 의견 청취와 주민 발언 신청 안내",
}


def hearing(**changes: object) -> Hearing:
    values: dict[str, object] = {
        "id": "hearing-kern-bos", "jurisdiction_id": "ca-kern-county",
        "body": "Kern County Board of Supervisors",
        "title": TITLES, "starts_at": datetime(2025, 3, 11, 18, 0, tzinfo=LA),
        "location": "1115 Truxtun Avenue, Bakersfield", "topics": ["hearings"], "status": "scheduled",
        "reminders": ["P1D"],
    }
    values.update(changes)
    return Hearing(**values)


def ics(
    language: str = "en", zone: str = "America/Los_Angeles", base_url: str = BASE, **changes: object
) -> str:
    return hearing_ics(hearing(**changes), zone, language, base_url, now=NOW)


def properties(text: str) -> dict[str, str]:
    """The content lines, unfolded, by name (the last wins: each appears once here)."""
    unfolded = text.replace("\r\n ", "")
    found: dict[str, str] = {}
    for line in unfolded.split("\r\n"):
        if line:
            name, _, value = line.partition(":")
            found[name] = value
    return found


def unescape(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            escaped = next(chars)
            out.append("\n" if escaped in "nN" else escaped)
        else:
            out.append(char)
    return "".join(out)


def test_a_calendar_with_one_event_and_crlf_line_endings() -> None:
    text = ics()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert text.endswith("END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert text.count("BEGIN:VEVENT") == 1
    found = properties(text)
    assert found["UID"] == "hearing-hearing-kern-bos@puente"  # hearing-<id>@puente, whatever the id
    assert found["DTSTAMP"] == "20250301T120000Z"
    assert found["DURATION"] == "PT2H"
    assert found["STATUS"] == "CONFIRMED"
    assert found["METHOD"] == "PUBLISH"
    assert unescape(found["SUMMARY"]) == f"{TITLES['en']} — Kern County Board of Supervisors"
    assert unescape(found["LOCATION"]) == "1115 Truxtun Avenue, Bakersfield"
    assert found["URL"] == f"{BASE}/hearings/hearing-kern-bos.ics"


def test_the_start_is_utc_whichever_side_of_a_dst_change_it_falls() -> None:
    """6 pm in Bakersfield is 02:00 UTC the next day in standard time, 01:00 after 9 March 2025."""
    before = properties(ics(starts_at=datetime(2025, 3, 4, 18, 0, tzinfo=LA)))
    after = properties(ics(starts_at=datetime(2025, 3, 11, 18, 0, tzinfo=LA)))
    assert before["DTSTART"] == "20250305T020000Z"
    assert after["DTSTART"] == "20250312T010000Z"
    november = properties(ics(starts_at=datetime(2025, 11, 3, 9, 0, tzinfo=LA)))
    assert november["DTSTART"] == "20251103T170000Z"


def test_a_start_read_back_from_sqlite_without_its_zone_is_utc() -> None:
    stored = datetime(2025, 3, 12, 1, 0)  # SQLite hands back UTC times without their zone
    assert properties(ics(starts_at=stored))["DTSTART"] == "20250312T010000Z"


def test_the_description_gives_the_start_in_the_place_s_zone_and_the_reader_s_language() -> None:
    assert "Tuesday, March 11, 2025" in unescape(properties(ics())["DESCRIPTION"])
    assert "6:00:00" in unescape(properties(ics())["DESCRIPTION"])
    assert "11 de marzo de 2025" in unescape(properties(ics("es"))["DESCRIPTION"])
    # The same moment in Honolulu's own time: 3 pm.
    assert "3:00:00" in unescape(properties(ics(zone="Pacific/Honolulu"))["DESCRIPTION"])
    # An unknown zone reads as Los Angeles (the directory validates zones at import).
    assert properties(ics(zone="Nowhere/Else"))["DESCRIPTION"] == properties(ics())["DESCRIPTION"]


@pytest.mark.parametrize(
    ("language", "title"),
    [("es", TITLES["es"]), ("zh_Hans", TITLES["zh"]), ("ko", TITLES["ko"]), ("vi", TITLES["en"])],
)
def test_the_summary_is_the_title_in_the_reader_s_language(language: str, title: str) -> None:
    summary = unescape(properties(ics(language))["SUMMARY"])
    assert summary == f"{title} — Kern County Board of Supervisors"


def test_traditional_chinese_readers_get_the_zh_title_converted() -> None:
    summary = unescape(properties(ics("zh_Hant"))["SUMMARY"])
    assert summary.startswith("關於縣移民服務資金的公") and "关于" not in summary


@pytest.mark.parametrize("language", ["en", "es", "zh_Hans", "zh_Hant", "ko", "vi", "tl"])
def test_every_line_is_at_most_75_octets_and_no_character_is_cut(language: str) -> None:
    where = "서울특별시 중구 세종대로 110, 시청 본관 3층 대회의실 (엘리베이터 이용 가능)"
    text = ics(language, location=where)
    lines = text.split("\r\n")
    assert any(line.startswith(" ") for line in lines), "something long enough to fold"
    for line in lines:
        assert len(line.encode("utf-8")) <= LINE_OCTETS
    # Each physical line is whole UTF-8 by itself: a calendar may decode line by line.
    for raw in text.encode("utf-8").split(b"\r\n"):
        raw.decode("utf-8")
    assert unescape(properties(text)["LOCATION"]).startswith("서울특별시 중구 세종대로 110, 시청 본관")


# One to four octets a character: ASCII-heavy lines fill a line to the octet, the rest test the cuts.
# No CR or LF: what is folded is an escaped content line.
OCTETS = st.one_of(
    st.characters(codec="ascii"), st.sampled_from("éñ가關😀"), st.characters(codec="utf-8")
).filter(lambda char: char not in "\r\n")


@given(st.text(alphabet=OCTETS, min_size=70, max_size=400))
def test_folding_keeps_every_character_and_each_line_within_75_octets(value: str) -> None:
    folded = fold(f"SUMMARY:{value}")
    assert folded.replace("\r\n ", "") == f"SUMMARY:{value}"
    lines = folded.split("\r\n")
    assert all(len(line.encode()) <= LINE_OCTETS for line in lines)
    assert all(line.startswith(" ") and len(line) > 1 for line in lines[1:]), "no empty continuation line"


def test_a_long_line_is_cut_at_exactly_75_octets_the_leading_space_included() -> None:
    folded = fold("DESCRIPTION:" + "x" * 200).split("\r\n")
    assert [len(line) for line in folded] == [75, 75, 64]
    assert folded[1] == " " + "x" * 74
    # A 3-octet character that would cross the 75th octet starts the next line instead.
    korean = fold("SUMMARY:" + "가" * 30).split("\r\n")
    assert [len(line.encode()) for line in korean] == [8 + 22 * 3, 1 + 8 * 3]


def test_text_is_escaped() -> None:
    title = {"en": "Budget; housing, schools\\parks\nsecond line\r\nthird"}
    found = properties(ics(title=title, body="Council", location="Room 1; 2nd floor, City Hall"))
    assert found["SUMMARY"] == "Budget\\; housing\\, schools\\\\parks\\nsecond line\\nthird — Council"
    assert found["LOCATION"] == "Room 1\\; 2nd floor\\, City Hall"
    assert unescape(found["SUMMARY"]) == "Budget; housing, schools\\parks\nsecond line\nthird — Council"


def test_control_characters_are_dropped() -> None:
    found = properties(ics(location="Room\x00 1\x1b\t(east)"))
    assert found["LOCATION"] == "Room 1\t(east)"


def test_a_hearing_without_a_location_has_no_location_line() -> None:
    assert "LOCATION" not in properties(ics(location=None))


def test_a_cancelled_hearing_says_so_and_outranks_the_scheduled_one() -> None:
    scheduled = properties(ics())
    cancelled = properties(ics(status="cancelled"))
    assert cancelled["STATUS"] == "CANCELLED"
    assert cancelled["UID"] == scheduled["UID"]
    assert int(cancelled["SEQUENCE"]) > int(scheduled["SEQUENCE"])


def test_a_hearing_moved_later_gets_a_higher_sequence() -> None:
    first = datetime(2025, 3, 11, 18, 0, tzinfo=LA)
    assert sequence(first + timedelta(minutes=30), False) > sequence(first, True) > sequence(first, False)
    moved = properties(ics(starts_at=first + timedelta(days=7)))
    assert int(moved["SEQUENCE"]) > int(properties(ics())["SEQUENCE"])
    assert 0 < sequence(datetime(2400, 1, 1, tzinfo=UTC), True) < 2**31


def test_without_a_public_base_url_there_is_no_url() -> None:
    assert "URL" not in properties(ics(base_url=""))


def test_hearing_links() -> None:
    assert hearing_link("", "hearing-kern-bos", "es") is None
    assert hearing_link(BASE, "hearing-kern-bos", "en") == f"{BASE}/hearings/hearing-kern-bos.ics"
    assert hearing_link(BASE + "/", "h-1", "es") == f"{BASE}/hearings/h-1.ics?lang=es"
    assert hearing_link(BASE, "h_1", "zh_Hant") == f"{BASE}/hearings/h_1.ics?lang=zh_Hant"
