"""Which ranking stages run, and the library-learned vector space they run in.

Stages (each switchable in ``RankingSettings``, the ``search`` flags and the app's Search >
Ranking menu; figures in ``bench/README.md``: at the app's 288 px input each stage of the default
raises every figure on both benchmark sets, and all 27 neighbouring parameter settings of
``bench/ranking_grid.py`` meet the bars too, so the default is not a peak tuned to the sets):

1. ``pca`` - the library's own PCA (``core/search/whitening.py``, eigenvalue power 0: centring,
   rotation, 1280 -> 256): small gains on both kinds of search and a 5x smaller index. Full or
   partial whitening (power < 0) is available but off: on category search it collapses.
2. ``dba`` - database-side augmentation: every stored vector is replaced by the normalised
   ``v + sum(sim ** alpha * n)`` over its ``dba_k`` (3) nearest neighbours n (alpha 1), once, when the
   space is built (new photos get theirs when they arrive). Near-duplicates and other shots of
   the same scene pull together; measured the strongest single stage.
3. ``query_expansion`` - average QE at query time (``core/search/rerank.expand_query``), k = 2.
4. ``diffusion`` - kNN-graph diffusion over the top candidates (``core/search/rerank.diffuse``); off
   by default because it lowers UKBench (same-object) N-S while it helps Corel mAP.

``RankedSpace`` holds stages 1-2: the fitted PCA (stored versioned in SQLite through the
repository) and an HNSW index of the transformed vectors, built from the DB's raw vectors.
It is derived data: rebuilt whenever missing, and caught up from the library generation.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import hnswlib
import numpy as np

from photofind.core.search import whitening as wh
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.repository import Repository

logger = logging.getLogger(__name__)

TRANSFORM_KIND = "pca"
#: Refit the PCA once the library has grown this many times past the photos it was fitted on.
REFIT_GROWTH = 2.0


@dataclass(frozen=True)
class RankingSettings:
    """Every stage on/off plus its parameters; ``RankingSettings()`` is the app's default."""

    pca: bool = True
    dba: bool = True
    query_expansion: bool = True
    diffusion: bool = False
    pca_dim: int = wh.DEFAULT_DIM
    pca_power: float = 0.0
    pca_shrink: float = 0.0
    min_photos: int = wh.MIN_PHOTOS
    dba_k: int = 3
    dba_alpha: float = 1.0
    qe_k: int = 2
    qe_alpha: float = 0.0
    diffusion_candidates: int = 300
    diffusion_k: int = 30
    diffusion_alpha: float = 0.9

    @classmethod
    def plain(cls) -> RankingSettings:
        """Plain cosine on the model's vectors: every stage off."""
        return cls(pca=False, dba=False, query_expansion=False, diffusion=False)

    @property
    def needs_space(self) -> bool:
        return self.pca or self.dba


def vectors_of(index: VectorIndex, ids: np.ndarray) -> np.ndarray:
    """The stored (unit) vectors of ``ids`` from an HNSW index, float32 (len(ids), dim)."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        return np.zeros((0, index.dim), np.float32)
    with index._lock:
        assert index._index is not None
        return np.asarray(index._index.get_items(ids), dtype=np.float32)


def augment(
    vectors: np.ndarray, neighbour_vectors: np.ndarray, neighbour_sims: np.ndarray, alpha: float
) -> np.ndarray:
    """DBA: unit rows of ``v + sum_j max(s_j, 0) ** alpha * n_j`` (neighbours: (N, k, d))."""
    w = np.maximum(neighbour_sims, 0.0) ** alpha
    out = vectors + np.einsum("nk,nkd->nd", w, neighbour_vectors)
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def augment_all(vectors: np.ndarray, k: int, alpha: float, threads: int = 0) -> np.ndarray:
    """DBA of a whole set from its own k nearest neighbours (HNSW, itself excluded)."""
    n, dim = vectors.shape
    k = min(k, n - 1)
    if k <= 0:
        return vectors.astype(np.float32)
    graph = hnswlib.Index(space="ip", dim=dim)
    graph.init_index(max_elements=n, ef_construction=100, M=16, random_seed=1)
    graph.set_num_threads(threads or 1)
    graph.add_items(vectors, np.arange(n))
    graph.set_ef(max(64, 2 * k))
    labels, dists = graph.knn_query(vectors, k=k + 1)
    own = labels == np.arange(n)[:, None]
    # drop each row's own entry (or the last one if HNSW missed itself)
    keep = ~own
    keep[~own.any(axis=1), -1] = False
    labels = labels[keep].reshape(n, k)
    sims = (1.0 - dists[keep]).reshape(n, k)
    return augment(vectors, vectors[labels], sims, alpha)


class RankedSpace:
    """The PCA(+DBA) space of one model's vectors, with its own HNSW index (see module doc)."""

    def __init__(
        self, repo: Repository, model_id: str, dim_in: int, raw_index_path: Path,
        settings: RankingSettings,
    ) -> None:
        self.repo = repo
        self.model_id = model_id
        self.dim_in = dim_in
        self.raw_index_path = Path(raw_index_path)
        self.settings = settings
        self.transform: wh.Whitening | None = None
        self.version = 0
        self.index: VectorIndex | None = None
        self.generation = -1
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- building
    def build(self, allow_rebuild: bool = True) -> bool:
        """Load (or fit) the PCA and load (or build) the index, then catch up with the library.

        Returns False when the library is too small to learn from, or when ``allow_rebuild`` is
        False and there is no stored PCA and index file to load (the caller then builds in the
        background). Vectors are read from the DB in chunks, never all at once.
        """
        generation = self.repo.generation()
        n = len(self.repo.embedded_ids(self.model_id))
        if n < max(2, self.settings.min_photos):
            logger.info("ranking space: %d photos, plain cosine until %d", n, self.settings.min_photos)
            return False
        found = self._transform(n, allow_fit=allow_rebuild)
        if found is None:
            return False
        transform, version = found
        dim = transform.dim_out if transform is not None else self.dim_in
        index = VectorIndex(self._path(version), dim, space="ip")
        caught: dict[str, np.ndarray] = {}

        def load_all() -> tuple[np.ndarray, np.ndarray]:
            if not allow_rebuild:
                raise _NoRebuild
            return self._embed_space(transform)

        def load_changes(old_token: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
            changes = self.repo.embedding_changes(self.model_id, self.dim_in, old_token)
            if changes is None:
                return None
            live, changed_ids, changed = changes
            caught["ids"], caught["raw"] = changed_ids, changed
            return live, changed_ids, _project(changed, transform)

        try:
            outcome = index.open(load_all, str(generation), load_changes)
        except _NoRebuild:
            return False
        logger.info("ranking space v%d (%d-d) for %s: %s", version, dim, self.model_id, outcome)
        with self._lock:
            self.transform, self.version, self.index, self.generation = transform, version, index, generation
            if self.settings.dba and len(caught.get("ids", ())):
                # caught up inside open() with projected vectors: give them their DBA now
                index.add(caught["ids"], self._new_vectors(caught["ids"], caught["raw"]))
        self.catch_up()
        self.remove_other_versions()
        return True

    def _path(self, version: int) -> Path:
        s = self.settings
        tag = f"pca{version}-{s.pca_dim}" if s.pca else "raw"
        if s.dba:
            tag += f"-dba{s.dba_k}a{s.dba_alpha:g}"
        return self.raw_index_path.with_name(f"{self.raw_index_path.stem}.{tag}.hnsw")

    def _transform(self, n: int, allow_fit: bool) -> tuple[wh.Whitening | None, int] | None:
        """The stored PCA if it fits these settings and library size, else a new fit (stored)."""
        s = self.settings
        if not s.pca:
            return None, 0
        stored = self.repo.ranking_transform(self.model_id, TRANSFORM_KIND)
        if stored is not None:
            version, method, n_fit, data = stored
            t = _load_transform(data) if method == wh.METHOD_VERSION else None
            if (
                t is not None
                and n <= REFIT_GROWTH * n_fit
                and (t.dim_out, t.power, t.shrink) == (min(s.pca_dim, t.dim_in), s.pca_power, s.pca_shrink)
            ):
                return t, version
        if not allow_fit:
            return None
        t = wh.fit_whitening(self._fit_sample(n), s.pca_dim, s.pca_power, s.pca_shrink)
        try:
            version = self.repo.put_ranking_transform(
                self.model_id, TRANSFORM_KIND, t.method, n, t.to_bytes()
            )
        except Exception as exc:  # noqa: BLE001 - a read-only library still gets the space
            logger.warning("could not store the learned PCA (%s); it lives in memory only", exc)
            version = 0
        return t, version

    def _fit_sample(self, n: int) -> np.ndarray:
        """Up to ``whitening.MAX_FIT`` vectors, an even random share of every chunk."""
        rng = np.random.default_rng(0)
        share = min(1.0, wh.MAX_FIT / max(1, n))
        parts = []
        for _, chunk in self.repo.embedding_chunks(self.model_id):
            take = len(chunk) if share >= 1.0 else round(share * len(chunk))
            parts.append(chunk if take >= len(chunk) else chunk[np.sort(rng.choice(len(chunk), take, replace=False))])
        return np.concatenate(parts) if parts else np.zeros((0, self.dim_in), np.float32)

    def _embed_space(self, transform: wh.Whitening | None) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector, projected chunk by chunk, then augmented (DBA)."""
        id_parts, parts = [], []
        for ids, chunk in self.repo.embedding_chunks(self.model_id):
            id_parts.append(ids)
            parts.append(_project(chunk, transform))
        if not parts:
            return np.zeros(0, np.int64), np.zeros((0, transform.dim_out if transform else self.dim_in), np.float32)
        y = np.concatenate(parts)
        del parts
        if self.settings.dba and len(y) > 1:
            y = augment_all(y, self.settings.dba_k, self.settings.dba_alpha)
        return np.concatenate(id_parts), y

    # ----------------------------------------------------------------- keeping in step
    def catch_up(self, max_changes: int | None = None) -> bool:
        """Apply library changes since the space was built (cheap when nothing changed).

        Returns False, changing nothing, when more than ``max_changes`` vectors changed: then a
        rebuild (in the background) is the better way, and searches meanwhile use this space
        (rows are checked against the DB, so removed photos are never shown).
        """
        generation = self.repo.generation()
        if generation == self.generation or self.index is None:
            return True
        with self._lock:
            if generation == self.generation:
                return True
            changed_ids, changed = self.repo.embeddings_for(
                self.model_id, self.dim_in, since_generation=self.generation
            )
            if max_changes is not None and len(changed_ids) > max_changes:
                return False
            live = set(self.repo.embedded_ids(self.model_id).tolist())
            gone = [i for i in self.index.ids().tolist() if i not in live]
            if gone:
                self.index.remove(np.asarray(gone, dtype=np.int64))
            if len(changed_ids):
                self.index.add(changed_ids, self._new_vectors(changed_ids, changed))
            logger.debug("ranking space: +%d -%d", len(changed_ids), len(gone))
            self.generation = generation
            return True

    def _new_vectors(self, ids: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Projected (and augmented from their neighbours already in the index) new vectors."""
        assert self.index is not None
        y = _project(raw, self.transform)
        k = self.settings.dba_k
        if not self.settings.dba or len(self.index) <= k:
            return y
        n_ids, sims = self.index.search_many(y, k + 1)
        # drop an id's own old entry (a changed photo), else the last neighbour
        own = n_ids == ids[:, None]
        keep = ~own
        keep[~own.any(axis=1), -1] = False
        n_ids = n_ids[keep].reshape(len(ids), k)
        sims = sims[keep].reshape(len(ids), k)
        neighbours = vectors_of(self.index, n_ids.ravel()).reshape(len(ids), k, -1)
        return augment(y, neighbours, sims, self.settings.dba_alpha)

    def remove_other_versions(self) -> None:
        """Delete ranking index files of older PCA versions (derived data, never needed again)."""
        if self.index is None:
            return
        for path in self.raw_index_path.parent.glob(f"{self.raw_index_path.stem}.pca*.hnsw*"):
            if not path.name.startswith(self.index.path.name) and f".pca{self.version}-" not in path.name:
                try:
                    path.unlink()
                except OSError as exc:
                    logger.debug("could not remove old ranking index %s: %s", path, exc)

    def needs_refit(self) -> bool:
        t = self.transform
        return t is not None and len(self.index or ()) > REFIT_GROWTH * t.n_fit

    # ----------------------------------------------------------------- queries
    def project(self, raw_vector: np.ndarray) -> np.ndarray:
        """A raw model vector (query) in this space (no DBA: queries have no stored neighbours)."""
        return _project(raw_vector, self.transform)


class _NoRebuild(Exception):
    """Raised inside ``VectorIndex.open`` when only loading was allowed."""


def _project(raw: np.ndarray, transform: wh.Whitening | None) -> np.ndarray:
    return transform.apply(raw) if transform is not None else _unit(raw)


def _load_transform(data: bytes) -> wh.Whitening | None:
    try:
        return wh.Whitening.from_bytes(data)
    except Exception as exc:  # noqa: BLE001 - a damaged row only means a refit
        logger.warning("stored ranking transform unreadable (%s); fitting a new one", exc)
        return None


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
