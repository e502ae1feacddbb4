"""Which key hashed and encrypted each number: `key_id` on contacts and suppression entries.

A short fingerprint of the key (`puente.privacy.Vault.key_id`), not the key. Rows written
before this revision have none: a migration cannot know the key, so `puente keys rotate`
reads them with whichever configured key decrypts them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("contacts", "suppressions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("key_id", sa.String(12)))


def downgrade() -> None:
    for table in ("suppressions", "contacts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("key_id")
