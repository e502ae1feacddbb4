"""A contact may be known only by the hash of their number: an opt-out kept while the database was down.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.alter_column("phone_encrypted", existing_type=sa.LargeBinary, nullable=True)
        batch.alter_column("channel", existing_type=sa.String(16), nullable=True)


def downgrade() -> None:
    # Those rows are opt-outs of people whose number Puente never stored: going back
    # would have to drop them, and an opt-out must never be lost.
    known_by_hash_only = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM contacts WHERE phone_encrypted IS NULL")
    )
    if known_by_hash_only:
        raise RuntimeError(
            f"{known_by_hash_only} contacts are opt-outs known only by hash; "
            "revision 0001 cannot hold them, so this downgrade stops here"
        )
    op.execute("UPDATE contacts SET channel = 'sms' WHERE channel IS NULL")
    with op.batch_alter_table("contacts") as batch:
        batch.alter_column("channel", existing_type=sa.String(16), nullable=False)
        batch.alter_column("phone_encrypted", existing_type=sa.LargeBinary, nullable=False)
