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

5. query side, for edited copies (issue 12; figures from ``bench/edits.py`` in the README):
   ``rotations`` and ``trim_borders`` (``search/query_views.py``: the query is also tried turned
   90/180/270 degrees and without uniform bars, the view whose nearest photos are closest wins)
   and ``copy_first`` (``search/copies.py``: an edited copy that stands out leads the results);
   for query images also ``edit_copies``, ``grey_recheck``, ``pixel_check`` and
   ``hash_candidates`` (``search/edited_copies.py``: the original of an edited copy is looked
   for in a wider pool and among the photos whose perceptual hash is close to the query's, a
   grey query compared with its candidates in grey, the pixels of the closest few compared with
   the query's, then an edit-tolerant copy test).

Stages 1-2 make a *ranking space* (``search/space.py``): the fitted PCA (stored versioned in
SQLite) and an HNSW index of the transformed, augmented vectors. It is derived data that only
the index job writes (``indexing/ranking_update.py``); searches load it and catch it up in memory.
Stages 3-4 act on one query and never need a space of their own.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import hnswlib
import numpy as np

from photofind.core.search import whitening as wh
from photofind.core.vectors.vector_index import VectorIndex

logger = logging.getLogger(__name__)



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
    # query-side robustness to edited copies (issue 12; ``search/query_views.py``, ``search/copies.py``)
    rotations: bool = True
    rotation_margin: float = 0.1
    trim_borders: bool = True
    trim_margin: float = 0.0
    copy_first: bool = True
    copy_min_sim: float = 0.8
    copy_gap: float = 0.05
    # image queries only (``search/edited_copies.py``): the original of an edited copy leads
    edit_copies: bool = True
    edit_pool: int = 100  # the ranking's candidates looked at (their model similarity re-scores them)
    edit_copy_min_sim: float = 0.7
    edit_copy_gap: float = 0.03
    grey_recheck: bool = False  # measured: no lift over the pixel check (README, issue 12)
    pixel_check: bool = True
    pixel_min_sim: float = 0.45
    pixel_min_ncc: float = 0.9
    pixel_gap: float = 0.02
    pixel_ranked: int = 3  # the ranking's first few are pixel-checked too
    hash_candidates: bool = True
    hash_max_bits: int = 8

    @classmethod
    def plain(cls) -> RankingSettings:
        """Plain cosine on the model's vectors: every stage off."""
        return cls(
            pca=False, dba=False, query_expansion=False, diffusion=False,
            rotations=False, trim_borders=False, copy_first=False, edit_copies=False,
            grey_recheck=False, pixel_check=False, hash_candidates=False,
        )

    @property
    def needs_space(self) -> bool:
        return self.pca or self.dba

    @property
    def space(self) -> SpaceSpec:
        """What defines the ranking space; query-time stages (QE, diffusion) are not part of it,
        so switching them never loads or builds another space."""
        return SpaceSpec(
            pca=self.pca, pca_dim=self.pca_dim, pca_power=self.pca_power,
            pca_shrink=self.pca_shrink, dba=self.dba, dba_k=self.dba_k, dba_alpha=self.dba_alpha,
            min_photos=self.min_photos,
        )


@dataclass(frozen=True)
class SpaceSpec:
    """The settings a ranking space is built with (see ``RankingSettings.space``)."""

    pca: bool
    pca_dim: int
    pca_power: float
    pca_shrink: float
    dba: bool
    dba_k: int
    dba_alpha: float
    min_photos: int

    def tag(self, version: int) -> str:
        """The file-name tag of this space with PCA transform ``version``."""
        tag = f"pca{version}-{self.pca_dim}" if self.pca else "raw"
        if self.dba:
            tag += f"-dba{self.dba_k}a{self.dba_alpha:g}"
        return tag

    def fits(self, transform: wh.Whitening) -> bool:
        """Whether a fitted transform is one this space asks for (a fit on fewer vectors than
        ``pca_dim`` keeps one dimension less than it had vectors)."""
        wanted = min(self.pca_dim, transform.dim_in, max(1, transform.n_fit - 1))
        return (transform.dim_out, transform.power, transform.shrink) == (
            wanted, self.pca_power, self.pca_shrink,
        )


#: The space the index job keeps on disk: the default ranking's.
DEFAULT_SPACE = RankingSettings().space


def vectors_of(index: VectorIndex, ids: np.ndarray) -> np.ndarray:
    """The stored (unit) vectors of ``ids`` from an HNSW index, float32 (len(ids), dim)."""
    return index.vectors(ids)


def augment(
    vectors: np.ndarray, neighbour_vectors: np.ndarray, neighbour_sims: np.ndarray, alpha: float
) -> np.ndarray:
    """DBA: unit rows of ``v + sum_j max(s_j, 0) ** alpha * n_j`` (neighbours: (N, k, d))."""
    w = np.maximum(neighbour_sims, 0.0) ** alpha
    out = vectors + np.einsum("nk,nkd->nd", w, neighbour_vectors)
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


#: A DBA graph of at least this many vectors is built on every core: hnswlib then inserts in a
#: thread-dependent order, so the graph (and a neighbour near a tie) can differ from run to run;
#: below it the build stays single-threaded and reproducible (tests, bench/quality.py), and
#: takes seconds anyway. At 1M photos one thread took 493 s for the graph (bench/README.md).
DBA_PARALLEL_MIN = 50_000
#: Rows augmented at a time: the neighbours' vectors of a chunk are gathered (chunk x k x dim
#: float32), never all of them at once (1M x 3 x 256 float32 is 3 GB).
DBA_CHUNK = 50_000


def augment_all(
    vectors: np.ndarray, k: int, alpha: float, threads: int = 0, chunk: int = DBA_CHUNK
) -> np.ndarray:
    """DBA of a whole set from its own k nearest neighbours (HNSW, itself excluded).

    ``threads``: for building the neighbour graph; 0 = every core from ``DBA_PARALLEL_MIN``
    vectors on, one below. The neighbour queries always use every core (each query reads the
    finished graph alone, so the answers do not depend on the threads).
    """
    n, dim = vectors.shape
    k = min(k, n - 1)
    if k <= 0:
        return vectors.astype(np.float32)
    cores = os.cpu_count() or 1
    build_threads = threads or (cores if n >= DBA_PARALLEL_MIN else 1)
    graph = hnswlib.Index(space="ip", dim=dim)
    graph.init_index(max_elements=n, ef_construction=100, M=16, random_seed=1)
    graph.add_items(vectors, np.arange(n), num_threads=build_threads)
    graph.set_ef(max(64, 2 * k))
    out = np.empty((n, dim), np.float32)
    for lo in range(0, n, max(1, chunk)):
        hi = min(n, lo + max(1, chunk))
        labels, dists = graph.knn_query(vectors[lo:hi], k=k + 1, num_threads=threads or cores)
        own = labels == np.arange(lo, hi)[:, None]
        # drop each row's own entry (or the last one if HNSW missed itself)
        keep = ~own
        keep[~own.any(axis=1), -1] = False
        labels = labels[keep].reshape(hi - lo, k).astype(np.int64)
        sims = (1.0 - dists[keep]).reshape(hi - lo, k)
        out[lo:hi] = augment(vectors[lo:hi], vectors[labels], sims, alpha)
    return out
