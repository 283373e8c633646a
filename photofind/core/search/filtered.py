"""A search index seen through a filter: the k nearest photos *that pass*, never fewer when k
pass.

``FilteredIndex`` wraps a ``VectorIndex`` (the ranking space's or the model's) with the sorted
ids a ``PhotoFilter`` lets through (``Repository.shown_ids``) and answers ``search`` like the
index does. A filter that keeps few photos (up to ``EXACT_MAX``, or under ``EXACT_SHARE`` of
the index) is searched exactly: the kept photos' vectors times the query, which at 100k photos
and a 1 % filter is 1,000 dot products. A broader filter asks the HNSW index for more
candidates (about k / share of the library), doubling until k pass or the index is exhausted.
"""

from __future__ import annotations

import math

import numpy as np

from photofind.core.vectors.vector_index import VectorIndex

#: Filters that keep at most this many photos are searched exactly.
EXACT_MAX = 20_000
#: ... and so are filters that keep less than this share of the index.
EXACT_SHARE = 0.05


class FilteredIndex:
    """The parts of the ``VectorIndex`` interface a search uses, restricted to ``allowed``."""

    def __init__(self, index: VectorIndex, allowed: np.ndarray) -> None:
        self.index = index
        allowed = np.asarray(allowed, np.int64)
        self._total = max(1, len(index))
        self.exact = len(allowed) <= EXACT_MAX or len(allowed) < EXACT_SHARE * self._total
        if self.exact:  # only photos the index holds (one that is being added is not searched yet)
            allowed = allowed[index.contains_many(allowed)]
        self.allowed = allowed  # sorted; for a broad filter an upper bound of what the index holds
        self._vectors: np.ndarray | None = None

    @property
    def path(self):  # type: ignore[no-untyped-def]
        return self.index.path

    def __len__(self) -> int:
        return len(self.allowed)

    def contains(self, id_: int) -> bool:
        i = np.searchsorted(self.allowed, id_)
        return bool(i < len(self.allowed) and self.allowed[i] == id_)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.index.vectors(ids)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(int(k), len(self.allowed))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        q = np.asarray(vector, np.float32).reshape(-1)
        if self.exact:
            if self._vectors is None:
                self._vectors = self.index.vectors(self.allowed)
            sims = self._vectors @ q
            top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
            top = top[np.argsort(-sims[top], kind="stable")]
            return self.allowed[top], sims[top].astype(np.float32)
        share = len(self.allowed) / self._total
        want = min(self._total, math.ceil(k / share * 1.5) + 8)
        while True:
            ids, sims = self.index.search(q, want)
            keep = np.isin(ids, self.allowed, assume_unique=True)
            if keep.sum() >= k or want >= self._total:
                return ids[keep][:k], sims[keep][:k]
            want = min(self._total, want * 2)
