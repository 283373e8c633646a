"""The live (not deleted) labels of a vector index, as one sorted int64 array.

A Python ``set`` of a million ints costs ~59 MiB (a 32 MiB hash table plus 27 MiB of int
objects), and ~91 MiB while an index loads (bench/README.md, 1,000,000 photos); the same ids as
a sorted ``int64`` array cost 8 MB. Membership is a binary search, batch membership one
``np.searchsorted``; adding or removing a batch rebuilds the array once (O(N) memory traffic,
~1 ms at 1M ids), which suits how the index changes: in batches (an index run's checkpoint,
a catch-up), not id by id in a hot loop.

Not thread-safe: ``VectorIndex`` calls it under its own lock.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    if isinstance(ids, np.ndarray):
        return ids.astype(np.int64, copy=False).reshape(-1)
    return np.fromiter((int(i) for i in ids), dtype=np.int64)


class LiveIds:
    """A set of int64 ids kept as a sorted, duplicate-free ``numpy`` array."""

    __slots__ = ("_ids",)

    def __init__(self, ids: Iterable[int] | np.ndarray = ()) -> None:
        self._ids = np.unique(_as_ids(ids))

    @classmethod
    def from_sorted_unique(cls, ids: np.ndarray) -> LiveIds:
        """Wrap ids the caller knows are sorted and unique (no copy, no check)."""
        live = cls.__new__(cls)
        live._ids = np.asarray(ids, dtype=np.int64)
        return live

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, id_: object) -> bool:
        if not isinstance(id_, (int, np.integer)):
            return False
        i = int(np.searchsorted(self._ids, id_))
        return i < len(self._ids) and int(self._ids[i]) == int(id_)

    def contains_many(self, ids: np.ndarray) -> np.ndarray:
        """A bool per id of ``ids`` (any order, duplicates allowed): is it in the set?"""
        ids = _as_ids(ids)
        if not len(self._ids) or not len(ids):
            return np.zeros(len(ids), dtype=bool)
        pos = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return self._ids[pos] == ids

    @property
    def array(self) -> np.ndarray:
        """The ids, sorted (read-only view: copy it to keep it past the next change)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def add_many(self, ids: Iterable[int] | np.ndarray) -> None:
        ids = _as_ids(ids)
        if len(ids):
            self._ids = np.union1d(self._ids, ids)

    def discard_many(self, ids: Iterable[int] | np.ndarray) -> None:
        ids = _as_ids(ids)
        if len(ids) and len(self._ids):
            self._ids = self._ids[~np.isin(self._ids, ids)]

    def missing_from(self, other: np.ndarray) -> np.ndarray:
        """The ids of this set that ``other`` (any int array) lacks, sorted."""
        other = _as_ids(other)
        return self._ids[~np.isin(self._ids, other)]

    def equals(self, other: np.ndarray) -> bool:
        """Whether ``other`` (any int array, duplicates allowed) holds exactly these ids."""
        return np.array_equal(self._ids, np.unique(_as_ids(other)))
