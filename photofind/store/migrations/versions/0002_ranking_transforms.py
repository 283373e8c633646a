"""Learned ranking transforms (library PCA), versioned per model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ranking_transforms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("method", sa.Integer, nullable=False),
        sa.Column("n_photos", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_ranking_transforms_model_kind", "ranking_transforms", ["model_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_ranking_transforms_model_kind", table_name="ranking_transforms")
    op.drop_table("ranking_transforms")
