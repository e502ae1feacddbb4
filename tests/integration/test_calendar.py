"""`GET /hearings/<id>.ics`: a hearing from the database as a calendar file, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from puente.directory.store import import_directory
from tests.integration.conftest import Line

KERN_BOARD = "Kern County Board of Supervisors"
DIRECTORY: dict[str, Any] = {
    "jurisdictions": [
        {"id": "ca", "name": "California", "kind": "state"},
        {"id": "ca-kern-county", "name": "Kern County", "kind": "county", "within": "ca"},
        {"id": "hi-honolulu", "name": "Honolulu", "kind": "city", "timezone": "Pacific/Honolulu"},
    ],
    "hearings": [
        {"id": "hearing-kern-bos", "jurisdiction": "ca-kern-county", "body": KERN_BOARD,
         "title": {"en": "Public comment on immigrant-services funding",
                   "es": "Comentario público sobre fondos para servicios a inmigrantes",
                   "zh": "关于移民服务资金的公众意见"},
         "starts_at": "2027-03-16T18:00:00-07:00", "location": "1115 Truxtun Avenue, Bakersfield",
         "topics": ["hearings"]},
        {"id": "hearing-kern-cancelled", "jurisdiction": "ca-kern-county", "body": KERN_BOARD,
         "title": {"en": "Budget workshop"}, "starts_at": "2027-01-12T09:00:00-08:00",
         "topics": ["hearings"], "status": "cancelled"},
        {"id": "hearing-honolulu", "jurisdiction": "hi-honolulu", "body": "Honolulu City Council",
         "title": {"en": "Language access"}, "starts_at": "2027-03-16T15:00:00-10:00",
         "topics": ["hearings"]},
    ],
}


@pytest.fixture
def calendar(line: Line) -> Line:
    with line.app.extensions["puente"].database.session() as session:
        import_directory(session, DIRECTORY)
    return line.restarted(public_base_url="https://puente.example.org")


def unfolded(body: str) -> str:
    return body.replace("\r\n ", "")


def test_a_hearing_is_served_as_a_calendar_file_in_the_reader_s_language(calendar: Line) -> None:
    response = calendar.client.get("/hearings/hearing-kern-bos.ics?lang=es")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="hearing-kern-bos.ics"'
    body = response.get_data(as_text=True)
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    text = unfolded(body)
    assert "UID:hearing-hearing-kern-bos@puente\r\n" in text
    assert f"SUMMARY:Comentario público sobre fondos para servicios a inmigrantes — {KERN_BOARD}" in text
    # 6 pm PDT, stored in UTC by the import and served in UTC.
    assert "DTSTART:20270317T010000Z\r\n" in text
    assert "LOCATION:1115 Truxtun Avenue\\, Bakersfield\r\n" in text
    assert "URL:https://puente.example.org/hearings/hearing-kern-bos.ics?lang=es\r\n" in text
    assert "STATUS:CONFIRMED\r\n" in text


def test_the_place_s_own_time_zone_is_read_from_the_directory(calendar: Line) -> None:
    text = unfolded(calendar.client.get("/hearings/hearing-honolulu.ics").get_data(as_text=True))
    assert "DTSTART:20270317T010000Z\r\n" in text
    assert "3:00:00" in text and "Hawaii" in text  # the description gives the time in Honolulu


def test_a_language_puente_does_not_speak_is_english(calendar: Line) -> None:
    for query in ("?lang=fr", "?lang=", "?lang=ES", "?lang=zh", ""):
        text = unfolded(calendar.client.get(f"/hearings/hearing-kern-bos.ics{query}").get_data(as_text=True))
        assert "SUMMARY:Public comment on immigrant-services funding — Kern" in text, query
    traditional = calendar.client.get("/hearings/hearing-kern-bos.ics?lang=zh_Hant").get_data(as_text=True)
    assert "SUMMARY:關於移民服務資金的公" in unfolded(traditional)


def test_a_cancelled_hearing_is_served_cancelled(calendar: Line) -> None:
    response = calendar.client.get("/hearings/hearing-kern-cancelled.ics")
    assert response.status_code == 200
    assert "STATUS:CANCELLED\r\n" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/hearings/hearing-nowhere.ics", "/hearings/HEARING-KERN-BOS.ics", "/hearings/a%27b.ics",
             "/hearings/" + "x" * 300 + ".ics", "/hearings/hearing-kern-bos.ical"],
)
def test_an_unknown_hearing_is_a_bare_404(calendar: Line, path: str) -> None:
    response = calendar.client.get(path)
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "hearing" not in body.lower() and "Traceback" not in body


def test_without_a_public_base_url_the_file_has_no_url(line: Line) -> None:
    with line.app.extensions["puente"].database.session() as session:
        import_directory(session, DIRECTORY)
    text = unfolded(line.client.get("/hearings/hearing-kern-bos.ics").get_data(as_text=True))
    assert "DTSTART:20270317T010000Z" in text and "URL:" not in text


def test_a_database_that_does_not_answer_is_a_503_to_try_again(line: Line) -> None:
    down = line.restarted(database_url="postgresql+psycopg://puente@127.0.0.1:9/puente")  # nothing listens
    response = down.client.get("/hearings/hearing-kern-bos.ics")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert "Traceback" not in response.get_data(as_text=True)
