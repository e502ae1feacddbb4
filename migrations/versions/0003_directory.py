"""The directory: jurisdictions, policies, coalitions (and whom they serve), legal clinics, hearings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jurisdictions",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("within_id", sa.String(100), index=True),
        sa.Column("names", sa.JSON, nullable=False),
        sa.Column("aliases", sa.JSON, nullable=False),
        sa.Column("zip_codes", sa.JSON, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("jurisdiction_id", sa.String(100), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("date", sa.Date),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("source_url", sa.Text, nullable=False),
        sa.Column("verified_on", sa.Date, nullable=False),
    )
    op.create_table(
        "coalitions",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(40)),
        sa.Column("email", sa.String(200)),
        sa.Column("website", sa.Text),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("description", sa.JSON, nullable=False),
        sa.Column("rapid_response_phone", sa.String(40)),
    )
    op.create_table(
        "coalition_serves",
        sa.Column("coalition_id", sa.String(100), sa.ForeignKey("coalitions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("jurisdiction_id", sa.String(100), primary_key=True, index=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "legal_clinics",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("school_district_id", sa.String(100), nullable=False, index=True),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("schedule", sa.JSON, nullable=False),
        sa.Column("services", sa.JSON, nullable=False),
        sa.Column("open_to", sa.JSON, nullable=False),
        sa.Column("phone", sa.String(40)),
        sa.Column("languages", sa.JSON, nullable=False),
    )
    op.create_table(
        "hearings",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("jurisdiction_id", sa.String(100), nullable=False, index=True),
        sa.Column("body", sa.String(200), nullable=False),
        sa.Column("title", sa.JSON, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("location", sa.Text),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reminders", sa.JSON, nullable=False),
    )
    op.create_table(
        "directory_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    for table in ("directory_revision", "hearings", "legal_clinics", "coalition_serves", "coalitions",
                  "policies", "jurisdictions"):
        op.drop_table(table)
