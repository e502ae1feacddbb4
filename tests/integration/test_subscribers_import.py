"""`puente subscribers import FILE.csv` on SQLite and PostgreSQL.

Fictional numbers only (555-01xx), none of those the sample directory uses.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from puente.alerts.importer import SubscriberImport
from puente.alerts.models import ConsentRecord, Subscription, Suppression
from puente.cli import cli
from puente.db import Database
from puente.directory.store import import_directory
from puente.i18n import registry
from puente.models import Contact
from puente.privacy import Vault, new_pseudonym
from tests.integration.conftest import utc

FIXTURE = Path(__file__).parent.parent / "fixtures" / "places.yaml"
HEADER = "phone,language,jurisdiction,topics,channel,consent_at,consent_source\n"

# As a coalition's spreadsheet writes them, and as Puente stores them (E.164).
ANA, ANA_E164 = "(213) 555-0103", "+12135550103"
BAO, BAO_E164 = "+1 213 555 0104", "+12135550104"
CRUZ, CRUZ_E164 = "213.555.0105", "+12135550105"
DUNG, DUNG_E164 = "2135550106", "+12135550106"
EVA_E164 = "+12135550107"
FELIX_E164 = "+12135550108"


class Importer:
    """The CLI on one migrated database with the test directory loaded."""

    def __init__(self, database: Database, tmp_path: Path) -> None:
        self.database = database
        self.tmp_path = tmp_path
        self.secret = secrets.token_urlsafe(48)
        self.vault = Vault(self.secret.encode())
        with database.session() as session:
            import_directory(session, yaml.safe_load(FIXTURE.read_text()))

    def run(self, text: str, name: str = "people.csv", raw: bytes | None = None) -> Result:
        path = self.tmp_path / name
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text(text, encoding="utf-8")
        env = {"DATABASE_URL": self.database.url, "PUENTE_SECRET_KEY": self.secret,
               "PUENTE_ENV_FILE": str(self.tmp_path / "none"), "PUENTE_VAR_DIR": str(self.tmp_path / "var")}
        return CliRunner().invoke(cli, ["subscribers", "import", str(path)], env=env)

    def counts(self) -> tuple[int, int, int]:
        with self.database.session() as session:
            return tuple(  # type: ignore[return-value]
                int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Contact, Subscription, ConsentRecord))

    def contact(self, phone: str) -> Contact | None:
        with self.database.session() as session:
            found = select(Contact).where(Contact.phone_hash == self.vault.phone_hash(phone))
            return session.scalars(found).first()

    def subscriptions(self, phone: str) -> dict[str, tuple[str, str, str]]:
        contact = self.contact(phone)
        assert contact is not None
        with self.database.session() as session:
            rows = session.scalars(select(Subscription).where(Subscription.contact_id == contact.id))
            return {s.topic: (s.jurisdiction_id, s.channel, s.language) for s in rows}

    def consents(self, phone: str) -> list[ConsentRecord]:
        contact = self.contact(phone)
        assert contact is not None
        with self.database.session() as session:
            return list(session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)
                                        .order_by(ConsentRecord.id)))

    def add_contact(self, phone: str, **fields: Any) -> None:
        values: dict[str, Any] = {"language": "en", "language_source": "detected", "channel": "sms",
                                  "created_at": datetime(2025, 1, 1, tzinfo=UTC)}
        values.update(fields)
        with self.database.session() as session:
            session.add(Contact(phone_hash=self.vault.phone_hash(phone),
                                phone_encrypted=self.vault.encrypt(phone),
                                pseudonym=new_pseudonym(), **values))


@pytest.fixture
def importer(database: Database, tmp_path: Path) -> Importer:
    return Importer(database, tmp_path)


def lines_of(result: Result) -> list[str]:
    return result.output.splitlines()


def test_valid_rows_are_imported_with_their_consent_records(importer: Importer) -> None:
    result = importer.run(
        HEADER
        + f"{ANA},es,ca-bakersfield,hearings;clinics,sms,2025-03-01T10:00:00-08:00,"
        + "Kern Coalition sign-up sheet\n"
        + f"{BAO},zh,ca-kern-county,policy_updates,whatsapp,2025-03-02,Kern Coalition tabling\n"
        + f"{CRUZ},zh_Hant,ca-modesto, Mobilization ; hearings ,SMS,2025-03-03T12:00:00Z,Modesto list\n"
    )
    assert result.exit_code == 0, result.output
    assert "imported: 3 (3 new contacts)" in lines_of(result)
    assert "refused: 0" in lines_of(result)
    assert importer.counts() == (3, 5, 3)

    ana = importer.contact(ANA_E164)
    assert ana is not None and ana.phone_encrypted is not None
    assert importer.vault.decrypt(ana.phone_encrypted) == ANA_E164  # stored as E.164
    assert (ana.language, ana.language_source, ana.channel, ana.opted_out_at) == (
        "es", "imported", "sms", None)
    assert importer.subscriptions(ANA_E164) == {
        "hearings": ("ca-bakersfield", "sms", "es"), "clinics": ("ca-bakersfield", "sms", "es")}
    [consent] = importer.consents(ANA_E164)
    assert (consent.action, consent.source, consent.text, consent.topics, consent.jurisdiction_id,
            consent.channel, consent.language) == (
        "import", "Kern Coalition sign-up sheet", None, ["hearings", "clinics"], "ca-bakersfield", "sms",
        "es")
    assert utc(consent.recorded_at) == datetime(2025, 3, 1, 18, 0, tzinfo=UTC)  # the row's time, in UTC

    assert importer.subscriptions(BAO_E164) == {"policy_updates": ("ca-kern-county", "whatsapp", "zh_Hans")}
    [bao] = importer.consents(BAO_E164)
    assert utc(bao.recorded_at) == datetime(2025, 3, 2, tzinfo=UTC)  # no offset: UTC
    assert importer.subscriptions(CRUZ_E164) == {
        "hearings": ("ca-modesto", "sms", "zh_Hant"), "mobilization": ("ca-modesto", "sms", "zh_Hant")}


def test_each_refusal_is_counted_and_named_by_row_and_column_never_by_number(
    importer: Importer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rows = [
        f"{ANA},es,ca-bakersfield,hearings,sms,,Kern Coalition",  # 2: no consent_at
        f"{BAO},es,ca-bakersfield,hearings,sms,2025-03-01,",  # 3: no consent_source
        f"{CRUZ},es,ca-bakersfield,hearings,sms,March 1st,Kern Coalition",  # 4: consent_at not ISO 8601
        "213555010,es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition",  # 5: too short
        f"{DUNG},fr,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition",  # 6: language
        f"{EVA_E164},es,Merced,hearings,sms,2025-03-01,Kern Coalition",  # 7: not in the directory
        f"{FELIX_E164},es,ca-bakersfield,hearings;all,sms,2025-03-01,Kern Coalition",  # 8: topic
        f"{ANA},es,ca-bakersfield,hearings,fax,2025-03-01,Kern Coalition",  # 9: channel
        f"{BAO},es,ca-bakersfield,hearings,sms",  # 10: too few fields
        f"{CRUZ},{DUNG},ca-bakersfield,,sms,2025-03-01,Kern Coalition",  # 11: a number in the wrong column
        f"{DUNG},es,ca-bakersfield,hearings,sms,2999-01-01,Kern Coalition",  # 12: consent in the future
    ]
    result = importer.run(HEADER + "\n".join(rows) + "\n")
    assert result.exit_code == 0, result.output  # refused rows are reported, not an error
    out = result.output
    for row, column in [(2, "consent_at"), (3, "consent_source"), (4, "consent_at"), (5, "phone"),
                        (6, "language"), (7, "jurisdiction"), (8, "topics"), (9, "channel"),
                        (11, "language"), (11, "topics"), (12, "consent_at")]:
        assert f"people.csv: row {row}: " in out and f"row {row}: " in out
        assert any(line.startswith("puente: ") and f"people.csv: row {row}: " in line
                   and f"{column}: " in line for line in lines_of(result)), (row, column)
    assert "people.csv: row 10: a different number of fields than the header" in out
    assert "'fr' is not one of en, es, ko, tl, vi, zh, zh_Hans, zh_Hant" in out
    assert "'all' not among hearings, mobilization, policy_updates, clinics" in out
    assert "refused: 11 (wrong number of fields 1, no consent 2, consent_at not a valid time 2, " \
           "invalid phone number 1, unknown language 2, unknown or ambiguous jurisdiction 1, " \
           "unknown or missing topic 2, unknown channel 1): a row may be refused for several reasons" in out
    assert "imported: 0 (0 new contacts)" in out
    for phone in (ANA, BAO, CRUZ, DUNG, EVA_E164, FELIX_E164, "213555010"):
        digits = "".join(ch for ch in phone if ch.isdigit())
        for form in {phone, digits, digits[-7:], "+1" + digits[-10:]}:
            assert form not in out, form
            assert form not in caplog.text, form
    assert importer.counts() == (0, 0, 0)


def test_suppressed_numbers_are_skipped(importer: Importer) -> None:
    with importer.database.session() as session:
        session.add(Suppression(phone_hash=importer.vault.phone_hash(ANA_E164),
                                phone_encrypted=importer.vault.encrypt(ANA_E164)))
    result = importer.run(HEADER + f"{ANA},es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n"
                          + f"{BAO},es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n")
    assert result.exit_code == 0, result.output
    assert "skipped: 1 (suppressed (erased at their request) 1)" in lines_of(result)
    assert "imported: 1 (1 new contacts)" in lines_of(result)
    assert importer.contact(ANA_E164) is None
    assert importer.counts() == (1, 1, 1)


def test_someone_who_texted_stop_stays_opted_out(importer: Importer) -> None:
    stopped = datetime(2025, 2, 1, tzinfo=UTC)
    importer.add_contact(ANA_E164, opted_out_at=stopped)
    result = importer.run(HEADER + f"{ANA},es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n")
    assert result.exit_code == 0, result.output
    assert "skipped: 1 (opted out (texted STOP) 1)" in lines_of(result)
    contact = importer.contact(ANA_E164)
    assert contact is not None and utc(contact.opted_out_at) == stopped
    assert importer.subscriptions(ANA_E164) == {}
    assert importer.counts() == (1, 0, 0)


@pytest.mark.parametrize("batch_size", [1000, 1])
def test_a_number_listed_twice_gets_the_union_of_topics_and_its_first_place(
    importer: Importer, batch_size: int
) -> None:
    path = importer.tmp_path / "twice.csv"
    path.write_text(HEADER + f"{ANA},es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n"
                    + f"{BAO},en,ca-modesto,clinics,sms,2025-03-01,Modesto list\n"
                    + f"{ANA_E164},en,ca-modesto,clinics;hearings,whatsapp,2025-03-05,Modesto list\n")
    report = SubscriberImport(importer.database, importer.vault, languages=registry().codes,
                              batch_size=batch_size).run(path)
    assert (report.rows, report.imported, report.new_contacts, report.unchanged) == (3, 3, 2, 0)
    assert importer.subscriptions(ANA_E164) == {
        "hearings": ("ca-bakersfield", "sms", "es"), "clinics": ("ca-bakersfield", "sms", "es")}
    # Each row is the consent it records, as the coalition gave it.
    assert [(c.topics, c.jurisdiction_id, c.source) for c in importer.consents(ANA_E164)] == [
        (["hearings"], "ca-bakersfield", "Kern Coalition"),
        (["hearings", "clinics"], "ca-modesto", "Modesto list")]
    assert importer.counts() == (2, 3, 3)


def test_importing_the_same_file_again_changes_nothing(importer: Importer) -> None:
    text = (HEADER + f"{ANA},es,ca-bakersfield,hearings;clinics,sms,2025-03-01,Kern Coalition\n"
            + f"{BAO},vi,ca-kern-county,mobilization,whatsapp,2025-03-01,Kern Coalition\n"
            + f"{ANA},es,ca-bakersfield,policy_updates,sms,2025-03-02,Kern Coalition\n"
            + f"{CRUZ},fr,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n")
    first = importer.run(text)
    assert first.exit_code == 0, first.output
    assert "imported: 3 (2 new contacts)" in lines_of(first)
    before = importer.counts()
    assert before == (2, 4, 3)
    again = importer.run(text)
    assert again.exit_code == 0, again.output
    assert "imported: 0 (0 new contacts)" in lines_of(again)
    assert "unchanged: 3 (already subscribed to those topics)" in lines_of(again)
    assert importer.counts() == before


def test_a_name_that_resolves_to_one_place_works_and_an_ambiguous_one_is_refused(importer: Importer) -> None:
    result = importer.run(
        HEADER + f"{ANA},es,Bakersfield,hearings,sms,2025-03-01,Kern Coalition\n"
        + f"{BAO},es,condado de sonoma,hearings,sms,2025-03-01,Sonoma list\n"
        + f"{CRUZ},zh,莫德斯托,hearings,sms,2025-03-01,Modesto list\n"
        + f"{DUNG},es,Kern,hearings,sms,2025-03-01,Kern list\n"
        + f"{EVA_E164},es,fresno,hearings,sms,2025-03-01,Fresno list\n"
    )
    assert result.exit_code == 0, result.output
    assert importer.subscriptions(ANA_E164) == {"hearings": ("ca-bakersfield", "sms", "es")}
    assert importer.subscriptions(BAO_E164) == {"hearings": ("ca-sonoma-county", "sms", "es")}
    assert importer.subscriptions(CRUZ_E164) == {"hearings": ("ca-modesto", "sms", "zh_Hans")}
    # The city's own name, though "Fresno" is short for Fresno County too.
    assert importer.subscriptions(EVA_E164) == {"hearings": ("ca-fresno", "sms", "es")}
    # Short for Kern County and for Kern High School District alike.
    assert ("people.csv: row 5: jurisdiction: 'Kern' names 2 places "
            "(ca-kern-county, ca-kern-hsd): give the id") in result.output
    assert importer.contact(DUNG_E164) is None


def test_a_person_keeps_the_language_they_chose_and_their_own_later_choice(importer: Importer) -> None:
    importer.add_contact(ANA_E164, language="vi", language_source="chosen")
    importer.add_contact(BAO_E164, language="es", language_source="detected")
    importer.add_contact(CRUZ_E164, language="es")
    cruz = importer.contact(CRUZ_E164)
    assert cruz is not None
    with importer.database.session() as session:  # Cruz left clinics by text on March 10
        session.add(ConsentRecord(contact_id=cruz.id, action="leave",
                                  recorded_at=datetime(2025, 3, 10, tzinfo=UTC), channel="sms", source="text",
                                  language="es", text=None, topics=["clinics"], jurisdiction_id="ca-modesto"))
    result = importer.run(HEADER + f"{ANA},en,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n"
                          + f"{BAO},en,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n"
                          + f"{CRUZ},es,ca-modesto,clinics,sms,2025-03-01,Modesto list\n"
                          + f"{CRUZ},es,ca-modesto,hearings,sms,2025-03-20,Modesto list\n")
    assert result.exit_code == 0, result.output
    assert importer.subscriptions(ANA_E164) == {"hearings": ("ca-bakersfield", "sms", "vi")}
    ana = importer.contact(ANA_E164)
    assert ana is not None and (ana.language, ana.language_source) == ("vi", "chosen")
    assert importer.subscriptions(BAO_E164) == {"hearings": ("ca-bakersfield", "sms", "en")}
    bao = importer.contact(BAO_E164)
    assert bao is not None and bao.language == "en"  # their alerts follow their language
    assert importer.subscriptions(CRUZ_E164) == {"hearings": ("ca-modesto", "sms", "es")}
    assert "skipped: 1 (chose their alerts by text after the consent date 1)" in lines_of(result)
    assert "imported: 3 (0 new contacts)" in lines_of(result)


def test_a_bad_header_or_an_unreadable_file_is_one_line_and_a_failure(importer: Importer) -> None:
    missing = importer.run("phone,language,jurisdiction,topics,channel,consent_at\n"
                           f"{ANA},es,ca-bakersfield,hearings,sms,2025-03-01\n")
    assert missing.exit_code == 1
    assert "puente: " in missing.output
    assert ("people.csv: missing column consent_source: the header must name "
            "phone,language,jurisdiction,topics,channel,consent_at,consent_source") in missing.output
    assert ANA not in missing.output
    semicolons = importer.run(HEADER.replace(",", ";"))
    assert semicolons.exit_code == 1 and "(columns must be separated by commas)" in semicolons.output
    empty = importer.run("")
    assert empty.exit_code == 1 and "the file is empty" in empty.output
    latin1 = importer.run("", raw=(HEADER + f"{ANA},es,ca-bakersfield,hearings,sms,2025-03-01,Coalición\n")
                          .encode("latin-1"))
    assert latin1.exit_code == 1 and "row 2 is not UTF-8 text" in latin1.output
    assert importer.counts() == (0, 0, 0)
    # Columns in another order, a byte-order mark, extra columns and blank rows are fine.
    reordered = ("\ufeffconsent_source,consent_at,channel,topics,jurisdiction,language,phone,notes\n"
                 f"Kern Coalition,2025-03-01,sms,hearings,ca-bakersfield,es,{ANA},\n\n")
    other = importer.run("", raw=reordered.encode())
    assert other.exit_code == 0, other.output
    assert "imported: 1 (1 new contacts)" in lines_of(other)


def test_during_a_key_rotation_rows_under_the_previous_key_still_count(importer: Importer) -> None:
    """A suppression entry or a contact that `puente keys rotate` has not reached yet is still
    found: the erased stay skipped, and a known person is moved to the new key, not duplicated."""
    old = importer.vault
    with importer.database.session() as session:
        session.add(Suppression(phone_hash=old.phone_hash(ANA_E164), phone_encrypted=old.encrypt(ANA_E164)))
    importer.add_contact(BAO_E164)
    new_secret = secrets.token_urlsafe(48)
    path = importer.tmp_path / "rotating.csv"
    path.write_text(HEADER + f"{ANA},es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n"
                    + f"{BAO},es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n", encoding="utf-8")
    env = {"DATABASE_URL": importer.database.url, "PUENTE_SECRET_KEY": new_secret,
           "PUENTE_OLD_SECRET_KEY": importer.secret, "PUENTE_ENV_FILE": str(importer.tmp_path / "none")}
    result = CliRunner().invoke(cli, ["subscribers", "import", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "skipped: 1 (suppressed (erased at their request) 1)" in lines_of(result)
    new = Vault(new_secret.encode())
    with importer.database.session() as session:
        [bao] = session.scalars(select(Contact)).all()
        assert bao.phone_hash == new.phone_hash(BAO_E164) and bao.key_id == new.key_id
        assert bao.phone_encrypted is not None and new.decrypt(bao.phone_encrypted) == BAO_E164


def test_a_byte_that_is_not_utf8_stops_at_its_own_row_after_writing_every_row_before(
    importer: Importer,
) -> None:
    # Fictional 555-01xx numbers; the file is read ahead in chunks bigger than these rows.
    rows = "".join(f"+1213555{n:04d},es,ca-bakersfield,hearings,sms,2025-03-01,Kern sheet\n"
                   for n in range(100, 190))
    bad = "+12135550190,es,ca-bakersfield,hearings,sms,2025-03-01,Coalición\n".encode("latin-1")
    result = importer.run("", raw=(HEADER + rows).encode() + bad)
    assert result.exit_code == 1 and "row 92 is not UTF-8 text" in result.output  # header is row 1
    assert importer.counts()[0] == 90  # every row before it, none lost


def test_a_stop_kept_during_an_outage_holds_against_the_list(importer: Importer) -> None:
    """The opt-out spool is applied before the list: someone who texted STOP while the database
    was down is not subscribed by an import that runs before the webhook's next message."""
    from puente.optout_spool import OptOutSpool, SpooledOptOut

    spool = OptOutSpool(importer.tmp_path / "var" / "spool" / "optout")
    spool.add(SpooledOptOut(importer.vault.phone_hash(ANA_E164), "stop", datetime(2025, 4, 1, tzinfo=UTC)))
    result = importer.run(HEADER + f"{ANA},es,ca-bakersfield,hearings,sms,2025-03-01,Kern Coalition\n")
    assert result.exit_code == 0, result.output
    assert "skipped: 1 (opted out (texted STOP) 1)" in lines_of(result)
    contact = importer.contact(ANA_E164)
    assert contact is not None and contact.opted_out_at is not None
    assert importer.subscriptions(ANA_E164) == {}
