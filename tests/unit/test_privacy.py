"""Phone numbers: encrypted at rest, found by keyed hash, never logged."""

from __future__ import annotations

import inspect
import logging
import re

import pytest

from puente.logs import RedactPhoneNumbers
from puente.privacy import Vault, new_pseudonym

PHONE = "+12135550142"


def test_encryption_round_trips_and_hides_the_number() -> None:
    vault = Vault(b"k" * 48)
    token = vault.encrypt(PHONE)
    assert PHONE.encode() not in token and b"5550142" not in token
    assert vault.decrypt(token) == PHONE
    assert vault.encrypt(PHONE) != token  # randomized: equal numbers do not look equal


def test_lookup_hash_is_stable_and_keyed() -> None:
    a, b = Vault(b"a" * 48), Vault(b"b" * 48)
    assert a.phone_hash(PHONE) == a.phone_hash(PHONE)
    assert a.phone_hash(PHONE) != b.phone_hash(PHONE)
    assert a.phone_hash(PHONE) != a.message_sid_hash(PHONE)  # one derived key per purpose
    assert "5550142" not in a.phone_hash(PHONE)


def test_another_key_cannot_decrypt() -> None:
    from cryptography.fernet import InvalidToken

    with pytest.raises(InvalidToken):
        Vault(b"b" * 48).decrypt(Vault(b"a" * 48).encrypt(PHONE))


def test_a_vault_with_the_previous_key_finds_and_reads_what_it_hashed_and_encrypted() -> None:
    from cryptography.fernet import InvalidToken

    old, new = Vault(b"a" * 48), Vault(b"b" * 48, old_secret_key=b"a" * 48)
    assert new.phone_hashes(PHONE) == (new.phone_hash(PHONE), old.phone_hash(PHONE))
    assert new.message_sid_hashes("SM1") == (new.message_sid_hash("SM1"), old.message_sid_hash("SM1"))
    assert new.decrypt(old.encrypt(PHONE)) == PHONE  # a row not rotated yet is still read
    with pytest.raises(InvalidToken):
        old.decrypt(new.encrypt(PHONE))  # what the new key wrote is not the old key's to read
    # Key ids: stable, short, one per key, and nothing of the key in them.
    assert new.key_id == Vault(b"b" * 48).key_id != old.key_id
    assert re.fullmatch(r"[0-9a-f]{12}", new.key_id) and new.previous is not None
    assert new.previous.key_id == old.key_id
    # No previous key (or the same key twice): only the current key's hashes.
    assert Vault(b"b" * 48, old_secret_key=b"b" * 48).previous is None
    assert Vault(b"b" * 48).phone_hashes(PHONE) == (new.phone_hash(PHONE),)


def test_pseudonyms_are_random_and_carry_nothing_of_the_number() -> None:
    names = [new_pseudonym() for _ in range(1000)]
    assert len(set(names)) == 1000
    # Not derived from the number: nothing to take it as input, and 128 random bits.
    assert list(inspect.signature(new_pseudonym).parameters) == []
    assert all(re.fullmatch(r"p[0-9a-f]{32}", name) for name in names)


@pytest.mark.parametrize(
    "message",
    ["from +12135550142", "from whatsapp:+12135550142", "call (213) 555-0142 now", "2135550142"],
)
def test_log_filter_masks_phone_numbers(message: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (message,), None)
    RedactPhoneNumbers().filter(record)
    assert "555" not in record.getMessage()
    assert "[redacted]" in record.getMessage()


def test_log_filter_leaves_ids_and_counts_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "inbound %s: contact=%d", ("12", 7), None)
    RedactPhoneNumbers().filter(record)
    assert record.getMessage() == "inbound 12: contact=7"
