"""A new secret key: numbers found under either key while rows move to the new one
(`puente keys rotate`), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from puente import contacts
from puente.alerts.erase import suppress
from puente.alerts.models import Suppression
from puente.alerts.subscriptions import is_suppressed, lift_suppression
from puente.db import Database
from puente.i18n import registry
from puente.models import Contact
from puente.optout_spool import OptOutSpool, SpooledOptOut
from puente.privacy import Vault, parse_address
from puente.simulator import new_message_sid
from tests.integration.conftest import Line, utc

# Fictional numbers (555-01xx).
PHONE_A, PHONE_B, PHONE_C = "+12135550103", "+12135550104", "+12135550105"
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
