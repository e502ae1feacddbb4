"""Accounts' pure parts: roles, argon2 hashes, the masked number."""

from __future__ import annotations

from puente.accounts import passwords
from puente.accounts.roles import Role
from puente.privacy import Vault, mask_phone


def test_roles_are_ranked_viewer_coordinator_admin() -> None:
    assert Role.ADMIN.allows(Role.COORDINATOR) and Role.ADMIN.allows(Role.VIEWER)
    assert Role.COORDINATOR.allows(Role.VIEWER) and not Role.COORDINATOR.allows(Role.ADMIN)
    assert not Role.VIEWER.allows(Role.COORDINATOR)


def test_passwords_are_argon2id_salted_and_checked() -> None:
    first, second = (
        passwords.hash_password("a long enough secret"),
        passwords.hash_password("a long enough secret"),
    )
    assert first.startswith("$argon2id$") and first != second
    assert passwords.verify_password(first, "a long enough secret")
    assert not passwords.verify_password(first, "a long enough secreT")
    assert not passwords.verify_password("not a hash", "anything")
    assert not passwords.needs_rehash(first)
    assert passwords.password_problem("short") is not None
    assert passwords.password_problem("twelve chars") is None


def test_a_number_is_masked_to_its_country_code_and_last_four_digits() -> None:
    assert mask_phone("+18055550163") == "+1 ••• ••• 0163"
    assert mask_phone("whatsapp:+18055550163") == "whatsapp:+1 ••• ••• 0163"
    assert mask_phone("+447700900123") == "+44 ••• 0123"
    assert mask_phone("not a number") == "•••"
    assert "805" not in mask_phone("+18055550163") and "555" not in mask_phone("+18055550163")


def test_derived_keys_differ_by_purpose_and_never_hand_out_the_phone_keys() -> None:
    vault = Vault(b"k" * 40)
    assert vault.key_for("dashboard-session") != vault.key_for("dashboard-csrf")
    assert vault.key_for("dashboard-session") == Vault(b"k" * 40).key_for("dashboard-session")
    for private in ("phone-encryption", "phone-lookup", "message-sid", "key-id"):
        try:
            vault.key_for(private)
        except ValueError:
            continue
        raise AssertionError(f"{private} was handed out")
