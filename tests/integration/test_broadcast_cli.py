"""`puente broadcast send|status|cancel` and `puente reminders run|list`, as a coordinator types them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from puente.broadcasts.models import Broadcast, Delivery, OutboxMessage
from puente.cli import cli
from puente.config import PROJECT_ROOT
from puente.db import Database
from puente.directory.store import import_directory, load_file
from puente.migrate import upgrade

CSV = """phone,language,jurisdiction,topics,channel,consent_at,consent_source
+18055550157,es,ca-san-jose,hearings;mobilization,sms,2026-11-01T10:00:00-08:00,tabling
+18055550158,zh_Hant,ca-san-jose,hearings,sms,2026-11-01T10:00:00-08:00,tabling
+18055550159,ko,ca-santa-clara-county,hearings,sms,2026-11-01T10:00:00-08:00,tabling
+18055550164,vi,ca-fresno,hearings,sms,2026-11-01T10:00:00-08:00,tabling
"""


class Coordinator:
    def __init__(self, env: dict[str, str], database: Database) -> None:
        self.env, self.database, self.runner = env, database, CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(cli, list(args), env=self.env)


@pytest.fixture
def puente(database_url: str, tmp_path: Path) -> Iterator[Coordinator]:
    upgrade(database_url)
    database = Database(database_url)
    with database.session(None) as session:
        import_directory(session, load_file(PROJECT_ROOT / "data" / "directory.yaml"))
    env = {
        "DATABASE_URL": database_url,
        "PUENTE_ENV_FILE": str(tmp_path / "none"),
        "PUENTE_SECRET_KEY": secrets.token_urlsafe(48),
        "TWILIO_AUTH_TOKEN": "t",
        "PUENTE_VAR_DIR": str(tmp_path / "var"),
        "QUIET_HOURS": "off",
        "TWILIO_SEND_RATE": "1",
    }
    people = tmp_path / "people.csv"
    people.write_text(CSV)
    coordinator = Coordinator(env, database)
    assert coordinator("subscribers", "import", str(people)).exit_code == 0
    yield coordinator
    database.dispose()


SEND = [
    "broadcast",
    "send",
    "--topic",
    "hearings",
    "--jurisdiction",
    "ca-san-jose",
    "--message",
    "Board of Supervisors votes Tuesday 9 am",
    "--translation",
    "es=La Junta vota el martes",
    "--translation",
    "zh=县议会周二投票",
]


def test_a_dry_run_prints_recipients_segments_and_time_and_queues_nothing(puente: Coordinator) -> None:
    result = puente(*SEND, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == ["Dry run: nothing queued.", "3 recipients"]  # San José and its county, not Fresno
    assert any(line.split()[:5] == ["es", "1", "0", "1", "GSM-7"] for line in lines)
    assert any(line.split()[:5] == ["zh_Hant", "1", "0", "1", "UCS-2"] for line in lines)
    assert any(line.split()[0] == "ko" and "gets the en text" in line for line in lines)
    assert "Segments: 3; at 1 segments/s about 3 s; cost about $0.02" in result.output
    with puente.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0


def test_send_prints_the_id_then_the_count_and_status_and_cancel_follow_it(puente: Coordinator) -> None:
    sent = puente(*SEND, "--at", "2030-01-07T09:00:00-08:00")
    assert sent.exit_code == 0, sent.output
    first, second = sent.output.splitlines()[:2]
    assert first.startswith("Broadcast ") and second == "3 recipients"
    assert "no worker is running (no heartbeat): start one with `puente worker`" in sent.output
    broadcast_id = first.split()[1]
    status = puente("broadcast", "status", broadcast_id)
    assert status.exit_code == 0 and ", scheduled; 3 recipients" in status.output.splitlines()[0]
    cancelled = puente("broadcast", "cancel", broadcast_id)
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    again = puente("broadcast", "cancel", broadcast_id)
    assert again.exit_code == 1 and f"broadcast {broadcast_id} is already cancelled" in again.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--topic", "parties"], "--topic 'parties' is not a topic"),
        (["--jurisdiction", "atlantis"], "--jurisdiction 'atlantis' is no place in the directory"),
        (["--translation", "fr=Bonjour"], "'fr' is not a language code"),
        (["--translation", "es"], "write LANG=TEXT"),
        (["--at", "tomorrow"], "is not an ISO 8601 time"),
        (["--at", "2030-01-07T09:00"], "give a time zone offset"),
        (["--rsvp", "0"], "--rsvp HOURS must be between 0 and 720"),
    ],
)
def test_a_bad_option_is_refused_in_one_line_and_nothing_is_queued(
    puente: Coordinator, args: list[str], said: str
) -> None:
    # A repeated option: the last one given counts (click), so each case overrides the base.
    argv = ["broadcast", "send", "--topic", "hearings", "--message", "Hello", *args]
    result = puente(*argv)
    assert result.exit_code != 0
    assert said in result.output
    with puente.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Broadcast)) == 0


def test_a_test_send_goes_to_that_number_only_and_without_credentials_to_the_outbox(
    puente: Coordinator,
) -> None:
    result = puente(*SEND, "--language", "es", "--test-to", "+18055550165")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        "1 recipients (test)",
        "Test message: kept in the outbox (no Twilio credentials), in es, 1 segments",
    ]
    with puente.database.session() as session:
        [kept] = session.scalars(select(OutboxMessage)).all()
        assert kept.to_last_digits == "0165" and kept.contact_id is None
        assert kept.body == "La Junta vota el martes\nResponde PARAR para salir."
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_reminders_run_twice_sends_once_and_list_shows_the_schedule(puente: Coordinator) -> None:
    first = puente("reminders", "run", "--now", "2026-12-07T10:00:00-08:00")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("reminders: 1 due")  # Kern's P1D, the day before its hearing
    second = puente("reminders", "run", "--now", "2026-12-07T10:05:00-08:00")
    assert second.exit_code == 0 and second.output.startswith("reminders: 0 due, 0 notices")
    listed = puente("reminders", "list")
    assert "hearing-kern-bos-sample: Kern County Board of Supervisors, 2026-12-08 09:00 PST" in listed.output
