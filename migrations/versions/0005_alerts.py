"""Alerts: subscriptions, consent records, suppression entries, open questions, and the
last inbound message per channel (WhatsApp's 24-hour window).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _contact() -> sa.Column:
    return sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        _contact(),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("jurisdiction_id", sa.String(100), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("contact_id", "topic"),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer, primary_key=True),
        _contact(),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("jurisdiction_id", sa.String(100)),
    )
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("phone_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("phone_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "open_questions",
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "contact_channels",
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("contact_channels", "open_questions", "suppressions", "consent_records", "subscriptions"):
        op.drop_table(table)
