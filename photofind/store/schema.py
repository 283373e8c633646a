"""The library's tables, declared once with SQLAlchemy Core.

The schema itself is created and evolved only by the Alembic migrations in
``photofind/store/migrations``; this module is what the repository queries against, and the
``target_metadata`` Alembic compares with.

- ``folders``: the library's root folders; ``online`` is false while a folder is missing
  (unmounted drive), and its photos are then hidden from search but kept.
- ``photos``: one row per file found; ``id`` is also the label in the HNSW index.
  ``status`` is ``ok`` (embedded) or ``skipped`` (with ``skip_reason``).
- ``embeddings``: one float32 vector per (photo, model); SQLite is the source of truth and the
  HNSW files are derived from this table.
- ``ranking_transforms``: versioned transforms learned from the library (PCA for ranking).
- ``meta``: small key/value facts, e.g. the ``generation`` counter that changes whenever
  embeddings change, so a saved HNSW file can tell whether it is in step with the DB.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

folders = Table(
    "folders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("path", Text, nullable=False, unique=True),
    Column("added_at", Float, nullable=False),
    Column("online", Boolean, nullable=False, server_default="1"),
    Column("last_scan_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
)

photos = Table(
    "photos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("folder_id", Integer, ForeignKey("folders.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("status", String(16), nullable=False),
    Column("skip_reason", Text, nullable=True),
    Column("added_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # When the photo was taken (epoch seconds; EXIF DateTimeOriginal, else the file time) and
    # where that came from (TAKEN_*); NULL until the index job read it (migration 0003).
    Column("taken", Float, nullable=True),
    Column("taken_source", String(16), nullable=True),
    # 64-bit perceptual hash (core/images/phash.py; signed), which confirms near-duplicates;
    # NULL until the index job computed it, NO_HASH (0) when the photo has none (migration 0004).
    Column("phash", BigInteger, nullable=True),
    Index("ix_photos_folder", "folder_id"),
    Index("ix_photos_fingerprint", "fingerprint"),
    Index("ix_photos_status", "status"),
    Index("ix_photos_taken", "taken"),
    # the browse grid's order: newest file first among embedded photos (migration 0005)
    Index("ix_photos_status_mtime", "status", "mtime_ns"),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("photo_id", Integer, ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", String(200), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    # The library generation in which this vector was written: a saved HNSW file that knows
    # the generation it reflects catches up by adding only newer rows.
    Column("generation", BigInteger, nullable=False, server_default="0"),
    Index("ix_embeddings_model", "model_id"),
    Index("ix_embeddings_model_generation", "model_id", "generation"),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# Transforms learned from the library's own vectors (e.g. the PCA of core/search/whitening.py), one row
# per fitted version; ``id`` is the version. Derived data: dropping them only costs a refit.
ranking_transforms = Table(
    "ranking_transforms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("method", Integer, nullable=False),
    Column("n_photos", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_ranking_transforms_model_kind", "model_id", "kind"),
)

STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"

#: ``photos.taken_source``: EXIF DateTimeOriginal; the file time because the photo has no EXIF
#: date; the file time because its EXIF date is broken or absurd (listed by ``photofind stats``).
TAKEN_EXIF = "exif"
TAKEN_FILE = "file"
TAKEN_BAD_EXIF = "bad-exif"
