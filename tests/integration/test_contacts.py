"""Contacts found by keyed hash, including those known only by it (an opt-out kept during an outage)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from puente import contacts
from puente.db import Database
from puente.models import Contact
from puente.privacy import Vault, parse_address
from tests.conftest import PHONE_ES
from tests.integration.conftest import utc

SPOOLED_AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
def vault() -> Vault:
    return Vault(b"k" * 48)


def test_an_opt_out_known_only_by_hash_is_an_opted_out_contact_without_a_number(
    database: Database, vault: Vault
) -> None:
    with database.session() as session:
        assert contacts.opt_out_by_hash(session, vault.phone_hash(PHONE_ES), "es", SPOOLED_AT)
    with database.session() as session:
        contact = session.scalars(select(Contact)).one()
        assert contact.phone_encrypted is None and contact.channel is None
        assert utc(contact.opted_out_at) == SPOOLED_AT and contact.language == "es"

    # When they text again they are the same person: their number is filled in.
    with database.session() as session:
        found, is_new = contacts.get_or_create_contact(session, vault, parse_address(PHONE_ES), "en")
        assert not is_new
        assert found.phone_encrypted is not None and vault.decrypt(found.phone_encrypted) == PHONE_ES
        assert found.channel == "sms"
        assert utc(found.opted_out_at) == SPOOLED_AT  # still opted out: only START brings them back


def test_an_opt_out_by_hash_opts_out_a_known_contact_at_the_spooled_time(
    database: Database, vault: Vault
) -> None:
    with database.session() as session:
        contacts.get_or_create_contact(session, vault, parse_address(PHONE_ES), "es")
    with database.session() as session:
        assert not contacts.opt_out_by_hash(session, vault.phone_hash(PHONE_ES), "en", SPOOLED_AT)
    with database.session() as session:
        contact = session.scalars(select(Contact)).one()
        assert utc(contact.opted_out_at) == SPOOLED_AT
        assert contact.language == "es"  # a known person's language stays theirs

    later = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    with database.session() as session:
        contacts.opt_out_by_hash(session, vault.phone_hash(PHONE_ES), "es", later)
    with database.session() as session:
        assert utc(session.scalars(select(Contact)).one().opted_out_at) == SPOOLED_AT  # the first one counts
