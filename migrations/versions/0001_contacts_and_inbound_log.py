"""Contacts (phone encrypted, found by keyed hash) and the inbound-message log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("phone_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("phone_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("pseudonym", sa.String(40), nullable=False, unique=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("language_source", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True)),
        sa.Column("opted_out_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_sid_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey("contacts.id", ondelete="SET NULL"),
            index=True,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbound_messages")
    op.drop_table("contacts")
