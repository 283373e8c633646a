"""Direct calls into one ``hnswlib.Index``, with the care each one needs.

``VectorIndex`` keeps the bookkeeping (live and deleted labels, locks, files); the functions here
only make, fill, query and load a graph. None of them locks: hnswlib is not safe for searching
while inserting (nmslib/hnswlib #562), so the caller serialises every call on a live index.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

log = logging.getLogger(__name__)

#: Vectors handed to hnswlib per ``add_items`` call when inserting in shuffled order.
INSERT_CHUNK = 100_000


def new_graph(
    space: str,
    dim: int,
    capacity: int,
    *,
    m: int,
    ef_construction: int,
    ef_search: int,
    num_threads: int,
) -> hnswlib.Index:
    """An empty graph for ``capacity`` elements that can reuse deleted slots."""
    index = hnswlib.Index(space=space, dim=dim)
    index.init_index(
        max_elements=capacity,
        M=m,
        ef_construction=ef_construction,
        random_seed=100,
        allow_replace_deleted=True,
    )
    index.set_ef(ef_search)
    index.set_num_threads(num_threads)
    return index


def load_graph(
    path: Path, space: str, dim: int, *, ef_search: int, num_threads: int, capacity: int = 0
) -> hnswlib.Index | str:
    """The graph saved in ``path``, or why it could not be loaded.

    ``capacity``: room for this many elements (at least the file's count; 0 = the capacity it
    was saved with). A rebuilt graph is saved with 10 % spare room, whose per-element mutexes
    and lists hnswlib would allocate at load (~5 MB at 1M); a search that never adds need not
    pay it, and an add grows the graph as needed.

    hnswlib can crash natively on a malformed file: call this only once the file's bytes are
    proven to be ones we wrote (``index_sidecar.verified_sidecar``).
    """
    index = hnswlib.Index(space=space, dim=dim)
    try:
        index.load_index(str(path), max_elements=capacity, allow_replace_deleted=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "rebuild"
        return f"load failed ({exc})"
    index.set_ef(ef_search)
    index.set_num_threads(num_threads)
    return index


#: hnswlib 0.8's file header: offsetLevel0, max_elements, cur_element_count,
#: size_data_per_element, label_offset, offsetData (size_t each), then maxlevel (int),
#: enterpoint (uint32), maxM, maxM0, M (size_t), mult (double), ef_construction (size_t);
#: then the level-0 records, ``size_data_per_element`` bytes each, whose label (size_t) sits at
#: ``label_offset``.
_HEADER = struct.Struct("<6QiI3QdQ")
_LABELS_PER_READ = 1024  # ~1.2 MB per read at 256-d


def saved_labels(path: Path, count: int) -> np.ndarray | None:
    """The labels of the ``count`` elements saved in ``path``, in file order, read from the
    file's level-0 records (or None when the header does not describe such a file).

    ``get_ids_list()`` hands them over as a Python list: ~30 MB of int objects at 1M, at the
    moment the process also holds the freshly loaded graph, which made it the open app's peak.
    Read in blocks with ``read()`` (not mapped: mapped file pages would count in the RSS).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER.size)
            if len(head) != _HEADER.size:
                return None
            offset0, _cap, n, size, label_at = _HEADER.unpack(head)[:5]
            if offset0 != 0 or n != count or size < 8 or not 0 <= label_at <= size - 8:
                return None
            out = np.empty(n, np.int64)
            for lo in range(0, n, _LABELS_PER_READ):
                m = min(_LABELS_PER_READ, n - lo)
                block = f.read(m * size)
                if len(block) != m * size:
                    return None
                rows = np.frombuffer(block, np.uint8).reshape(m, size)
                out[lo : lo + m] = rows[:, label_at : label_at + 8].copy().view("<u8").reshape(m)
            return out
    except OSError:
        return None


def insert_shuffled(
    index: hnswlib.Index, ids: np.ndarray, vectors: np.ndarray, num_threads: int, **kwargs: Any
) -> None:
    """``add_items`` in a shuffled order: inserting a folder's near-duplicates back to back
    builds clusters that are badly connected to each other (recall@10 0.91 vs 0.998 on
    bench/search.py), while a random order links them as they grow."""
    order = np.random.default_rng(len(ids)).permutation(len(ids))
    # in slices of the shuffled order: a shuffled copy of all vectors at once is another 1 GB at
    # 1M x 256-d; one thread inserts in the same order either way
    for lo in range(0, len(order), INSERT_CHUNK):
        part = order[lo : lo + INSERT_CHUNK]
        index.add_items(vectors[part], ids[part], num_threads=num_threads, **kwargs)


def knn_widening(
    index: hnswlib.Index, q: np.ndarray, k: int, ef_search: int, threads: int
) -> tuple[np.ndarray, np.ndarray]:
    """``knn_query`` with ef >= k; retried with a wider beam if deletions starve it.

    ``ef`` is state of the whole hnswlib index, not of one query, so the caller must hold the
    index's lock for the whole call; the beam is put back to ``ef_search`` before returning, so
    one wide query never changes the next one's. Raises ``RuntimeError`` when even an exhaustive
    beam finds fewer than ``k`` (the caller then scans exactly).
    """
    ef = max(ef_search, k)
    total = int(index.get_current_count())
    try:
        for attempt in sorted({ef, max(4 * ef, 2 * k), max(total, ef)}):
            index.set_ef(attempt)
            try:
                return index.knn_query(q, k=k, num_threads=threads)
            except RuntimeError:
                # "Cannot return the results in a contiguous 2D array": too many deleted
                # neighbours for this ef. Widen the beam.
                log.debug("knn_query with ef=%d returned fewer than %d hits; widening", attempt, k)
        raise RuntimeError(f"HNSW search found fewer than {k} neighbours even with ef={total}")
    finally:
        index.set_ef(ef_search)


def exact_knn(
    index: hnswlib.Index, live_ids: np.ndarray, q: np.ndarray, k: int, space: str
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest of ``live_ids`` to each row of ``q``, as ``knn_query`` returns them
    (labels, distances = 1 - dot): the fallback when the graph cannot reach ``k`` live elements
    (parts of it cut off by deletions)."""
    vectors = np.asarray(index.get_items(live_ids), dtype=np.float32)
    qn = q
    if space == "cosine":
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    sims = qn @ vectors.T
    k = min(k, len(live_ids))
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return live_ids[top], 1.0 - np.take_along_axis(sims, top, axis=1)


def validated_batch(
    ids: np.ndarray, vectors: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ids as int64 >= 0, vectors as C-contiguous float32 [N, dim]; last duplicate id wins."""
    ids = np.asarray(ids).reshape(-1)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1 and len(ids) == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2 or vectors.shape != (len(ids), dim):
        raise ValueError(f"expected vectors of shape ({len(ids)}, {dim}), got {vectors.shape}")
    if ids.size and ids.min() < 0:
        raise ValueError("ids must be non-negative")
    if not np.isfinite(vectors).all():
        raise ValueError("vectors contain NaN or infinity")
    _, last = np.unique(ids[::-1], return_index=True)
    if len(last) != len(ids):
        keep = np.sort(len(ids) - 1 - last)
        ids, vectors = ids[keep], vectors[keep]
    return ids, np.ascontiguousarray(vectors)
