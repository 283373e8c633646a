"""The one place that owns the library's SQL.

Reads are plain methods; every write goes through a ``LibraryWriter`` obtained from
``Repository.write()``, which is one transaction: a batch of photos either lands whole or not at
all, and each committed batch advances the library ``generation`` so derived data (the HNSW
files) can tell whether they are in step.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import (
    Engine,
    and_,
    case,
    delete,
    func,
    insert,
    select,
    text,
)

from photofind.store.blobs import GENERATION_KEY, blob_to_vector, blobs_to_matrix
from photofind.store.blobs import chunks as _chunks
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


class Repository:
    """All reads and writes of the library database."""

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

    def photos_by_fingerprint(
        self, fingerprints: Iterable[str], model_id: str | None = None
    ) -> dict[str, list[PhotoRow]]:
        wanted = sorted(set(fingerprints))
        found: dict[str, list[PhotoRow]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                query = (
                    select(*_photo_columns(), _embedded_flag(model_id))
                    .select_from(photos.join(folders))
                    .where(photos.c.fingerprint.in_(chunk))
                )
                for r in conn.execute(query):
                    found.setdefault(r.fingerprint, []).append(_photo_row(r, bool(r.embedded)))
        return found

    def photos_by_ids(self, ids: Iterable[int]) -> dict[int, PhotoRow]:
        wanted = [int(i) for i in ids]
        result: dict[int, PhotoRow] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                query = (
                    select(*_photo_columns())
                    .select_from(photos.join(folders))
                    .where(photos.c.id.in_(chunk))
                )
                for r in conn.execute(query):
                    result[r.id] = _photo_row(r)
        return result

    def photo_by_path(self, path: str) -> PhotoRow | None:
        query = select(*_photo_columns()).select_from(photos.join(folders)).where(photos.c.path == path)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _photo_row(row) if row else None

    def recent_photos(
        self, limit: int, offset: int = 0, folder_id: int | None = None
    ) -> list[PhotoRow]:
        """Embedded, online photos, newest file first (for browsing without a query)."""
        query = (
            select(*_photo_columns())
            .select_from(photos.join(folders))
            .where(and_(photos.c.status == STATUS_OK, folders.c.online.is_(True)))
        )
        if folder_id is not None:
            query = query.where(photos.c.folder_id == folder_id)
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

    # ------------------------------------------------------------------ embeddings
    def embedding(self, photo_id: int, model_id: str) -> np.ndarray | None:
        query = select(embeddings.c.vector, embeddings.c.dim).where(
            and_(embeddings.c.photo_id == photo_id, embeddings.c.model_id == model_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return blob_to_vector(row.vector, row.dim) if row else None

    def embeddings_for(
        self, model_id: str, dim: int = 0, since_generation: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """All ``(ids, vectors)`` of one model, or only those written after a generation.

        ``dim`` only shapes the empty result when there are no vectors yet.
        """
        query = select(embeddings.c.photo_id, embeddings.c.vector, embeddings.c.dim).where(
            embeddings.c.model_id == model_id
        )
        if since_generation is not None:
            query = query.where(embeddings.c.generation > since_generation)
        query = query.order_by(embeddings.c.photo_id)
        ids: list[int] = []
        blobs: list[bytes] = []
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                ids.append(r.photo_id)
                blobs.append(r.vector)
                dim = r.dim
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32)
        return np.asarray(ids, dtype=np.int64), blobs_to_matrix(blobs, dim)

    def embedding_changes(
        self, model_id: str, dim: int, since_token: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """For catching up a saved vector index: ``(live_ids, changed_ids, changed_vectors)``.

        ``since_token`` is the generation the index was saved at; None when that cannot be
        trusted (not a number, or newer than the library: a restored backup, say).
        """
        try:
            since = int(since_token)
        except ValueError:
            return None
        if since < 0 or since > self.generation():
            return None
        changed_ids, changed_vectors = self.embeddings_for(model_id, dim, since_generation=since)
        return self.embedded_ids(model_id), changed_ids, changed_vectors

    def embedded_fingerprints(self, model_id: str) -> dict[str, int]:
        """Content fingerprint -> id of a photo that has a vector of ``model_id``."""
        query = (
            select(photos.c.fingerprint, photos.c.id)
            .select_from(photos.join(embeddings, embeddings.c.photo_id == photos.c.id))
            .where(and_(embeddings.c.model_id == model_id, photos.c.fingerprint.is_not(None)))
        )
        with self.engine.connect() as conn:
            return {r.fingerprint: int(r.id) for r in conn.execute(query)}

    def embedded_ids(self, model_id: str) -> np.ndarray:
        query = select(embeddings.c.photo_id).where(embeddings.c.model_id == model_id)
        with self.engine.connect() as conn:
            return np.fromiter((r[0] for r in conn.execute(query)), dtype=np.int64)

    def embedding_count(self, model_id: str) -> int:
        query = select(func.count()).select_from(embeddings).where(embeddings.c.model_id == model_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def upgrade_backlog(self, old_model_id: str, new_model_id: str) -> int:
        """Photos with a vector of ``old_model_id`` but none of ``new_model_id`` that an index
        run can re-embed now (status ok, folder online)."""
        new = embeddings.alias("new_embeddings")
        query = (
            select(func.count())
            .select_from(
                embeddings.join(photos, photos.c.id == embeddings.c.photo_id).join(
                    folders, folders.c.id == photos.c.folder_id
                )
            )
            .where(
                embeddings.c.model_id == old_model_id,
                photos.c.status == STATUS_OK,
                folders.c.online.is_(True),
                ~select(new.c.photo_id)
                .where(and_(new.c.photo_id == photos.c.id, new.c.model_id == new_model_id))
                .exists(),
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

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
    def embeddings_by_ids(self, ids: Sequence[int], model_id: str) -> dict[int, np.ndarray]:
        """Stored vectors of some photos (those that have one), by photo id."""
        out: dict[int, np.ndarray] = {}
        with self.engine.connect() as conn:
            for part in _chunks(list(ids)):
                query = select(embeddings.c.photo_id, embeddings.c.vector, embeddings.c.dim).where(
                    and_(embeddings.c.model_id == model_id, embeddings.c.photo_id.in_(part))
                )
                for r in conn.execute(query):
                    out[int(r.photo_id)] = blob_to_vector(r.vector, r.dim)
        return out

    def embedding_chunks(
        self, model_id: str, chunk: int = 20_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All ``(ids, vectors)`` of one model in id order, ``chunk`` rows at a time.

        For passes over a large library without holding every vector at once (1M x 1280
        float32 is 5 GB); each chunk is its own short read.
        """
        after = -1
        while True:
            query = (
                select(embeddings.c.photo_id, embeddings.c.vector, embeddings.c.dim)
                .where(and_(embeddings.c.model_id == model_id, embeddings.c.photo_id > after))
                .order_by(embeddings.c.photo_id)
                .limit(chunk)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            ids = np.fromiter((r.photo_id for r in rows), dtype=np.int64, count=len(rows))
            yield ids, blobs_to_matrix([r.vector for r in rows], int(rows[0].dim))
            after = int(ids[-1])

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

    def put_ranking_transform(
        self, model_id: str, kind: str, method: int, n_photos: int, data: bytes, keep: int = 2
    ) -> int:
        """Store a newly fitted transform; returns its version. Keeps the newest ``keep``.

        Not a library change: the generation stays, so saved vector indexes stay valid.
        """
        t = ranking_transforms
        with self.engine.begin() as conn:
            version = conn.execute(
                insert(t).values(
                    model_id=model_id, kind=kind, method=method, n_photos=n_photos,
                    created_at=time.time(), data=data,
                )
            ).inserted_primary_key[0]
            old = select(t.c.id).where(and_(t.c.model_id == model_id, t.c.kind == kind))
            old = old.order_by(t.c.id.desc()).offset(keep)
            conn.execute(delete(t).where(t.c.id.in_(old.scalar_subquery())))
        return int(version)


def normalise_folder_path(path: str | Path) -> str:
    """The canonical form stored for a folder: absolute, symlinks resolved, no trailing slash."""
    return str(Path(path).expanduser().resolve())
