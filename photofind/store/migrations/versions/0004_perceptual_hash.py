"""Perceptual hash: a 64-bit DCT pHash per photo (core/images/phash.py) that confirms
near-duplicate pairs; NULL until the index job computed it (its backfill fills existing
libraries), 0 when the photo has none (flat, or unreadable when the backfill tried).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("phash", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.drop_column("phash")
