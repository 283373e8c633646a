"""Date taken: when each photo was taken (EXIF DateTimeOriginal, else the file time) and where
that came from; NULL until the index job has read it (its backfill fills existing libraries).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch:
        batch.add_column(sa.Column("taken", sa.Float, nullable=True))
        batch.add_column(sa.Column("taken_source", sa.String(16), nullable=True))
    op.create_index("ix_photos_taken", "photos", ["taken"])


def downgrade() -> None:
    op.drop_index("ix_photos_taken", table_name="photos")
    with op.batch_alter_table("photos") as batch:
        batch.drop_column("taken_source")
        batch.drop_column("taken")
