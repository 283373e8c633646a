"""The one place that owns the library's SQL.

Reads are plain methods; every write goes through a ``LibraryWriter`` obtained from
``Repository.write()``, which is one transaction: a batch of photos either lands whole or not at
all, and each committed batch advances the library ``generation`` so derived data (the HNSW
files) can tell whether they are in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import (
    Engine,
    and_,
    case,
    func,
    select,
    text,
)

from photofind.store.blobs import GENERATION_KEY
from photofind.store.blobs import chunks as _chunks
from photofind.store.embedding_reads import EmbeddingReads
from photofind.store.photo_filter import FilteredReads, PhotoFilter
from photofind.store.schema import (
    STATUS_OK,
    STATUS_SKIPPED,
    embeddings,
    folders,
    meta,
    photos,
    ranking_transforms,
)
from photofind.store.writer import LibraryWriter


@dataclass(frozen=True)
class FolderRow:
    id: int
    path: str
    online: bool
    added_at: float
    last_scan_at: float | None
    last_error: str | None
    photo_count: int = 0
    skipped_count: int = 0


@dataclass(frozen=True)
class PhotoRow:
    id: int
    folder_id: int
    path: str
    size: int
    mtime_ns: int
    fingerprint: str | None
    width: int | None
    height: int | None
    status: str
    skip_reason: str | None
    online: bool = True
    embedded: bool = False
    taken: float | None = None  #: date taken, epoch seconds (None until the index job read it)


@dataclass(frozen=True)
class LibraryStats:
    folders: int
    folders_offline: int
    photos: int
    embedded: int
    skipped: int
    offline_photos: int
    skip_reasons: dict[str, int]


def _photo_columns():  # type: ignore[no-untyped-def]
    return (
        photos.c.id,
        photos.c.folder_id,
        photos.c.path,
        photos.c.size,
        photos.c.mtime_ns,
        photos.c.fingerprint,
        photos.c.width,
        photos.c.height,
        photos.c.status,
        photos.c.skip_reason,
        folders.c.online,
        photos.c.taken,
    )


def _photo_row(row, embedded: bool = False) -> PhotoRow:  # type: ignore[no-untyped-def]
    return PhotoRow(
        id=row.id,
        folder_id=row.folder_id,
        path=row.path,
        size=row.size,
        mtime_ns=row.mtime_ns,
        fingerprint=row.fingerprint,
        width=row.width,
        height=row.height,
        status=row.status,
        skip_reason=row.skip_reason,
        online=bool(row.online),
        embedded=embedded,
        taken=row.taken,
    )


def _embedded_flag(model_id: str | None):  # type: ignore[no-untyped-def]
    if model_id is None:
        return text("0").label("embedded")
    exists = (
        select(embeddings.c.photo_id)
        .where(and_(embeddings.c.photo_id == photos.c.id, embeddings.c.model_id == model_id))
        .exists()
    )
    return case((exists, 1), else_=0).label("embedded")


class Repository(EmbeddingReads, FilteredReads):
    """All reads and writes of the library database (embedding reads: ``EmbeddingReads``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ writes
    @contextmanager
    def write(self) -> Iterator[LibraryWriter]:
        """One transaction; the library generation advances when it commits."""
        with self.engine.begin() as conn:
            writer = LibraryWriter(conn)
            yield writer
            if writer.changed:
                writer.bump_generation()

    # ------------------------------------------------------------------ folders
    def folders(self) -> list[FolderRow]:
        counts = (
            select(
                photos.c.folder_id,
                func.count().label("n"),
                func.sum(case((photos.c.status == STATUS_SKIPPED, 1), else_=0)).label("skipped"),
            )
            .group_by(photos.c.folder_id)
            .subquery()
        )
        query = (
            select(folders, counts.c.n, counts.c.skipped)
            .select_from(folders.outerjoin(counts, counts.c.folder_id == folders.c.id))
            .order_by(folders.c.path)
        )
        with self.engine.connect() as conn:
            return [
                FolderRow(
                    id=r.id,
                    path=r.path,
                    online=bool(r.online),
                    added_at=r.added_at,
                    last_scan_at=r.last_scan_at,
                    last_error=r.last_error,
                    photo_count=int(r.n or 0),
                    skipped_count=int(r.skipped or 0),
                )
                for r in conn.execute(query)
            ]

    def folder_by_path(self, path: str) -> FolderRow | None:
        for folder in self.folders():
            if folder.path == path:
                return folder
        return None

    # ------------------------------------------------------------------ photos
    def photos_in_folder(self, folder_id: int, model_id: str | None = None) -> dict[str, PhotoRow]:
        query = (
            select(*_photo_columns(), _embedded_flag(model_id))
            .select_from(photos.join(folders))
            .where(photos.c.folder_id == folder_id)
        )
        with self.engine.connect() as conn:
            return {r.path: _photo_row(r, bool(r.embedded)) for r in conn.execute(query)}

    def live_fingerprints(self) -> set[str]:
        """The content fingerprints of every photo in the library (offline folders included,
        so their thumbnails survive an unplugged drive): what the thumbnail cache keeps."""
        query = select(photos.c.fingerprint).distinct().where(photos.c.fingerprint.is_not(None))
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def photos_by_ids(self, ids: Iterable[int]) -> dict[int, PhotoRow]:
        wanted = [int(i) for i in ids]
        result: dict[int, PhotoRow] = {}
        # plain driver rows in ``_photo_columns`` order: the typed SQLAlchemy result cost ~3x
        # the query itself for the 100k rows of a duplicates search (bench/duplicates.py)
        columns = ", ".join(f"{c.table.name}.{c.name}" for c in _photo_columns())
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                sql = (
                    f"SELECT {columns} FROM photos JOIN folders ON folders.id = photos.folder_id "
                    f"WHERE photos.id IN ({','.join('?' * len(chunk))})"
                )
                for r in conn.exec_driver_sql(sql, tuple(chunk)).fetchall():
                    result[r[0]] = PhotoRow(*r[:10], online=bool(r[10]), taken=r[11])
        return result

    def photo_by_path(self, path: str) -> PhotoRow | None:
        query = select(*_photo_columns()).select_from(photos.join(folders)).where(photos.c.path == path)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _photo_row(row) if row else None

    def recent_photos(
        self, limit: int, offset: int = 0, folder_id: int | None = None,
        photo_filter: PhotoFilter | None = None,
    ) -> list[PhotoRow]:
        """Embedded, online photos, newest file first (for browsing without a query), of one
        folder and/or passing ``photo_filter`` when given."""
        query = (
            select(*_photo_columns())
            .select_from(photos.join(folders))
            .where(and_(photos.c.status == STATUS_OK, folders.c.online.is_(True)))
        )
        if folder_id is not None:
            query = query.where(photos.c.folder_id == folder_id)
        if photo_filter is not None:
            query = query.where(*photo_filter.clauses())
        query = query.order_by(photos.c.mtime_ns.desc(), photos.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_photo_row(r) for r in conn.execute(query)]

    def skipped(self, limit: int | None = None) -> list[PhotoRow]:
        query = (
            select(*_photo_columns())
            .select_from(photos.join(folders))
            .where(photos.c.status == STATUS_SKIPPED)
            .order_by(photos.c.path)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_photo_row(r) for r in conn.execute(query)]

    def perceptual_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, hashes)``, sorted by id, of the photos that have a perceptual hash (not
        NULL: not computed yet, nor 0: none); 16 bytes a photo."""
        query = (
            select(photos.c.id, photos.c.phash)
            .where(photos.c.phash.is_not(None), photos.c.phash != 0, photos.c.status == STATUS_OK)
            .order_by(photos.c.id)
        )
        with self.engine.connect() as conn:  # streamed: no list of 100k rows in between
            flat = np.fromiter((v for row in conn.execute(query) for v in row), dtype=np.int64)
        pairs = flat.reshape(-1, 2)
        return pairs[:, 0].copy(), pairs[:, 1].copy()

    def perceptual_hash_counts(self) -> dict[str, int]:
        """How many ok photos have a perceptual hash (``hashed``), have none because they are
        too flat or unreadable as images (``none``), or still wait for the index job's
        backfill (``pending``; offline folders' photos included)."""
        state = case((photos.c.phash.is_(None), "pending"), (photos.c.phash == 0, "none"), else_="hashed")
        query = select(state, func.count()).where(photos.c.status == STATUS_OK).group_by(state)
        with self.engine.connect() as conn:
            counts = {str(k): int(n) for k, n in conn.execute(query)}
        return {k: counts.get(k, 0) for k in ("hashed", "none", "pending")}

    # ------------------------------------------------------------------ state
    def generation(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == GENERATION_KEY)).scalar()
        return int(value) if value is not None else 0

    def stats(self, model_id: str | None = None) -> LibraryStats:
        with self.engine.connect() as conn:
            n_folders = conn.execute(select(func.count()).select_from(folders)).scalar_one()
            n_offline_folders = conn.execute(
                select(func.count()).select_from(folders).where(folders.c.online.is_(False))
            ).scalar_one()
            n_photos = conn.execute(select(func.count()).select_from(photos)).scalar_one()
            n_skipped = conn.execute(
                select(func.count()).select_from(photos).where(photos.c.status == STATUS_SKIPPED)
            ).scalar_one()
            n_offline = conn.execute(
                select(func.count())
                .select_from(photos.join(folders))
                .where(folders.c.online.is_(False))
            ).scalar_one()
            emb = select(func.count()).select_from(embeddings)
            if model_id is not None:
                emb = emb.where(embeddings.c.model_id == model_id)
            n_embedded = conn.execute(emb).scalar_one()
            reasons = {
                r.skip_reason or "unknown": int(r.n)
                for r in conn.execute(
                    select(photos.c.skip_reason, func.count().label("n"))
                    .where(photos.c.status == STATUS_SKIPPED)
                    .group_by(photos.c.skip_reason)
                    .order_by(func.count().desc())
                )
            }
        return LibraryStats(
            folders=n_folders,
            folders_offline=n_offline_folders,
            photos=n_photos,
            embedded=n_embedded,
            skipped=n_skipped,
            offline_photos=n_offline,
            skip_reasons=reasons,
        )

    # ------------------------------------------------------------------ ranking transforms
    def ranking_transform(self, model_id: str, kind: str) -> tuple[int, int, int, bytes] | None:
        """The newest stored transform of a kind: ``(version, method, n_photos, data)``."""
        t = ranking_transforms
        query = (
            select(t.c.id, t.c.method, t.c.n_photos, t.c.data)
            .where(and_(t.c.model_id == model_id, t.c.kind == kind))
            .order_by(t.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (int(row.id), int(row.method), int(row.n_photos), bytes(row.data)) if row else None


def normalise_folder_path(path: str | Path) -> str:
    """The canonical form stored for a folder: absolute, symlinks resolved, no trailing slash."""
    return str(Path(path).expanduser().resolve())
