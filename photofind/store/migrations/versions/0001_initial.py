"""Initial schema: folders, photos, embeddings, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "folders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("online", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("last_scan_at", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "folder_id", sa.Integer, sa.ForeignKey("folders.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("skip_reason", sa.Text, nullable=True),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_photos_folder", "photos", ["folder_id"])
    op.create_index("ix_photos_fingerprint", "photos", ["fingerprint"])
    op.create_index("ix_photos_status", "photos", ["status"])
    op.create_table(
        "embeddings",
        sa.Column(
            "photo_id",
            sa.Integer,
            sa.ForeignKey("photos.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model_id", sa.String(200), primary_key=True),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_embeddings_model", "embeddings", ["model_id"])
    op.create_index(
        "ix_embeddings_model_generation", "embeddings", ["model_id", "generation"]
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("embeddings")
    op.drop_table("photos")
    op.drop_table("folders")
