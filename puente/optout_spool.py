"""Opt-outs that arrived while the database was down, kept on disk until it is back.

A STOP must never be lost, and Twilio itself honours only its English words: a
PARAR sent during an outage exists nowhere but here. Each one is a small file in
`var/spool/optout/` holding the keyed hash of the number (the key contacts are
found by), the keyword and the time. Never the number, never the message.

    {"v": 1, "phone_hash": "…64 hex…", "kind": "stop", "word": "parar", "at": "2026-…+00:00",
     "key": "…12 hex…", "also": ["…64 hex…"]}

`key` is the fingerprint of the key behind `phone_hash`; during a key rotation `also`
holds the number's hash under the previous key, so the entry finds the person's row
whether or not `puente keys rotate` has moved it yet. Entries written before either
field existed have neither: their hash is under whatever key was in use then.

Concurrency: each entry is its own file, written under a temporary name and
renamed into place (`os.replace`), so any number of threads and gunicorn workers
may add entries at once and a reader never sees half of one. Draining takes an
exclusive `flock` on `.lock`, so one drain at a time applies entries, and a message
that finds entries waits for a drain already running rather than overtaking it.
An entry's file is removed only after the transaction that applied it committed;
applying one twice changes nothing.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from puente import contacts
from puente.db import Database, DatabaseTimeout
from puente.i18n import LanguageRegistry
from puente.messaging.keywords import match_keyword

logger = logging.getLogger(__name__)

ENTRY_VERSION = 1
ENTRY_SUFFIX = ".json"
#: Entries applied per transaction: a long outage's backlog goes in a few short ones.
BATCH = 200
#: A temporary file this old is the remains of a crashed write.
STALE_TEMPORARY_SECONDS = 600


@dataclass(frozen=True)
class SpooledOptOut:
    phone_hash: str
    word: str  # the keyword as matched (folded), e.g. "parar"; it tells the language
    at: datetime  # when the message arrived, timezone-aware
    kind: str = "stop"
    key_id: str | None = None  # the key behind phone_hash (None: an entry older than key ids)
    also: tuple[str, ...] = ()  # the number's hashes under other keys (a rotation's previous key)

    def to_json(self) -> bytes:
        raw: dict[str, object] = {"v": ENTRY_VERSION, "phone_hash": self.phone_hash, "kind": self.kind,
                                  "word": self.word, "at": self.at.isoformat()}
        if self.key_id is not None:
            raw["key"] = self.key_id
        if self.also:
            raw["also"] = list(self.also)
        return json.dumps(raw).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SpooledOptOut:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("v") != ENTRY_VERSION or raw.get("kind") != "stop":
            raise ValueError("not a version 1 opt-out entry")
        at = datetime.fromisoformat(str(raw["at"]))
        if at.tzinfo is None:
            raise ValueError("entry time without a time zone")
        also = raw.get("also", [])
        if not isinstance(also, list):
            raise ValueError("also is not a list")
        key = raw.get("key")
        return cls(phone_hash=str(raw["phone_hash"]), word=str(raw["word"]), at=at,
                   key_id=None if key is None else str(key), also=tuple(str(h) for h in also))


class OptOutSpool:
    """The folder of spooled opt-outs: add one during an outage, drain them after."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, entry: SpooledOptOut) -> None:
        """Keep `entry` durably (fsynced); raises OSError if it could not be written."""
        self._make_folder()
        name = f"{time.time_ns():020d}-{secrets.token_hex(6)}{ENTRY_SUFFIX}"
        temporary = self.folder / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(entry.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.folder / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_folder(self.folder)  # the rename itself survives a power cut

    def pending(self) -> list[Path]:
        """The entries waiting, oldest first (names start with the time they were written)."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        except OSError as error:  # not a folder, not readable: nothing can be seen, or applied
            logger.warning("opt-out spool %s cannot be read (%s)", self.folder, type(error).__name__)
            return []
        return [self.folder / n for n in sorted(names) if n.endswith(ENTRY_SUFFIX) and not n.startswith(".")]

    def drain(
        self, database: Database, languages: LanguageRegistry, default_language: str,
        timeout: float | None,
    ) -> int:
        """Apply every waiting entry to the contacts; returns how many were applied.

        Each batch commits before its files are removed. Raises a database error
        (`puente.db.DATABASE_ERRORS`) if the database fails or `timeout` runs out
        first; what was not applied stays for the next drain. Files that cannot be
        read are set aside as `*.bad` and logged; a folder that cannot be read is
        logged and skipped: neither stops a message from being handled.
        """
        if not self.pending():
            return 0  # the common case: one listdir, no lock, no database
        deadline = None if timeout is None else time.monotonic() + timeout
        applied = 0
        try:
            with self._locked(deadline):
                self._remove_stale_temporaries()
                while paths := self.pending()[:BATCH]:
                    batch = self._read(paths)
                    if not batch:
                        continue  # every one set aside, or applied by another drain: look again
                    for attempt in range(2):
                        try:
                            with database.session(_remaining(deadline)) as session:
                                for entry in batch.values():
                                    language = _language_of(entry.word, languages, default_language)
                                    contacts.opt_out_by_hash(session, entry.phone_hash, language,
                                                             entry.at, key_id=entry.key_id,
                                                             also=entry.also)
                            break
                        except IntegrityError:
                            # A first message from the same person may create the contact
                            # at the same moment: the unique hash fails one insert; retry.
                            if attempt:
                                raise
                    for path in batch:
                        path.unlink(missing_ok=True)
                    applied += len(batch)
        except OSError as error:
            logger.warning("opt-out spool %s could not be drained (%s)", self.folder, type(error).__name__)
        if applied:
            logger.info("applied %d spooled opt-outs", applied)
        return applied

    # --- the folder -----------------------------------------------------------------
    def _make_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (self.folder, self.folder.parent):  # var/spool/optout and var/spool
            if folder.stat().st_mode & 0o077:
                folder.chmod(0o700)

    @contextmanager
    def _locked(self, deadline: float | None) -> Iterator[None]:
        """Hold the drain lock; a drain running elsewhere is waited for until `deadline`."""
        self._make_folder()
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                        raise
                if deadline is not None and time.monotonic() >= deadline:
                    raise DatabaseTimeout("another process is still draining the opt-out spool")
                time.sleep(0.01)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _read(self, paths: list[Path]) -> dict[Path, SpooledOptOut]:
        entries: dict[Path, SpooledOptOut] = {}
        for path in paths:
            try:
                entries[path] = SpooledOptOut.from_json(path.read_bytes())
            except FileNotFoundError:
                continue  # applied by a drain that held the lock before us
            except (ValueError, KeyError, TypeError):
                bad = path.with_name(path.name + ".bad")
                os.replace(path, bad)
                logger.error("opt-out spool entry %s is unreadable: set aside as %s", path.name, bad.name)
        return entries

    def _remove_stale_temporaries(self) -> None:
        now = time.time()
        for name in os.listdir(self.folder):
            if name.startswith(".") and name.endswith(".tmp"):
                path = self.folder / name
                try:
                    if now - path.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                        path.unlink()
                except FileNotFoundError:
                    pass


def _language_of(word: str, languages: LanguageRegistry, default_language: str) -> str:
    """The language a spooled keyword was written in: the default for Twilio's English words."""
    match = match_keyword(word, languages)
    if match is None or match.universal:
        return languages.get(default_language).code
    return match.languages[0]


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
