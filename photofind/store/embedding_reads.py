"""Reads of stored embeddings: one photo's vector, a model's vectors (all, changed, in chunks).

``Repository`` inherits these; they are kept apart from the photo and folder reads because the
vector index, the ranking, the indexer and the upgrade read vectors in bulk, and how that is
done (id order, chunked IN-lists, ``since_generation``) is its own concern.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine, and_, bindparam, func, select

from photofind.store.blobs import blob_to_vector, blobs_to_matrix
from photofind.store.blobs import chunks as _chunks
from photofind.store.schema import STATUS_OK, embeddings, photos

# Searches read a few stored vectors per query (nearest-photo checks, re-scoring): one statement
# built once, with an expanding IN, spares SQLAlchemy's per-call construction and cache-key work.
_VECTORS_BY_IDS = select(embeddings.c.photo_id, embeddings.c.vector, embeddings.c.dim).where(
    and_(embeddings.c.model_id == bindparam("model_id"), embeddings.c.photo_id.in_(bindparam("ids", expanding=True)))
)

class EmbeddingReads:
    """The embedding reads of ``Repository`` (a mixin: it needs ``engine`` and ``generation``)."""

    engine: Engine

    if TYPE_CHECKING:

        def generation(self) -> int: ...

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

    def has_vectors_of_model(self, name: str) -> bool:
        """Whether any vector was made by model ``name`` (any id ``name:...``; uses the index)."""
        query = (
            select(embeddings.c.model_id)
            .where(embeddings.c.model_id > f"{name}:", embeddings.c.model_id < f"{name};")
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def upgrade_backlog(self, old_model_id: str, new_model_id: str) -> int:
        """Photos with a vector of ``old_model_id`` but none of ``new_model_id`` that an index
        run can re-embed now (status ok, folder online).

        Walks the photos table in rowid order (``NOT INDEXED``: the status index matches nearly
        every row and would visit the table in mtime order) and looks both vectors up in the
        embeddings key (covering): 1.1 s at 1M photos where counting through the embeddings
        table read every vector's page (11 s)."""
        query = (
            "SELECT count(*) FROM photos NOT INDEXED JOIN folders ON folders.id = photos.folder_id "
            "WHERE photos.status = ? AND folders.online = 1 "
            "AND EXISTS (SELECT 1 FROM embeddings o WHERE o.photo_id = photos.id AND o.model_id = ?) "
            "AND NOT EXISTS (SELECT 1 FROM embeddings n WHERE n.photo_id = photos.id AND n.model_id = ?)"
        )
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql(query, (STATUS_OK, old_model_id, new_model_id)).scalar_one())

    def embeddings_by_ids(self, ids: Sequence[int], model_id: str) -> dict[int, np.ndarray]:
        """Stored vectors of some photos (those that have one), by photo id."""
        out: dict[int, np.ndarray] = {}
        with self.engine.connect() as conn:
            for part in _chunks(list(ids)):
                for photo_id, blob, dim in conn.execute(_VECTORS_BY_IDS, {"model_id": model_id, "ids": part}):
                    out[int(photo_id)] = blob_to_vector(blob, dim)
        return out

    def embedding_matrix(self, ids: Sequence[int], model_id: str) -> tuple[np.ndarray, np.ndarray]:
        """``(ids found, float32 vectors)`` of some photos in one matrix (faster than
        ``embeddings_by_ids`` for thousands)."""
        found: list[int] = []
        blobs: list[bytes] = []
        dim = 0
        with self.engine.connect() as conn:
            for part in _chunks([int(i) for i in ids]):
                for photo_id, blob, d in conn.execute(_VECTORS_BY_IDS, {"model_id": model_id, "ids": part}).all():
                    found.append(photo_id)
                    blobs.append(blob)
                    dim = d
        return np.asarray(found, np.int64), blobs_to_matrix(blobs, dim or 1)

    def embedding_chunks(
        self, model_id: str, chunk: int = 20_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All ``(ids, vectors)`` of one model in id order, ``chunk`` rows at a time.

        For passes over a large library without holding every vector at once (1M x 1280
        float32 is 5 GB); each chunk is its own short read.
        """
        after = -1
        while True:
            # ``model_id || ''``: not an indexable term, so SQLite walks the primary key from
            # ``after`` in photo_id order. With ``model_id = ?`` it chose the model index and
            # sorted every row of the model (vectors included) for each chunk: a whole-table
            # sort per chunk, 0.55 s instead of 0.07 s per 2,048 rows at 100k photos.
            query = (
                select(embeddings.c.photo_id, embeddings.c.vector, embeddings.c.dim)
                .where(and_((embeddings.c.model_id + "") == model_id, embeddings.c.photo_id > after))
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
