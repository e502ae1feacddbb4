"""Draining the opt-out spool into the contacts: once, after the commit, under one lock at a time."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from puente import contacts
from puente.db import DATABASE_ERRORS, Database, DatabaseTimeout
from puente.i18n import registry
from puente.models import Contact
from puente.optout_spool import OptOutSpool, SpooledOptOut
from puente.privacy import Vault, parse_address
from tests.conftest import PHONE_EN, PHONE_ES
from tests.integration.conftest import utc

VAULT = Vault(b"k" * 48)
AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
def spool(tmp_path: Path) -> OptOutSpool:
    return OptOutSpool(tmp_path / "spool" / "optout")


def drain(spool: OptOutSpool, database: Database, timeout: float | None = 5.0) -> int:
    return spool.drain(database, registry(), "en", timeout)


def opted_out(database: Database) -> dict[str, datetime | None]:
    with database.session() as session:
        return {c.phone_hash: utc(c.opted_out_at) for c in session.scalars(select(Contact))}


def test_a_drain_opts_out_known_and_unknown_people_then_removes_the_entries(
    spool: OptOutSpool, database: Database
) -> None:
    with database.session() as session:
        contacts.get_or_create_contact(session, VAULT, parse_address(PHONE_EN), "en")
    spool.add(SpooledOptOut(VAULT.phone_hash(PHONE_EN), "stop", AT))
    spool.add(SpooledOptOut(VAULT.phone_hash(PHONE_ES), "parar", AT + timedelta(seconds=5)))
    assert drain(spool, database) == 2
    assert opted_out(database) == {
        VAULT.phone_hash(PHONE_EN): AT, VAULT.phone_hash(PHONE_ES): AT + timedelta(seconds=5),
    }
    with database.session() as session:
        new = session.scalars(select(Contact).where(Contact.phone_hash == VAULT.phone_hash(PHONE_ES))).one()
        assert new.language == "es"  # PARAR is Spanish: so will be what they read, if they write again
    assert spool.pending() == []
    assert drain(spool, database) == 0


def test_entries_stay_until_a_drain_commits(spool: OptOutSpool, tmp_path: Path) -> None:
    spool.add(SpooledOptOut(VAULT.phone_hash(PHONE_ES), "parar", AT))
    unmigrated = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every write fails
    with pytest.raises(DATABASE_ERRORS):
        drain(spool, unmigrated)
    unmigrated.dispose()
    assert len(spool.pending()) == 1


def test_drains_running_at_once_apply_each_entry_once(spool: OptOutSpool, database: Database) -> None:
    for n in range(60):
        spool.add(SpooledOptOut(VAULT.phone_hash(f"+1213555{n:04d}"), "stop", AT))
    applied: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            applied.append(drain(spool, database))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(applied) == 60
    assert len(opted_out(database)) == 60
    assert spool.pending() == []


def test_an_unreadable_entry_is_set_aside_and_the_rest_applied(
    spool: OptOutSpool, database: Database
) -> None:
    spool.add(SpooledOptOut(VAULT.phone_hash(PHONE_ES), "parar", AT))
    (spool.folder / "00000000000000000001-garbled.json").write_bytes(b"\x00\x01 not json")
    assert drain(spool, database) == 1
    assert [p.name for p in spool.folder.iterdir() if p.name.endswith(".bad")] == [
        "00000000000000000001-garbled.json.bad"
    ]
    assert spool.pending() == []


def test_a_drain_waits_for_another_only_until_its_deadline(spool: OptOutSpool, database: Database) -> None:
    spool.add(SpooledOptOut(VAULT.phone_hash(PHONE_ES), "parar", AT))
    fd = os.open(spool.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another worker process is draining
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseTimeout):
            drain(spool, database, timeout=0.3)
        assert time.monotonic() - started < 1.0
    finally:
        os.close(fd)
    assert drain(spool, database) == 1


def test_a_batch_of_nothing_but_unreadable_entries_does_not_stop_the_drain(
    spool: OptOutSpool, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("puente.optout_spool.BATCH", 2)
    spool.add(SpooledOptOut(VAULT.phone_hash(PHONE_ES), "parar", AT))
    for n in (1, 2):  # older than the good entry: they fill the first batch
        (spool.folder / f"0000000000000000000{n}-garbled.json").write_bytes(b"{")
    assert drain(spool, database) == 1
    assert spool.pending() == []
