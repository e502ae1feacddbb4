"""`puente keys rotate`: every stored phone number moved to the current secret key.

The operator puts the new key in PUENTE_SECRET_KEY and the one it replaces in
PUENTE_OLD_SECRET_KEY, restarts the webhooks (which then find people hashed under either
key, see `puente.privacy.Vault`), and runs the rotation. It walks contacts, then
suppression entries, in id order and in batches: each number is decrypted (with the new
key, else the old one), re-encrypted and re-hashed under the new key, and stamped with its
key id; each batch commits on its own. Rows already under the new key are not touched, so
a rotation that stopped (Ctrl-C, a lost connection, `max_batches`) continues where it
stopped when run again.

What cannot move: a contact known only by the hash of their number (a STOP spooled while
the database was down, from someone Puente never stored a number for) has no number to
re-hash. They are counted, stay findable while PUENTE_OLD_SECRET_KEY is set, and move to
the new key the next time they text. A number neither key decrypts is counted as
unreadable and left as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from cryptography.fernet import InvalidToken
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from puente.alerts.models import Suppression
from puente.contacts import absorb_duplicate
from puente.db import Database
from puente.models import Contact
from puente.privacy import Vault

#: Rows per transaction.
BATCH = 500
#: Seconds one batch may take (its statements are short; this bounds a hung connection).
BATCH_TIMEOUT = 60.0
#: A batch that lost a race with the webhook (a lock, a row it moved) is tried this often.
ATTEMPTS = 3


@dataclass
class TableRotation:
    """What a rotation did to one table."""

    table: str
    #: Rows moved to the current key by this run.
    rotated: int = 0
    #: Rows already under the current key when this run reached the table (left alone).
    already: int = 0
    #: Contacts known only by hash: nothing to re-hash (findable while the old key is set).
    hash_only: int = 0
    #: Numbers neither key decrypts.
    unreadable: int = 0
    #: One number under both keys in two rows, folded into one (see `absorb_duplicate`).
    merged: int = 0
    #: One number in two rows that both hold it: left for a person to resolve.
    duplicates: int = 0
    batches: int = 0

    def line(self) -> str:
        shown = [f"{self.rotated} rotated", f"{self.already} already under the new key"]
        shown += [f"{n} {what}" for n, what in (
            (self.hash_only, "known only by hash (not re-hashable)"), (self.unreadable, "unreadable"),
            (self.merged, "duplicates merged"), (self.duplicates, "duplicates left")) if n]
        return f"{self.table}: " + ", ".join(shown)


@dataclass
class RotationReport:
    key_id: str
    tables: list[TableRotation] = field(default_factory=list)
    #: False when `max_batches` stopped the run before every row was reached: run it again.
    finished: bool = True

    @property
    def unreadable(self) -> int:
        return sum(t.unreadable for t in self.tables)

    @property
    def hash_only(self) -> int:
        return sum(t.hash_only for t in self.tables)


def rotate(
    database: Database, vault: Vault, *, batch_size: int = BATCH, max_batches: int | None = None,
    progress: Callable[[TableRotation], None] | None = None,
) -> RotationReport:
    """Move every contact's and suppression entry's number to `vault`'s current key.

    `vault.previous` is the key being retired (PUENTE_OLD_SECRET_KEY). Stops after
    `max_batches` batches when given (the report then says it did not finish).
    """
    report = RotationReport(vault.key_id)
    batches_left = max_batches
    for model in (Contact, Suppression):
        stats = TableRotation(model.__tablename__)
        report.tables.append(stats)
        with database.session(BATCH_TIMEOUT) as session:
            stats.already = session.scalar(
                select(func.count()).select_from(model).where(model.key_id == vault.key_id)) or 0
        last_id = 0
        while True:
            if batches_left is not None and batches_left <= 0:
                if _pending(database, vault, model, last_id):
                    report.finished = False
                    return report
                break
            last_id, done = _batch(database, vault, model, stats, last_id, batch_size)
            if done:
                break
            stats.batches += 1
            if batches_left is not None:
                batches_left -= 1
            if progress is not None:
                progress(stats)
    return report


Table = type[Contact] | type[Suppression]


def _not_rotated(model: Table, vault: Vault, after_id: int) -> Any:
    return (model.id > after_id) & or_(model.key_id.is_(None), model.key_id != vault.key_id)


def _pending(database: Database, vault: Vault, model: Table, after_id: int) -> bool:
    """Whether rows after `after_id` are still to be reached."""
    with database.session(BATCH_TIMEOUT) as session:
        found = session.scalar(select(model.id).where(_not_rotated(model, vault, after_id)).limit(1))
        return found is not None


def _batch(
    database: Database, vault: Vault, model: Table, stats: TableRotation,
    after_id: int, size: int,
) -> tuple[int, bool]:
    """Rotate the next `size` rows after `after_id` that are not under the current key, in one
    transaction; returns the last id reached and whether none was left."""
    for attempt in range(ATTEMPTS):
        counts = TableRotation(stats.table)
        try:
            with database.session(BATCH_TIMEOUT) as session:
                rows = cast(Sequence[Contact | Suppression], session.scalars(
                    select(model).where(_not_rotated(model, vault, after_id))
                    .order_by(model.id).limit(size).with_for_update()
                ).all())
                if not rows:
                    return after_id, True
                gone: set[int] = set()
                for row in rows:
                    if row.id not in gone:
                        _rotate_row(session, vault, row, counts, gone)
                last = rows[-1].id
        except (OperationalError, IntegrityError):
            # The webhook held a row's lock, or moved a row itself meanwhile: read the batch again.
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
            continue
        for name in ("rotated", "hash_only", "unreadable", "merged", "duplicates"):
            setattr(stats, name, getattr(stats, name) + getattr(counts, name))
        return last, False
    raise AssertionError("unreachable")


def _rotate_row(
    session: Session, vault: Vault, row: Contact | Suppression, counts: TableRotation, gone: set[int]
) -> None:
    if row.phone_encrypted is None:
        counts.hash_only += 1
        return
    try:
        phone = vault.decrypt(row.phone_encrypted)
    except InvalidToken:
        counts.unreadable += 1
        return
    phone_hash = vault.phone_hash(phone)
    if phone_hash != row.phone_hash:
        model = type(row)
        other = session.scalars(select(model).where(model.phone_hash == phone_hash)).first()
        if isinstance(row, Suppression) and other is not None:
            session.delete(row)  # the number is suppressed under the new key already
            session.flush()
            gone.add(row.id)
            counts.merged += 1
            return
        if isinstance(row, Contact) and isinstance(other, Contact):
            if not absorb_duplicate(session, row, other):
                counts.duplicates += 1
                return
            gone.add(other.id)
            counts.merged += 1
    row.phone_hash, row.phone_encrypted, row.key_id = phone_hash, vault.encrypt(phone), vault.key_id
    counts.rotated += 1
