"""A new secret key: numbers found under either key while rows move to the new one
(`puente keys rotate`), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import InvalidToken
from sqlalchemy import func, select, update

from puente import contacts
from puente.alerts.erase import suppress
from puente.alerts.models import Suppression
from puente.alerts.subscriptions import is_suppressed, lift_suppression
from puente.cli import cli
from puente.db import Database
from puente.i18n import registry
from puente.keys import rotate
from puente.models import Contact
from puente.optout_spool import OptOutSpool, SpooledOptOut
from puente.privacy import Vault, parse_address
from puente.simulator import new_message_sid
from tests.integration.conftest import Line, utc

# Fictional numbers (555-01xx).
PHONE_A, PHONE_B, PHONE_C = "+12135550103", "+12135550104", "+12135550105"
PEOPLE = [f"+1213555{n:04d}" for n in (106, 107, 108, 109, 110)]
SUPPRESSED = ["+12135550113", "+12135550114", "+12135550115"]
KNOWN_BY_HASH, UNREADABLE = "+12135550116", "+12135550117"
AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)

OLD_KEY, NEW_KEY = secrets.token_urlsafe(48).encode(), secrets.token_urlsafe(48).encode()
OLD = Vault(OLD_KEY)
ROTATING = Vault(NEW_KEY, old_secret_key=OLD_KEY)  # PUENTE_SECRET_KEY new, PUENTE_OLD_SECRET_KEY old


def add_contact(database: Database, vault: Vault, phone: str) -> int:
    with database.session() as session:
        contact, _ = contacts.get_or_create_contact(session, vault, parse_address(phone), "en")
        return contact.id


def test_while_the_old_key_is_set_the_webhook_finds_people_hashed_under_either_key(line: Line) -> None:
    line.text("hello", PHONE_A)
    sender = line.rasa.requests[-1]["sender"]
    line.text("STOP", PHONE_B)
    sid = new_message_sid()
    line.text("one more", PHONE_A, sid=sid)

    rotating = line.restarted(secret_key=secrets.token_urlsafe(48), old_secret_key=line.settings.secret_key)
    # A Twilio retry of a message that arrived under the old key is still a duplicate.
    assert rotating.text("one more", PHONE_A, sid=sid) == (200, [])
    assert rotating.text("hello again", PHONE_A) == (200, ["fake reply in en"])
    assert rotating.rasa.requests[-1]["sender"] == sender  # the same person, not a new contact
    assert rotating.text("hello?", PHONE_B) == (200, [])  # still opted out: their STOP holds

    vault = rotating.app.extensions["puente"].vault
    with rotating.app.extensions["puente"].database.session() as session:
        rows = session.scalars(select(Contact)).all()
        # Each was moved to the new key when they texted: the number was at hand.
        assert len(rows) == 2 and {c.key_id for c in rows} == {vault.key_id}
        assert {c.phone_hash for c in rows} == {vault.phone_hash(PHONE_A), vault.phone_hash(PHONE_B)}
        assert sorted(vault.decrypt(c.phone_encrypted or b"") for c in rows) == [PHONE_A, PHONE_B]


def test_a_spooled_opt_out_finds_a_row_under_either_key(database: Database, tmp_path: Path) -> None:
    add_contact(database, OLD, PHONE_A)  # not rotated yet
    spool = OptOutSpool(tmp_path / "spool")
    # Written during the rotation: the new key's hash, and the old key's beside it.
    current, previous = ROTATING.phone_hashes(PHONE_A)
    spool.add(SpooledOptOut(current, "stop", AT, key_id=ROTATING.key_id, also=(previous,)))
    assert spool.drain(database, registry(), "en", 5.0) == 1
    with database.session() as session:
        [contact] = session.scalars(select(Contact)).all()
        assert utc(contact.opted_out_at) == AT and contact.phone_hash == previous


def test_an_opt_out_spooled_under_the_old_key_alone_still_reaches_a_moved_row(
    database: Database, tmp_path: Path
) -> None:
    """Spooled before the key changed, applied after the person's row moved to the new key:
    the entry holds no number, so it becomes a row of its own until the person is seen again."""
    add_contact(database, ROTATING, PHONE_A)  # already under the new key
    spool = OptOutSpool(tmp_path / "spool")
    spool.add(SpooledOptOut(OLD.phone_hash(PHONE_A), "stop", AT))  # an entry older than key ids
    assert spool.drain(database, registry(), "en", 5.0) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2
    # Their next text finds both rows: the opt-out moves to their own and the other goes.
    with database.session() as session:
        contact, is_new = contacts.get_or_create_contact(session, ROTATING, parse_address(PHONE_A), "en")
        assert not is_new and utc(contact.opted_out_at) == AT
    with database.session() as session:
        [contact] = session.scalars(select(Contact)).all()
        assert contact.phone_hash == ROTATING.phone_hash(PHONE_A) and utc(contact.opted_out_at) == AT


def test_a_suppression_under_the_old_key_still_suppresses_moves_when_renewed_and_lifts(
    database: Database,
) -> None:
    with database.session() as session:
        suppress(session, OLD, PHONE_C)
    with database.session() as session:
        assert is_suppressed(session, *ROTATING.phone_hashes(PHONE_C))
        assert not is_suppressed(session, ROTATING.phone_hash(PHONE_C))  # why the old key's hash is asked
        suppress(session, ROTATING, PHONE_C)  # erased again: the entry moves to the new key
    with database.session() as session:
        [entry] = session.scalars(select(Suppression)).all()
        assert (entry.phone_hash, entry.key_id) == (ROTATING.phone_hash(PHONE_C), ROTATING.key_id)
        assert ROTATING.decrypt(entry.phone_encrypted) == PHONE_C
    with database.session() as session:
        suppress(session, OLD, PHONE_B)
        lift_suppression(session, *ROTATING.phone_hashes(PHONE_B))
        lift_suppression(session, *ROTATING.phone_hashes(PHONE_C))
    with database.session() as session:
        assert session.scalars(select(Suppression)).all() == []


def test_rows_written_now_carry_the_key_id(database: Database) -> None:
    add_contact(database, ROTATING, PHONE_A)
    with database.session() as session:
        contacts.opt_out_by_hash(session, ROTATING.phone_hash(PHONE_B), "en", AT, key_id=ROTATING.key_id)
        suppress(session, ROTATING, PHONE_C)
    with database.session() as session:
        assert {c.key_id for c in session.scalars(select(Contact))} == {ROTATING.key_id}
        assert session.scalars(select(Suppression.key_id)).one() == ROTATING.key_id


# --- the rotation ---------------------------------------------------------------------


def stored_before_rotation(database: Database) -> dict[str, int]:
    """Contacts and suppression entries as Puente kept them under the old key (some rows
    older than key ids), a contact known only by hash, and a number under a third key."""
    ids = {phone: add_contact(database, OLD, phone) for phone in PEOPLE}
    with database.session() as session:
        for phone in SUPPRESSED:
            suppress(session, OLD, phone)
        contacts.opt_out_by_hash(session, OLD.phone_hash(KNOWN_BY_HASH), "es", AT, key_id=OLD.key_id)
        stranger = Vault(secrets.token_urlsafe(48).encode())
        session.add(Contact(phone_hash=stranger.phone_hash(UNREADABLE),
                            phone_encrypted=stranger.encrypt(UNREADABLE), pseudonym="p" + "0" * 32,
                            language="en", key_id=stranger.key_id))
    with database.session() as session:  # rows written before migration 0006: no key id
        session.execute(update(Contact).where(Contact.id == ids[PEOPLE[0]]).values(key_id=None))
        session.execute(update(Suppression).where(Suppression.id == 1).values(key_id=None))
    return ids


def test_rotation_moves_every_readable_number_to_the_new_key_and_the_old_key_reads_none(
    database: Database,
) -> None:
    ids = stored_before_rotation(database)
    report = rotate(database, ROTATING, batch_size=2)
    assert report.finished and report.key_id == ROTATING.key_id
    people, suppressed = report.tables
    assert (people.rotated, people.already, people.hash_only, people.unreadable) == (5, 0, 1, 1)
    assert (suppressed.rotated, suppressed.already, suppressed.unreadable) == (3, 0, 0)
    assert people.batches == 4 and suppressed.batches == 2

    with database.session() as session:
        for phone, contact_id in ids.items():
            contact = session.get(Contact, contact_id)
            assert contact is not None and contact.phone_encrypted is not None
            assert (contact.phone_hash, contact.key_id) == (ROTATING.phone_hash(phone), ROTATING.key_id)
            assert Vault(NEW_KEY).decrypt(contact.phone_encrypted) == phone
            with pytest.raises(InvalidToken):
                OLD.decrypt(contact.phone_encrypted)
        entries = session.scalars(select(Suppression)).all()
        assert sorted(Vault(NEW_KEY).decrypt(e.phone_encrypted) for e in entries) == SUPPRESSED
        for entry in entries:
            assert entry.key_id == ROTATING.key_id and entry.phone_hash == ROTATING.phone_hash(
                Vault(NEW_KEY).decrypt(entry.phone_encrypted))
            with pytest.raises(InvalidToken):
                OLD.decrypt(entry.phone_encrypted)
        # No hash under the old key is left, but the one nothing can re-hash.
        old_hashes = {OLD.phone_hash(p) for p in [*PEOPLE, *SUPPRESSED]}
        stored = {*session.scalars(select(Contact.phone_hash))}
        stored |= {*session.scalars(select(Suppression.phone_hash))}
        assert not old_hashes & stored
        assert OLD.phone_hash(KNOWN_BY_HASH) in stored

    again = rotate(database, ROTATING, batch_size=2)
    assert [(t.rotated, t.already) for t in again.tables] == [(0, 5), (0, 3)]
    assert again.tables[0].hash_only == 1 and again.tables[0].unreadable == 1

    # The person known only by hash moves to the new key when they text, still opted out.
    with database.session() as session:
        address = parse_address(KNOWN_BY_HASH)
        contact, is_new = contacts.get_or_create_contact(session, ROTATING, address, "es")
        assert not is_new and utc(contact.opted_out_at) == AT
        assert (contact.phone_hash, contact.key_id) == (ROTATING.phone_hash(KNOWN_BY_HASH), ROTATING.key_id)
    assert rotate(database, ROTATING).tables[0].hash_only == 0


def test_an_interrupted_rotation_continues_where_it_stopped_and_lookups_work_throughout(
    database: Database,
) -> None:
    ids = stored_before_rotation(database)

    def found() -> dict[str, int | None]:
        with database.session() as session:
            return {phone: getattr(contacts.find_contact(session, ROTATING, phone), "id", None)
                    for phone in PEOPLE}

    def all_suppressed() -> bool:
        with database.session() as session:
            return all(is_suppressed(session, *ROTATING.phone_hashes(phone)) for phone in SUPPRESSED)

    first = rotate(database, ROTATING, batch_size=2, max_batches=1)
    assert not first.finished and first.tables[0].rotated == 2 and len(first.tables) == 1
    assert found() == ids and all_suppressed()  # every person is found, under either key
    with database.session() as session:
        # Without the old key, only the rows already moved would be found: why it stays set.
        assert sum(contacts.find_contact(session, Vault(NEW_KEY), p) is not None for p in PEOPLE) == 2
        assert contacts.find_by_hash(session, OLD.phone_hash(KNOWN_BY_HASH)) is not None

    second = rotate(database, ROTATING, batch_size=2, max_batches=2)
    assert not second.finished and second.tables[0].rotated == 3 and second.tables[0].already == 2
    assert found() == ids and all_suppressed()

    last = rotate(database, ROTATING, batch_size=2)
    assert last.finished
    assert [(t.rotated, t.already) for t in last.tables] == [(0, 5), (3, 0)]
    assert found() == ids and all_suppressed()
    with database.session() as session:  # now the new key alone finds everyone
        assert all(contacts.find_contact(session, Vault(NEW_KEY), p) is not None for p in PEOPLE)
        assert all(is_suppressed(session, Vault(NEW_KEY).phone_hash(p)) for p in SUPPRESSED)


def test_the_webhook_answers_people_mid_rotation_as_the_same_people(line: Line) -> None:
    for phone in (PHONE_A, PHONE_B, PHONE_C):
        line.text("hello", phone)
    senders = {phone: r["sender"] for phone, r in zip((PHONE_A, PHONE_B, PHONE_C), line.rasa.requests,
                                                         strict=True)}
    line.text("STOP", PHONE_C)
    rotating = line.restarted(secret_key=secrets.token_urlsafe(48), old_secret_key=line.settings.secret_key)
    services = rotating.app.extensions["puente"]
    assert not rotate(services.database, services.vault, batch_size=1, max_batches=1).finished
    for phone in (PHONE_A, PHONE_B):
        assert rotating.text("and now?", phone) == (200, ["fake reply in en"])
        assert rotating.rasa.requests[-1]["sender"] == senders[phone]
    assert rotating.text("and now?", PHONE_C) == (200, [])  # opted out, before and after
    assert rotate(services.database, services.vault).finished
    with services.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 3
        assert set(session.scalars(select(Contact.key_id))) == {services.vault.key_id}


def test_rotation_folds_a_number_stored_under_both_keys_into_one_opted_out_row(database: Database) -> None:
    add_contact(database, OLD, PHONE_A)
    with database.session() as session:  # a STOP for the same number, applied under the new key alone
        contacts.opt_out_by_hash(session, ROTATING.phone_hash(PHONE_A), "en", AT, key_id=ROTATING.key_id)
        suppress(session, OLD, PHONE_B)
        session.add(Suppression(phone_hash=ROTATING.phone_hash(PHONE_B),
                                phone_encrypted=ROTATING.encrypt(PHONE_B), key_id=ROTATING.key_id))
    report = rotate(database, ROTATING)
    assert [(t.rotated, t.merged) for t in report.tables] == [(1, 1), (0, 1)]
    with database.session() as session:
        [contact] = session.scalars(select(Contact)).all()
        assert contact.phone_hash == ROTATING.phone_hash(PHONE_A) and utc(contact.opted_out_at) == AT
        [entry] = session.scalars(select(Suppression)).all()
        assert entry.phone_hash == ROTATING.phone_hash(PHONE_B)


def test_the_command_reports_progress_and_a_summary_and_never_a_number(
    database_url: str, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for phone in PEOPLE:
        add_contact(database, OLD, phone)
    with database.session() as session:
        suppress(session, OLD, SUPPRESSED[0])
        contacts.opt_out_by_hash(session, OLD.phone_hash(KNOWN_BY_HASH), "es", AT, key_id=OLD.key_id)
    for name, value in {"DATABASE_URL": database_url, "PUENTE_SECRET_KEY": NEW_KEY.decode(),
                        "PUENTE_OLD_SECRET_KEY": OLD_KEY.decode(), "PUENTE_ENV_FILE": os.devnull,
                        "PUENTE_VAR_DIR": str(tmp_path / "var")}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    stopped = runner.invoke(cli, ["keys", "rotate", "--batch-size", "2", "--max-batches", "1"])
    assert stopped.exit_code == 0, stopped.output
    assert f"from key {OLD.key_id} to key {ROTATING.key_id}" in stopped.output
    assert "contacts: 2 rotated, 0 already under the new key (batch 1)" in stopped.output
    assert "run `puente keys rotate` again" in stopped.output

    done = runner.invoke(cli, ["keys", "rotate", "--batch-size", "2"])
    assert done.exit_code == 0, done.output
    assert "contacts: 3 rotated, 2 already under the new key, 1 known only by hash" in done.output
    assert "suppressions: 1 rotated, 0 already under the new key" in done.output
    assert "1 opted-out contacts are known only by the hash" in done.output
    # Not "Done" while an opt-out is found only under the old key: removing it would lose that STOP.
    assert "Keep PUENTE_OLD_SECRET_KEY set" in done.output and "Done" not in done.output
    for phone in [*PEOPLE, *SUPPRESSED, KNOWN_BY_HASH]:
        assert phone[-7:] not in stopped.output + done.output
        assert NEW_KEY.decode() not in done.output and OLD_KEY.decode() not in done.output

    # A number neither key reads is reported, and the command fails.
    stranger = Vault(secrets.token_urlsafe(48).encode())
    with database.session() as session:
        session.add(Suppression(phone_hash=stranger.phone_hash(UNREADABLE),
                                phone_encrypted=stranger.encrypt(UNREADABLE), key_id=stranger.key_id))
    failed = runner.invoke(cli, ["keys", "rotate"])
    assert failed.exit_code == 1 and "1 numbers are unreadable" in failed.output


def test_a_failing_database_is_one_line_without_its_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"DATABASE_URL": "postgresql+psycopg://puente@127.0.0.1:9/none",
                        "PUENTE_SECRET_KEY": NEW_KEY.decode(), "PUENTE_OLD_SECRET_KEY": OLD_KEY.decode(),
                        "PUENTE_ENV_FILE": os.devnull, "PUENTE_VAR_DIR": str(tmp_path / "var")}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "puente: the database failed (" in result.output and "Traceback" not in result.output
