"""A ranking space in memory: the library's PCA and an HNSW index of its projected, augmented
vectors (stages 1-2 of ``search/ranking.py``).

This module only reads. ``RankingSpace.load`` takes what the index job saved (the stored PCA
transform and the space's index file) and ``catch_up`` brings it in step with the library in
memory; ``RankingSpace.build`` makes a space in memory from the database (a ranking variant the
index job does not keep, a library on a read-only medium). The index job
(``indexing/ranking_update.py``) uses the same two and is the only one that saves.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from photofind.core.search import whitening as wh
from photofind.core.search.ranking import SpaceSpec, augment, augment_all, vectors_of
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.repository import Repository

logger = logging.getLogger(__name__)

TRANSFORM_KIND = "pca"
#: Refit the PCA once the library has grown this many times past the photos it was fitted on.
REFIT_GROWTH = 2.0
#: More changed vectors than this (or a tenth of the space) are not caught up one by one: the
#: space is rebuilt (by the index job), or a newer saved one is loaded (by a search).
CATCH_UP_MAX = 2_000


def space_path(raw_index_path: Path, spec: SpaceSpec, version: int) -> Path:
    """The index file of a space next to its model's own index file."""
    return raw_index_path.with_name(f"{raw_index_path.stem}.{spec.tag(version)}.hnsw")


def catch_up_limit(size: int) -> int:
    return max(CATCH_UP_MAX, size // 10)


def stored_transform(
    repo: Repository, model_id: str, spec: SpaceSpec, n_photos: int
) -> tuple[wh.Whitening, int] | None:
    """The newest stored PCA and its version, if it fits ``spec`` and a library of ``n_photos``
    (not grown more than ``REFIT_GROWTH`` times past the photos it was fitted on)."""
    stored = repo.ranking_transform(model_id, TRANSFORM_KIND)
    if stored is None:
        return None
    version, method, n_fit, data = stored
    if method != wh.METHOD_VERSION:
        return None
    try:
        transform = wh.Whitening.from_bytes(data)
    except Exception as exc:  # noqa: BLE001 - a damaged row only means a refit
        logger.warning("stored ranking transform unreadable (%s); fitting a new one", exc)
        return None
    if n_photos > REFIT_GROWTH * n_fit or not spec.fits(transform):
        return None
    return transform, version


def fit_transform(repo: Repository, model_id: str, dim_in: int, spec: SpaceSpec, n_photos: int) -> wh.Whitening:
    """Fit the PCA on up to ``whitening.MAX_FIT`` stored vectors, an even share of every chunk."""
    rng = np.random.default_rng(0)
    share = min(1.0, wh.MAX_FIT / max(1, n_photos))
    parts = []
    for _, chunk in repo.embedding_chunks(model_id):
        take = len(chunk) if share >= 1.0 else round(share * len(chunk))
        parts.append(chunk if take >= len(chunk) else chunk[np.sort(rng.choice(len(chunk), take, replace=False))])
    sample = np.concatenate(parts) if parts else np.zeros((0, dim_in), np.float32)
    return wh.fit_whitening(sample, spec.pca_dim, spec.pca_power, spec.pca_shrink)


class RankingSpace:
    """One space: its transform (None without PCA), its index, and the library generation the
    index is in step with. Thread-safe: searches of several threads may share one."""

    def __init__(
        self, model_id: str, dim_in: int, spec: SpaceSpec, transform: wh.Whitening | None,
        version: int, index: VectorIndex, generation: int,
    ) -> None:
        self.model_id = model_id
        self.dim_in = dim_in
        self.spec = spec
        self.transform = transform
        self.version = version
        self.index = index
        self.generation = generation
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- making one
    @classmethod
    def load(
        cls, repo: Repository, model_id: str, dim_in: int, raw_index_path: Path, spec: SpaceSpec
    ) -> RankingSpace | None:
        """The space the index job saved (its file may be behind the library: ``catch_up``), or
        None when there is none for ``spec`` and the stored transform. Writes nothing."""
        transform, version = None, 0
        if spec.pca:
            found = stored_transform(repo, model_id, spec, repo.embedding_count(model_id))
            if found is None:
                return None
            transform, version = found
        dim = transform.dim_out if transform is not None else dim_in
        index = VectorIndex(space_path(raw_index_path, spec, version), dim, space="ip")
        token = index.load()
        if token is None:
            return None
        try:
            generation = int(token)
        except ValueError:
            return None
        logger.info("ranking space %s: loaded %d vectors (generation %d)", index.path.name, len(index), generation)
        return cls(model_id, dim_in, spec, transform, version, index, generation)

    @classmethod
    def build(
        cls, repo: Repository, model_id: str, dim_in: int, raw_index_path: Path, spec: SpaceSpec,
        transform: tuple[wh.Whitening, int] | None = None,
    ) -> RankingSpace | None:
        """A space made in memory from the stored vectors, or None for a library too small to
        learn from. Without ``transform`` the stored PCA is used if it fits, else one is fitted
        in memory (version 0, never stored here)."""
        generation = repo.generation()
        n = repo.embedding_count(model_id)
        if n < max(2, spec.min_photos):
            logger.debug("ranking space: %d photos, plain cosine until %d", n, spec.min_photos)
            return None
        t, version = None, 0
        if spec.pca:
            found = transform or stored_transform(repo, model_id, spec, n)
            t, version = found if found is not None else (fit_transform(repo, model_id, dim_in, spec, n), 0)
        dim = t.dim_out if t is not None else dim_in
        index = VectorIndex(space_path(raw_index_path, spec, version), dim, space="ip")
        ids, vectors = _projected_all(repo, model_id, dim, t, spec)
        index.rebuild(ids, vectors)
        logger.info("ranking space %s: built %d vectors in memory", index.path.name, len(index))
        return cls(model_id, dim_in, spec, t, version, index, generation)

    # ----------------------------------------------------------------- keeping in step
    def catch_up(self, repo: Repository, max_changes: int | None = None) -> bool:
        """Apply the library's changes since ``generation`` in memory (cheap when none).

        Returns False, changing nothing, when more than ``max_changes`` vectors changed or the
        library went back in time (a restored backup): the caller then loads or builds anew.
        """
        generation = repo.generation()
        if generation == self.generation:
            return True
        with self._lock:
            if generation == self.generation:
                return True
            if generation < self.generation:
                return False
            changed_ids, changed = repo.embeddings_for(self.model_id, self.dim_in, since_generation=self.generation)
            if max_changes is not None and len(changed_ids) > max_changes:
                return False
            held = self.index.ids()
            gone = held[~np.isin(held, repo.embedded_ids(self.model_id))]
            if len(gone):
                self.index.remove(gone)
            if len(changed_ids):
                self.index.add(changed_ids, self._new_vectors(changed_ids, changed))
            logger.debug("ranking space %s: +%d -%d", self.index.path.name, len(changed_ids), len(gone))
            self.generation = generation
            return True

    def _new_vectors(self, ids: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Projected new vectors, augmented (DBA) from their neighbours already in the space."""
        y = self.project(raw)
        k = self.spec.dba_k
        if not self.spec.dba or len(self.index) <= k:
            return y
        n_ids, sims = self.index.search_many(y, k + 1)
        # drop an id's own old entry (a changed photo), else the last neighbour
        own = n_ids == ids[:, None]
        keep = ~own
        keep[~own.any(axis=1), -1] = False
        n_ids = n_ids[keep].reshape(len(ids), k)
        sims = sims[keep].reshape(len(ids), k)
        neighbours = vectors_of(self.index, n_ids.ravel()).reshape(len(ids), k, -1)
        return augment(y, neighbours, sims, self.spec.dba_alpha)

    # ----------------------------------------------------------------- queries
    def project(self, raw_vector: np.ndarray) -> np.ndarray:
        """A raw model vector (a query) in this space (no DBA: a query has no stored neighbours)."""
        return _project(raw_vector, self.transform)


def _projected_all(
    repo: Repository, model_id: str, dim: int, transform: wh.Whitening | None, spec: SpaceSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Every stored vector, projected chunk by chunk (never all raw vectors at once), then
    augmented (DBA)."""
    id_parts, parts = [], []
    for ids, chunk in repo.embedding_chunks(model_id):
        id_parts.append(ids)
        parts.append(_project(chunk, transform))
    if not parts:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    y = np.concatenate(parts)
    del parts
    if spec.dba and len(y) > 1:
        y = augment_all(y, spec.dba_k, spec.dba_alpha)
    return np.concatenate(id_parts), y


def _project(raw: np.ndarray, transform: wh.Whitening | None) -> np.ndarray:
    if transform is not None:
        return transform.apply(raw)
    x = np.asarray(raw, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
