"""The opt-out spool on disk: what an entry holds, who may read it, many writers at once."""

from __future__ import annotations

import json
import multiprocessing
import stat
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from puente.optout_spool import OptOutSpool, SpooledOptOut
from puente.privacy import Vault

PHONE = "+12135550142"
AT = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)


def entry(n: int = 0) -> SpooledOptOut:
    return SpooledOptOut(phone_hash=Vault(b"k" * 48).phone_hash(f"{PHONE[:-2]}{n:02d}"), word="parar", at=AT)


def test_an_entry_holds_the_hash_the_word_and_the_time_and_nothing_else(tmp_path: Path) -> None:
    spool = OptOutSpool(tmp_path / "spool" / "optout")
    spool.add(entry(42))
    [path] = spool.pending()
    data = path.read_bytes()
    assert json.loads(data) == {
        "v": 1, "phone_hash": Vault(b"k" * 48).phone_hash(PHONE), "kind": "stop", "word": "parar",
        "at": "2026-11-28T09:30:15.123456+00:00",
    }
    assert PHONE[2:].encode() not in data and PHONE[-4:].encode() not in data
    assert SpooledOptOut.from_json(data) == entry(42)


def test_during_a_key_rotation_an_entry_also_holds_the_old_keys_hash_and_names_its_key() -> None:
    vault = Vault(b"n" * 48, old_secret_key=b"k" * 48)
    current, previous = vault.phone_hashes(PHONE)
    rotating = SpooledOptOut(current, "parar", AT, key_id=vault.key_id, also=(previous,))
    raw = json.loads(rotating.to_json())
    assert (raw["phone_hash"], raw["key"], raw["also"]) == (current, vault.key_id, [previous])
    assert SpooledOptOut.from_json(rotating.to_json()) == rotating
    assert PHONE[-4:] not in json.dumps(raw)


def test_only_its_owner_can_read_the_spool(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "spool" / "optout"
    OptOutSpool(folder).add(entry())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    [path] = OptOutSpool(folder).pending()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _add_many(folder: str, first: int, count: int) -> None:
    spool = OptOutSpool(Path(folder))
    for n in range(first, first + count):
        spool.add(entry(n))


def test_threads_and_processes_may_add_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "optout"
    # spawn: a fresh interpreter, as each gunicorn worker is a process of its own.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as processes:
        futures = [processes.submit(_add_many, str(folder), 100 * p, 20) for p in range(2)]
        threads = [
            threading.Thread(target=_add_many, args=(str(folder), 1000 + 100 * t, 20)) for t in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for future in futures:
            future.result()
    spool = OptOutSpool(folder)
    entries = [SpooledOptOut.from_json(p.read_bytes()) for p in spool.pending()]
    assert len(entries) == 120
    assert len({e.phone_hash for e in entries}) == 120
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_file_being_written_is_not_an_entry(tmp_path: Path) -> None:
    spool = OptOutSpool(tmp_path)
    (tmp_path / ".00000000000000000001-abc.json.tmp").write_bytes(b'{"v": 1, "phone')
    assert spool.pending() == []


def test_an_unwritable_spool_says_so(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("a file where the folder should be")
    with pytest.raises(OSError):
        OptOutSpool(tmp_path / "var" / "spool" / "optout").add(entry())


def test_an_entry_must_have_a_time_zone_and_be_a_stop(tmp_path: Path) -> None:
    good = json.loads(entry().to_json())
    for bad in ({**good, "at": "2026-11-28T09:30:15"}, {**good, "kind": "start"}, {**good, "v": 2}):
        with pytest.raises(ValueError):
            SpooledOptOut.from_json(json.dumps(bad).encode())


def test_a_spool_that_cannot_be_read_has_nothing_pending(tmp_path: Path) -> None:
    # Start-up and every message look for entries: a broken var/ must not stop them.
    (tmp_path / "var").write_text("a file where the folder should be")
    assert OptOutSpool(tmp_path / "var" / "spool" / "optout").pending() == []
