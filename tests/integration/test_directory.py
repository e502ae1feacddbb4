"""`puente directory import/export` on SQLite and PostgreSQL: all or nothing, idempotent, live."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from puente.cli import cli
from puente.db import Database
from puente.directory.answers import Directory
from puente.directory.models import Jurisdiction, Policy
from puente.directory.places import PlaceCache
from puente.directory.schema import DirectoryError
from puente.directory.store import export_directory, import_directory, load_file
from puente.migrate import upgrade

FIXTURE = Path(__file__).parent.parent / "fixtures" / "places.yaml"


def fixture_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    return data


def count(db: Database, model: Any) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_import_is_idempotent_and_export_round_trips(database: Database) -> None:
    with database.session() as session:
        first = import_directory(session, fixture_data())
    assert first.counts["jurisdictions"].added == 14 and first.revision == 1
    with database.session() as session:
        again = import_directory(session, fixture_data())
        exported = export_directory(session)
    assert not again.changed_anything and again.revision == 1
    assert again.counts["jurisdictions"].unchanged == 14
    with database.session() as session:
        round_trip = import_directory(session, yaml.safe_load(exported), prune=True)
    assert not round_trip.changed_anything


def test_a_bad_file_changes_nothing_and_names_record_and_field(database: Database) -> None:
    with database.session() as session:
        import_directory(session, fixture_data())
    data = fixture_data()
    data["jurisdictions"].append({"id": "ca-merced", "name": "Merced", "kind": "city", "within": "ca"})
    data["policies"][0]["status"] = "approved"
    with pytest.raises(DirectoryError) as error, database.session() as session:
        import_directory(session, data)
    assert error.value.problems == [
        "policies[0] (id 'policy-test-kern-welcoming'): field 'status': 'approved' is not one of "
        "adopted, proposed, rejected, repealed"
    ]
    assert count(database, Jurisdiction) == 14  # Merced, valid itself, was not written either


def test_records_absent_from_the_file_are_kept_unless_pruned(database: Database) -> None:
    with database.session() as session:
        import_directory(session, fixture_data())
    only_state = {"jurisdictions": [fixture_data()["jurisdictions"][0]]}
    with database.session() as session:
        kept = import_directory(session, only_state)
    assert count(database, Jurisdiction) == 14 and kept.counts["jurisdictions"].removed == 0
    with database.session() as session:
        pruned = import_directory(session, only_state, prune=True)
    assert count(database, Jurisdiction) == 1 and count(database, Policy) == 0
    assert pruned.counts["jurisdictions"].removed == 13


def test_a_file_may_refer_to_places_already_in_the_directory(database: Database) -> None:
    with database.session() as session:
        import_directory(session, fixture_data())
    policies_only = {"policies": [fixture_data()["policies"][0] | {"id": "policy-more", "status": "adopted"}]}
    with database.session() as session:
        report = import_directory(session, policies_only)
    assert report.counts["policies"].added == 1


def test_a_status_change_suggests_a_broadcast_and_sends_nothing(database: Database) -> None:
    with database.session() as session:
        import_directory(session, fixture_data())
    data = fixture_data()
    data["policies"][0]["status"] = "adopted"
    with database.session() as session:
        report = import_directory(session, data)
    assert report.status_changes == [("policy-test-kern-welcoming", "ca-kern-county", "proposed", "adopted")]
    assert any("puente broadcast send --topic policy_updates --jurisdiction ca-kern-county" in line
               for line in report.lines())


def test_running_services_see_an_import_within_the_recheck_interval(database: Database) -> None:
    cache = PlaceCache(database, recheck=0.5)
    assert cache.index().resolve("clinics in Merced?") is None
    data = fixture_data()
    data["jurisdictions"].append({"id": "ca-merced", "name": "Merced", "kind": "city", "within": "ca"})
    with database.session() as session:
        import_directory(session, data)
    deadline = time.monotonic() + 5
    while (place := cache.index().resolve("clinics in Merced?")) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert place is not None and place.jurisdiction_id == "ca-merced"


def test_answers_walk_up_and_down_the_within_chain(database: Database) -> None:
    with database.session() as session:
        import_directory(session, fixture_data())
    with database.session() as session:
        directory = Directory(session)
        # Bakersfield has no policy of its own: its county's.
        [found] = directory.policies("ca-bakersfield")
        assert (found.jurisdiction.id, found.relation) == ("ca-kern-county", "above")
        # Fresno (the city) has no district of its own in the file: the county's districts.
        [clinics] = directory.clinics("ca-fresno")
        assert clinics.jurisdiction.id == "ca-fresno-unified"
        assert [c.id for c in clinics.records] == ["clinic-fresno-roosevelt-test"]
        # Coalitions serving Kern County serve the places within it.
        serving = [c.id for f in directory.coalitions("ca-kern-hsd") for c in f.records]
        assert serving == ["coalition-kern-test"]
        lines = [c.rapid_response_phone for c in directory.rapid_response("ca-bakersfield")]
        assert lines == ["+16615550124"]
        assert directory.policies("ca-santa-rosa") == []  # no record: never "no policy"


def test_the_cli_imports_exports_and_reports_a_bad_file(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "PUENTE_ENV_FILE": str(tmp_path / "none")}
    imported = runner.invoke(cli, ["directory", "import", str(FIXTURE)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "jurisdictions: 14 added" in imported.output
    exported = runner.invoke(cli, ["directory", "export"], env=env)
    assert yaml.safe_load(exported.output)["jurisdictions"][0]["id"] == "ca"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\npolicies:\n- {id: p, jurisdiction: ca, kind: other, status: adopted, "
                   "title: t, summary: {en: s}, source_url: 'https://example.org', "
                   "verified_on: 2026-13-01}\n")
    refused = runner.invoke(cli, ["directory", "import", str(bad)], env=env)
    assert refused.exit_code == 1
    assert "policies[0] (id 'p'): field 'verified_on': '2026-13-01' is not a date" in refused.output
    assert load_file(bad)["policies"][0]["verified_on"] == "2026-13-01"


def test_a_kind_with_no_record_is_said_so_and_the_places_own_policies_follow(database: Database) -> None:
    from babel import Locale

    from puente.directory.replies import Reader, policy_answer
    from puente.i18n import registry

    with database.session() as session:
        import_directory(session, fixture_data())
    reader = Reader("en", registry().translations("en").gettext, Locale.parse("en_US"))
    with database.session() as session:
        answer = policy_answer(reader, Directory(session), "ca-kern-county", ["law_enforcement_policy"])
        nothing = policy_answer(reader, Directory(session), "ca-santa-rosa", [])
    assert answer.startswith("I have no record of a law-enforcement policy in Kern County.\nKern County:\n")
    assert "Test fixture: welcoming resolution (welcoming resolution): proposed." in answer
    assert "verified Nov 28, 2026" in answer and "https://example.org/fixture" in answer
    assert "I have no record of a policy in Santa Rosa." in nothing  # never "it has no policy"
