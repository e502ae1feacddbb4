"""Where an opt-out came from: Twilio's own keyword handling, or Puente.

With TWILIO_ANSWERS_KEYWORDS=true, Twilio blocks a number that texted one of its English
stop words until that number texts one of Twilio's start words: a localized start word
must not mark such a person subscribed while Twilio still blocks every message to them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("opted_out_via", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("opted_out_via")
