"""Broadcasts, their deliveries (one per recipient: the idempotency key), RSVPs, the outbox and
the shared send pace.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("jurisdiction_id", sa.String(100)),
        sa.Column("language", sa.String(16)),
        sa.Column("texts", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("rsvp_until", sa.DateTime(timezone=True)),
        sa.Column("hearing_id", sa.String(100), index=True),
        sa.Column("hearing_starts_at", sa.DateTime(timezone=True)),
        sa.Column("reminder", sa.String(16)),
        sa.Column("key", sa.String(200), unique=True),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("active_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "broadcast_id", sa.Integer, sa.ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("note", sa.String(32)),
        sa.Column("error_code", sa.Integer),
        sa.Column("message_sid", sa.String(64), unique=True),
        sa.Column("segments", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(120), index=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("broadcast_id", "contact_id"),
    )
    op.create_index("ix_deliveries_work", "deliveries", ["broadcast_id", "state", "not_before"])
    op.create_table(
        "rsvps",
        sa.Column(
            "broadcast_id", sa.Integer, sa.ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("answer", sa.String(3), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id", ondelete="SET NULL"), index=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("to_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("to_last_digits", sa.String(4), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("content_sid", sa.String(40)),
        sa.Column("content_variables", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "send_pace",
        sa.Column("sender", sa.String(16), primary_key=True),
        sa.Column("next_free_at", sa.Float, nullable=False),
    )
    op.create_table(
        "early_statuses",
        sa.Column("message_sid", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.Integer),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    for table in ("early_statuses", "send_pace", "outbox", "rsvps"):
        op.drop_table(table)
    op.drop_index("ix_deliveries_work", "deliveries")
    op.drop_table("deliveries")
    op.drop_table("broadcasts")
