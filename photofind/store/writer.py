"""Every write to the library database, inside one transaction (``Repository.write``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from photofind.store.blobs import GENERATION_KEY, blob_to_vector, vector_to_blob
from photofind.store.blobs import chunks as _chunks
from photofind.store.schema import embeddings, folders, meta, photos, ranking_transforms


# The index job writes a row and a vector per photo: statements built once, with bound
# parameters, skip SQLAlchemy's per-call construction and cache-key work (1.8 -> ~0.6 CPU ms per
# photo on the indexer's thread, measured on Corel photos).
_PHOTO_ID_BY_PATH = select(photos.c.id).where(photos.c.path == bindparam("lookup_path"))
_UPDATE_PHOTO = update(photos).where(photos.c.id == bindparam("photo_id"))
_INSERT_PHOTO = insert(photos)
_DELETE_VECTOR = delete(embeddings).where(
    and_(embeddings.c.photo_id == bindparam("vector_photo_id"), embeddings.c.model_id == bindparam("vector_model_id"))
)
_INSERT_VECTOR = insert(embeddings)


class LibraryWriter:
    """Write operations inside one transaction (see ``Repository.write``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.changed = False
        self._generation: int | None = None

    @property
    def next_generation(self) -> int:
        """The generation this transaction will commit as (stamped on the rows it writes)."""
        if self._generation is None:
            value = self.conn.execute(
                select(meta.c.value).where(meta.c.key == GENERATION_KEY)
            ).scalar()
            self._generation = (int(value) if value is not None else 0) + 1
        return self._generation

    def bump_generation(self) -> None:
        value = str(self.next_generation)
        updated = self.conn.execute(
            update(meta).where(meta.c.key == GENERATION_KEY).values(value=value)
        ).rowcount
        if not updated:
            self.conn.execute(insert(meta).values(key=GENERATION_KEY, value=value))

    # ------------------------------------------------------------------ folders
    def add_folder(self, path: str) -> int:
        existing = self.conn.execute(select(folders.c.id).where(folders.c.path == path)).scalar()
        if existing is not None:
            return int(existing)
        self.changed = True
        return int(
            self.conn.execute(
                insert(folders).values(path=path, added_at=time.time(), online=True)
            ).inserted_primary_key[0]
        )

    def absorb_folder(self, child_id: int, parent_id: int) -> None:
        """A folder added above an existing one takes over its photos (no re-indexing)."""
        self.changed = True
        self.conn.execute(update(photos).where(photos.c.folder_id == child_id).values(folder_id=parent_id))
        self.conn.execute(delete(folders).where(folders.c.id == child_id))

    def remove_folder(self, folder_id: int) -> list[int]:
        """Forget a folder and its photos (the files on disk are not touched)."""
        ids = [r[0] for r in self.conn.execute(select(photos.c.id).where(photos.c.folder_id == folder_id))]
        self.delete_photos(ids)
        self.conn.execute(delete(folders).where(folders.c.id == folder_id))
        self.changed = True
        return ids

    def set_folder_state(
        self, folder_id: int, *, online: bool, error: str | None = None, scanned: bool = False
    ) -> None:
        values: dict[str, object] = {"online": online, "last_error": error}
        if scanned:
            values["last_scan_at"] = time.time()
        self.conn.execute(update(folders).where(folders.c.id == folder_id).values(**values))

    # ------------------------------------------------------------------ photos
    def upsert_photo(
        self,
        *,
        folder_id: int,
        path: str,
        size: int,
        mtime_ns: int,
        fingerprint: str | None,
        status: str,
        width: int | None = None,
        height: int | None = None,
        skip_reason: str | None = None,
        taken: float | None = None,
        taken_source: str | None = None,
        phash: int | None = None,
    ) -> int:
        """Insert or update the row for ``path``; returns its id (stable across updates)."""
        self.changed = True
        now = time.time()
        values = dict(
            folder_id=folder_id,
            size=size,
            mtime_ns=mtime_ns,
            fingerprint=fingerprint,
            status=status,
            width=width,
            height=height,
            skip_reason=skip_reason,
            taken=taken,
            taken_source=taken_source,
            phash=phash,
            updated_at=now,
        )
        existing = self.conn.execute(_PHOTO_ID_BY_PATH, {"lookup_path": path}).scalar()
        if existing is not None:
            self.conn.execute(_UPDATE_PHOTO, {"photo_id": existing, **values})
            return int(existing)
        result = self.conn.execute(_INSERT_PHOTO, {"path": path, "added_at": now, **values})
        return int(result.inserted_primary_key[0])

    def move_photo(self, photo_id: int, *, folder_id: int, path: str, size: int, mtime_ns: int) -> None:
        """Re-point a photo that was moved or renamed; its embeddings stay valid."""
        self.changed = True
        self.conn.execute(
            update(photos)
            .where(photos.c.id == photo_id)
            .values(folder_id=folder_id, path=path, size=size, mtime_ns=mtime_ns, updated_at=time.time())
        )

    def set_taken(self, values: Sequence[tuple[int, float | None, str]]) -> None:
        """Record ``(photo id, taken, source)`` read by the backfill. Not a library change: no
        vector moved, so the generation (and every saved index) stays."""
        for photo_id, taken, source in values:
            self.conn.execute(
                update(photos).where(photos.c.id == photo_id).values(taken=taken, taken_source=source)
            )

    def set_phashes(self, values: Sequence[tuple[int, int]]) -> None:
        """Record ``(photo id, perceptual hash)`` computed by the backfill. Not a library
        change: no vector moved, so the generation (and every saved index) stays."""
        for photo_id, value in values:
            self.conn.execute(update(photos).where(photos.c.id == photo_id).values(phash=value))

    def delete_photos(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        self.changed = True
        for chunk in _chunks(list(ids)):
            self.conn.execute(delete(embeddings).where(embeddings.c.photo_id.in_(chunk)))
            self.conn.execute(delete(photos).where(photos.c.id.in_(chunk)))

    # ------------------------------------------------------------------ embeddings
    def put_embedding(self, photo_id: int, model_id: str, vector: np.ndarray) -> None:
        self.changed = True
        blob = vector_to_blob(vector)
        self.conn.execute(_DELETE_VECTOR, {"vector_photo_id": photo_id, "vector_model_id": model_id})
        self.conn.execute(
            _INSERT_VECTOR,
            {
                "photo_id": photo_id,
                "model_id": model_id,
                "dim": int(vector.shape[-1]),
                "vector": blob,
                "generation": self.next_generation,
            },
        )

    def drop_embeddings(self, photo_id: int) -> None:
        """A photo whose content changed loses its vectors of every model until re-embedded."""
        self.changed = True
        self.conn.execute(delete(embeddings).where(embeddings.c.photo_id == photo_id))

    def delete_model(self, model_id: str) -> int:
        """Forget every vector and ranking transform of ``model_id`` (a superseded model
        variant, see ``core/indexing/upgrade.py``); returns how many vectors went. Photos stay."""
        self.changed = True
        n = self.conn.execute(delete(embeddings).where(embeddings.c.model_id == model_id)).rowcount
        self.conn.execute(delete(ranking_transforms).where(ranking_transforms.c.model_id == model_id))
        return int(n or 0)

    def copy_photo_content(self, source_id: int, target_id: int, model_id: str) -> np.ndarray | None:
        """A byte-identical copy of a known photo takes its dimensions and vectors, no decode.

        Returns the copied vector of ``model_id`` (None if the source had none after all).
        """
        self.changed = True
        source = self.conn.execute(
            select(photos.c.width, photos.c.height, photos.c.phash).where(photos.c.id == source_id)
        ).first()
        if source is not None:
            self.conn.execute(
                update(photos)
                .where(photos.c.id == target_id)
                .values(width=source.width, height=source.height, phash=source.phash)
            )
        rows = self.conn.execute(
            select(embeddings.c.model_id, embeddings.c.dim, embeddings.c.vector).where(
                embeddings.c.photo_id == source_id
            )
        ).all()
        self.conn.execute(delete(embeddings).where(embeddings.c.photo_id == target_id))
        wanted: np.ndarray | None = None
        for r in rows:
            if r.model_id == model_id:
                wanted = blob_to_vector(r.vector, r.dim)
            self.conn.execute(
                insert(embeddings).values(
                    photo_id=target_id,
                    model_id=r.model_id,
                    dim=r.dim,
                    vector=r.vector,
                    generation=self.next_generation,
                )
            )
        return wanted

    # ------------------------------------------------------------------ ranking transforms
    def put_ranking_transform(
        self, model_id: str, kind: str, method: int, n_photos: int, data: bytes, keep: int = 2
    ) -> int:
        """Store a newly fitted transform; returns its version. Keeps the newest ``keep``.

        Not a library change: the generation stays, so saved vector indexes stay valid.
        """
        t = ranking_transforms
        version = self.conn.execute(
            insert(t).values(
                model_id=model_id, kind=kind, method=method, n_photos=n_photos,
                created_at=time.time(), data=data,
            )
        ).inserted_primary_key[0]
        old = select(t.c.id).where(and_(t.c.model_id == model_id, t.c.kind == kind))
        old = old.order_by(t.c.id.desc()).offset(keep)
        self.conn.execute(delete(t).where(t.c.id.in_(old.scalar_subquery())))
        return int(version)

