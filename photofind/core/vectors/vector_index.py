"""The HNSW index of one model's embeddings: derived data, always rebuildable from SQLite.

One ``VectorIndex`` owns one index file plus a JSON sidecar (``<path>.json``) that records the
settings, the library state the file was built from (``state_token``), and the size and xxhash
of the file bytes. ``open()`` loads the file only when all of that matches (``index_files``), so
hnswlib never reads a doubtful file; anything doubtful is rebuilt from the database instead. The
files are written crash-safely with ``atomic_files`` (temp file, fsync, ``os.replace``, sidecar
last).

hnswlib is not safe for searching while inserting (nmslib/hnswlib #562), so every call into the
live ``hnswlib.Index`` happens under one ``RLock`` (``_lock``). Writers (add, remove, rebuild,
save, open) are further serialised by ``_write_lock`` (always taken before ``_lock``), which lets
``rebuild`` build a fresh graph and ``save`` hash/fsync the file without holding ``_lock``, so
searches keep working on the old index meanwhile.

Facts about hnswlib 0.8 this relies on (checked against its source and by tests):
``get_ids_list()`` and ``get_current_count()`` include elements marked deleted; ``add_items``
with an existing label updates its vector, but with ``allow_replace_deleted=True`` it refuses a
label that is marked deleted (we ``unmark_deleted`` first); ``add_items(replace_deleted=True)``
puts new labels into deleted slots and drops the old labels from the index; used with a label
that already exists it would create a duplicate, so updates and new labels go in separate calls.
Which labels are deleted is not queryable from Python, so we keep that set ourselves and store
it in the sidecar. The live labels are kept as a sorted int64 array (``LiveIds``): 8 MB at a
million photos where a Python set took 59 MiB.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import hnswlib
import numpy as np

# Bound to these module names so a test can swap ``_atomic_write_bytes`` here to stage a crash.
from photofind.core.vectors.atomic_files import atomic_write_bytes as _atomic_write_bytes
from photofind.core.vectors.atomic_files import file_hash as _file_hash
from photofind.core.vectors.atomic_files import fsync_dir as _fsync_dir
from photofind.core.vectors.atomic_files import temp_path as _temp_path
from photofind.core.vectors.hnsw_graph import (
    exact_knn,
    insert_shuffled,
    knn_widening,
    new_graph,
    validated_batch,
)
from photofind.core.vectors.index_files import load_verified, sidecar_fields, sidecar_path
from photofind.core.vectors.live_ids import LiveIds

log = logging.getLogger(__name__)

_MIN_CAPACITY = 1024
_GROWTH = 1.5
_ADVISE_REBUILD_MIN = 10_000
_SPACES = ("cosine", "ip")  # both report distance = 1 - dot, so similarity = 1 - distance

LoadAll = Callable[[], tuple[np.ndarray, np.ndarray]]
LoadChanges = Callable[[str], "tuple[np.ndarray, np.ndarray, np.ndarray] | None"]


class VectorIndex:
    """Approximate nearest-neighbour search over unit vectors keyed by int64 ids (DB row ids)."""

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        space: str = "cosine",
        num_threads: int | None = None,
    ) -> None:
        if space not in _SPACES:
            raise ValueError(f"space must be one of {_SPACES}, not {space!r}")
        if dim <= 0:
            raise ValueError(f"dim must be positive, not {dim}")
        self.path = Path(path)
        self.meta_path = sidecar_path(self.path)
        self.dim = int(dim)
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self.space = space
        self.num_threads = int(num_threads) if num_threads else (os.cpu_count() or 1)
        self._lock = threading.RLock()
        self._write_lock = threading.RLock()
        self._index: hnswlib.Index | None = None
        self._live = LiveIds()
        self._deleted: set[int] = set()
        self._added_since_rebuild = 0
        self._stale_token: str | None = None
        # The state token the file on disk holds for exactly these contents (None once they
        # change): saving the same state again is skipped, so an index run that changed
        # nothing, or a watcher run per copied photo at 100k photos, doesn't rewrite 500 MB.
        self._saved_token: str | None = None

    # ----------------------------------------------------------------------------- queries

    def __len__(self) -> int:
        """Number of live (not deleted) vectors."""
        with self._lock:
            return len(self._live)

    def contains(self, id_: int) -> bool:
        with self._lock:
            return int(id_) in self._live

    def contains_many(self, ids: np.ndarray) -> np.ndarray:
        """A bool per id of ``ids``: is it live in the index?"""
        with self._lock:
            return self._live.contains_many(np.asarray(ids, dtype=np.int64))

    def ids(self) -> np.ndarray:
        """The live ids, sorted, as int64."""
        with self._lock:
            return self._live.array.copy()

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids`` (which must be in the index), float32 (len(ids), dim)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        with self._lock:
            if len(ids) == 0 or self._index is None:
                return np.zeros((0, self.dim), np.float32)
            return np.asarray(self._index.get_items(ids), dtype=np.float32)

    @property
    def capacity(self) -> int:
        """How many elements (live or deleted) fit before the next resize."""
        with self._lock:
            return 0 if self._index is None else int(self._index.get_max_elements())

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest live ids to one query (1-D, or 2-D with one row), best first.

        Returns ``(ids int64 [k'], similarities float32 [k'])`` with ``k' = min(k, len(self))``.
        """
        q = np.asarray(vector, dtype=np.float32)
        if q.ndim == 2 and q.shape[0] == 1:
            q = q[0]
        if q.ndim != 1:
            raise ValueError(f"search takes one vector, got shape {q.shape}")
        ids, sims = self._query(q[None, :], k, threads=1)
        return ids[0], sims[0]

    def search_many(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch search: ``(ids int64 [Q, k'], similarities float32 [Q, k'])``."""
        q = np.asarray(vectors, dtype=np.float32)
        if q.ndim != 2:
            raise ValueError(f"search_many takes a 2-D array, got shape {q.shape}")
        return self._query(q, k, threads=self.num_threads)

    def _query(self, q: np.ndarray, k: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
        if q.shape[1] != self.dim:
            raise ValueError(f"query has dimension {q.shape[1]}, index has {self.dim}")
        with self._lock:
            k = min(int(k), len(self._live))
            if self._index is None or k <= 0 or q.shape[0] == 0:
                empty = (q.shape[0], 0)
                return np.empty(empty, np.int64), np.empty(empty, np.float32)
            try:
                labels, dists = knn_widening(self._index, q, k, self.ef_search, threads)
            except RuntimeError as exc:
                log.warning("vector index %s: %s; searching exactly", self.path.name, exc)
                labels, dists = exact_knn(self._index, self._live.array, q, k, self.space)
        return labels.astype(np.int64), (1.0 - dists).astype(np.float32)

    # ----------------------------------------------------------------------------- writes

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert vectors; an id already present (live or removed) gets the new vector."""
        ids, vectors = validated_batch(ids, vectors, self.dim)
        if len(ids) == 0:
            return
        with self._write_lock, self._lock:
            if self._index is None:
                self._index = self._new_index(max(_MIN_CAPACITY, len(ids)))
            index = self._index
            id_list = ids.tolist()
            self._saved_token = None
            revived = [i for i in id_list if i in self._deleted]
            for i in revived:
                index.unmark_deleted(i)  # must precede the update when replace is allowed
                self._deleted.discard(i)
            self._live.add_many(revived)
            is_new = ~self._live.contains_many(ids)
            n_new = int(is_new.sum())
            if n_new < len(ids):
                insert_shuffled(index, ids[~is_new], vectors[~is_new], self.num_threads)
            if n_new:
                self._reserve(n_new)
                n_deleted = len(self._deleted)
                insert_shuffled(
                    index, ids[is_new], vectors[is_new], self.num_threads, replace_deleted=True
                )
                self._live.add_many(ids[is_new])
                self._added_since_rebuild += n_new
                if n_deleted:
                    # New labels took over deleted slots; those old labels are gone now.
                    if n_new >= n_deleted:
                        self._deleted.clear()
                    else:
                        held = LiveIds(np.asarray(index.get_ids_list(), dtype=np.int64))
                        self._deleted = {i for i in self._deleted if i in held}

    def remove(self, ids: Iterable[int] | np.ndarray) -> None:
        """Hide ids from searches (``mark_deleted``); ids not present are ignored."""
        with self._write_lock, self._lock:
            if self._index is None:
                return
            ids = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
            ids = ids[self._live.contains_many(ids)]
            if not len(ids):
                return
            self._saved_token = None
            for i in ids.tolist():
                self._index.mark_deleted(i)
            self._live.discard_many(ids)
            self._deleted.update(ids.tolist())

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the whole contents with these vectors (a fresh graph, no deleted slots).

        The new graph is built without holding the search lock, so searches keep answering from
        the old one until the swap.
        """
        ids, vectors = validated_batch(ids, vectors, self.dim)
        with self._write_lock:
            index = self._new_index(max(_MIN_CAPACITY, len(ids) + len(ids) // 10))
            if len(ids):
                insert_shuffled(index, ids, vectors, self.num_threads)
            with self._lock:
                self._index = index
                self._live = LiveIds(ids)
                self._deleted = set()
                self._added_since_rebuild = 0
                self._saved_token = None

    @property
    def rebuild_advised(self) -> bool:
        """True when most vectors arrived through ``add`` rather than a (shuffled) rebuild.

        Vectors added in library order (a folder's near-duplicate bursts one after another)
        can leave tight clusters poorly linked to the rest of the graph, and queries then miss
        them whatever ``ef`` is (bench/search.py --incremental measures it). A rebuild inserts
        in shuffled order and fixes that; ``compact()`` does it from the index's own vectors.
        """
        with self._lock:
            return self._added_since_rebuild > max(len(self._live) // 2, _ADVISE_REBUILD_MIN)

    def compact(self) -> None:
        """Rebuild from the index's own live vectors: drops deleted slots, reshuffles the graph.

        Peak memory is about twice the index size while it runs.
        """
        with self._write_lock:
            with self._lock:
                if self._index is None or not self._live:
                    ids = np.empty(0, np.int64)
                    vectors = np.empty((0, self.dim), np.float32)
                else:
                    ids = self._live.array.copy()
                    vectors = np.asarray(self._index.get_items(ids), dtype=np.float32)
            self.rebuild(ids, vectors)

    def _reserve(self, n_new: int) -> None:
        """Grow capacity (amortised) so ``n_new`` more elements fit without replacing slots."""
        assert self._index is not None
        needed = int(self._index.get_current_count()) + n_new
        cap = int(self._index.get_max_elements())
        if needed > cap:
            new_cap = max(needed, int(cap * _GROWTH), _MIN_CAPACITY)
            log.debug("growing vector index %s from %d to %d", self.path.name, cap, new_cap)
            self._index.resize_index(new_cap)

    def _new_index(self, capacity: int) -> hnswlib.Index:
        return new_graph(
            self.space, self.dim, capacity, m=self.m, ef_construction=self.ef_construction,
            ef_search=self.ef_search, num_threads=self.num_threads,
        )

    # ----------------------------------------------------------------------------- files

    def open(
        self, load_all: LoadAll, state_token: str, load_changes: LoadChanges | None = None
    ) -> str:
        """Load the index file if it provably matches ``state_token``, else rebuild and save.

        ``load_all()`` returns ``(ids int64 [N], vectors float32 [N, dim])`` from the database;
        it is called only when a rebuild is needed. Returns what happened, e.g. ``"loaded"`` or
        ``"rebuilt: checksum mismatch"``.

        With ``load_changes``, a sound file that is merely behind the library (saved at an
        older ``state_token``, e.g. after a kill between two checkpoints) is caught up instead of
        rebuilt: ``load_changes(old_token)`` returns ``(live_ids, changed_ids, changed_vectors)``
        (every id the library now has, and the vectors written since ``old_token``), or None
        when it cannot tell, which means rebuild.
        """
        with self._write_lock:
            reason = self._try_load(state_token, allow_stale=load_changes is not None)
            if reason is None and self._stale_token is not None and load_changes is not None:
                caught_up = self._catch_up(load_changes, self._stale_token)
                if caught_up is not None:
                    self._save_quietly(state_token)
                    log.info("vector index %s: %s", self.path.name, caught_up)
                    return caught_up
                reason = "out of step with the library"
            if reason is None:
                outcome = "loaded"
                log.info("vector index %s: loaded %d vectors", self.path.name, len(self))
                return outcome
            outcome = f"rebuilt: {reason}"
            level = logging.INFO if reason == "missing" else logging.WARNING
            log.log(level, "vector index %s: rebuilding (%s)", self.path.name, reason)
            ids, vectors = load_all()
            self.rebuild(ids, vectors)
            if not self._save_quietly(state_token):
                outcome += " (not saved)"
            log.info("vector index %s: %s, %d vectors", self.path.name, outcome, len(self))
            return outcome

    def load(self) -> str | None:
        """Read-only: load the file if its sidecar vouches for it, whatever library state it was
        saved at. Returns that state token, or None (nothing loaded) when there is no usable
        file. Never writes: searches use this, and then ``catch_up`` in memory."""
        with self._write_lock:
            if self._try_load("", allow_stale=True) is not None:
                return None
            token = self._stale_token if self._stale_token is not None else ""
            self._stale_token = None
            self._saved_token = token
            return token

    def catch_up(self, load_changes: LoadChanges, old_token: str) -> str | None:
        """Apply the library's changes since ``old_token`` in memory (nothing is saved); the
        outcome, or None when the changes cannot be told (then rebuild)."""
        with self._write_lock:
            return self._catch_up(load_changes, old_token)

    def _save_quietly(self, state_token: str) -> bool:
        """Save after open(); a read-only or full disk is logged, not raised (search still works)."""
        try:
            self.save(state_token)
        except OSError as exc:
            log.warning(
                "vector index %s: could not be saved (%s); it works from memory this time",
                self.path.name,
                exc.strerror or exc,
            )
            return False
        return True

    def _catch_up(self, load_changes: LoadChanges, old_token: str) -> str | None:
        """Apply the library's changes since ``old_token`` to the loaded index."""
        changes = load_changes(old_token)
        if changes is None:
            return None
        live_ids, changed_ids, changed_vectors = changes
        live = np.asarray(live_ids, dtype=np.int64).reshape(-1)
        with self._lock:
            gone = self._live.missing_from(live)
        if len(gone):
            self.remove(gone)
        if len(changed_ids):
            self.add(changed_ids, changed_vectors)
        with self._lock:
            if not self._live.equals(live):
                return None  # a vector the library has is neither in the file nor in the changes
        return f"caught up: {len(changed_ids)} added or updated, {len(gone)} removed"

    def _try_load(self, state_token: str, allow_stale: bool = False) -> str | None:
        """Load the file into ``self``; return None on success or why it can't be used.

        With ``allow_stale`` a file saved at another ``state_token`` is loaded too, and its
        token is left in ``_stale_token`` for the caller to catch up from.
        """
        self._stale_token = None
        loaded = load_verified(
            self.path, dim=self.dim, space=self.space, m=self.m, ef_search=self.ef_search,
            num_threads=self.num_threads, state_token=state_token, allow_stale=allow_stale,
        )
        if isinstance(loaded, str):
            return loaded
        with self._lock:
            self._index = loaded.index
            self._deleted = loaded.deleted
            self._live = loaded.live
            self._added_since_rebuild = loaded.added_since_rebuild
        if loaded.state_token != state_token:
            self._stale_token = loaded.state_token
        else:
            self._saved_token = state_token
        return None

    def save(self, state_token: str) -> None:
        """Write the index atomically, then its sidecar; ``state_token`` names the DB state.

        Both files go to a temp name in the same directory, are fsynced and swapped in with
        ``os.replace``. The sidecar goes last and carries the index file's checksum, so a crash
        in between leaves a pair that ``open()`` rejects (and rebuilds), never a wrong load.
        """
        with self._write_lock:
            if self._saved_token == state_token and self.path.is_file() and self.meta_path.is_file():
                return  # the files already hold exactly this state
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_path(self.path)
            try:
                with self._lock:
                    if self._index is None:
                        self._index = self._new_index(_MIN_CAPACITY)
                    self._index.save_index(str(tmp))
                    meta = sidecar_fields(
                        dim=self.dim, space=self.space, m=self.m,
                        ef_construction=self.ef_construction,
                        count=int(self._index.get_current_count()), live=len(self._live),
                        deleted=self._deleted, added_since_rebuild=self._added_since_rebuild,
                        state_token=state_token,
                    )
                meta["size"] = tmp.stat().st_size
                meta["xxh3_64"] = _file_hash(tmp, fsync=True)
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            _fsync_dir(self.path.parent)
            _atomic_write_bytes(self.meta_path, json.dumps(meta).encode("utf-8"))
            self._saved_token = state_token  # writers are excluded by _write_lock until here
            log.debug("vector index %s saved: %d live vectors", self.path.name, meta["live"])
