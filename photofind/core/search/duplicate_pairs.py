"""The pair checks of the near-duplicate finder (``duplicates.py``): which candidate pairs
count (``Rule``: the cosine rule, the hash rule and the hash veto), and the second pass that
checks the candidates the ranking space proposed on the photos' model vectors, block by block
(``check_candidates``). Read-only, like the finder."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import numpy as np

from photofind.core.images.phash import NO_HASH, hamming
from photofind.store.repository import Repository

Progress = Callable[[int, int], None]
#: Photos whose model vectors are read at a time.
CHUNK = 2048
_PAIRS = 4096  #: candidate pairs checked at a time (those already joined are skipped)


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, a: int) -> int:
        parent = self.parent
        root = a
        while parent.get(root, root) != root:
            root = parent[root]
        while a != root:  # path compression
            parent[a], a = root, parent.get(a, a)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
            self.parent.setdefault(min(ra, rb), min(ra, rb))

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for a in list(self.parent):
            out.setdefault(self.find(a), []).append(a)
        return [sorted(g) for g in out.values() if len(g) > 1]


class Rule:
    """Which candidate pairs count, given their model similarities (and counts for the log)."""

    def __init__(
        self, threshold: float, hashes: Hashes | None, hash_floor: float | None, max_hamming: int,
        veto_hamming: int | None,
    ) -> None:
        self.threshold, self.hashes = threshold, hashes
        self.hash_floor, self.max_hamming, self.veto_hamming = hash_floor, max_hamming, veto_hamming
        self.checked = self.pairs = self.by_hash = self.vetoed = 0

    def join(self, uf: UnionFind, a: np.ndarray, b: np.ndarray, s: np.ndarray) -> None:
        """Union the pairs ``(a, b)`` of model similarity ``s`` that count."""
        self.checked += len(a)
        if not len(a):
            return
        hits = s >= self.threshold
        if self.hashes is not None and self.veto_hamming is not None:
            far = self.hashes.apart(a, b, self.veto_hamming) & hits
            self.vetoed += int(far.sum())
            hits &= ~far
        if self.hashes is not None and self.hash_floor is not None:
            confirmed = ~hits & (s >= self.hash_floor) & self.hashes.close(a, b, self.max_hamming)
            self.by_hash += int(confirmed.sum())
            hits |= confirmed
        for x, y in zip(a[hits].tolist(), b[hits].tolist()):
            uf.union(x, y)
        self.pairs += int(hits.sum())


def check_candidates(
    repo: Repository, model_id: str, a: np.ndarray, b: np.ndarray, rank: np.ndarray, rule: Rule, uf: UnionFind, *,
    progress: Progress | None, done: int, total: int, cancel: threading.Event | None,
) -> None:
    """The model similarity of every candidate pair, block by block: photos ordered by the
    connected pieces the candidate pairs make (a pair never leaves its piece), cut into blocks
    of about ``CHUNK`` photos without splitting a piece, so each block's vectors are read once
    and nearly every pair finds both of its photos in its block. Only a piece larger than a
    block has pairs across blocks; their other photo is read for them (``_with_outside``).
    Memory: one block of model vectors, as the first pass.

    Work: each pair once (a photo and its neighbour usually find each other), and a pair whose
    photos are already joined through other pairs is not computed (it could not change a group):
    nearest neighbours first (``rank``: 1 = a photo's nearest), so in a burst of 100 shots the
    first ranks make the group and most of its 400 further pairs are skipped."""
    if not len(a):
        return
    key = np.minimum(a, b) << 32 | np.maximum(a, b)
    first = np.lexsort((rank, key))  # by pair, its best rank first
    key, rank = key[first], rank[first]
    once = np.r_[True, key[1:] != key[:-1]]
    key, rank = key[once], rank[once]
    a, b = key >> 32, key & 0xFFFFFFFF
    pieces = UnionFind()
    for x, y in zip(a.tolist(), b.tolist()):
        pieces.union(x, y)
    order = sorted(pieces.parent, key=lambda i: (pieces.find(i), i))
    root = np.array([pieces.find(i) for i in order], np.int64)
    ids_sorted = np.array(order, np.int64)
    cut = [0]
    starts = np.flatnonzero(np.r_[True, root[1:] != root[:-1]])  # where each piece begins
    for start in starts.tolist()[1:]:
        if start - cut[-1] >= CHUNK:
            cut.append(start)
    cut.append(len(order))
    block_of = np.empty(len(order), np.int64)
    for n, (lo, hi) in enumerate(itertools.pairwise(cut)):
        block_of[lo:hi] = n
    pos = np.argsort(ids_sorted)
    by_id = ids_sorted[pos]
    pair_block = block_of[pos[np.searchsorted(by_id, a)]]
    pair_order = np.lexsort((rank, pair_block))  # by block, nearest neighbours first
    a, b, rank, pair_block = a[pair_order], b[pair_order], rank[pair_order], pair_block[pair_order]
    bounds = np.searchsorted(pair_block, np.arange(len(cut)))
    for n, (lo, hi) in enumerate(itertools.pairwise(cut)):
        if cancel is not None and cancel.is_set():
            return
        block_ids = np.sort(ids_sorted[lo:hi])
        got_ids, got = repo.embedding_matrix(block_ids.tolist(), model_id)
        present = np.argsort(got_ids)
        got_ids, raw = got_ids[present], unit(got[present]) if len(got) else got
        pa, pb, pr = (x[bounds[n]:bounds[n + 1]] for x in (a, b, rank))
        if len(got_ids):
            ok = np.isin(pa, got_ids, assume_unique=False)
            pa, pb, pr = pa[ok], pb[ok], pr[ok]
            look_ids, look_vec = _with_outside(repo, model_id, got_ids, raw, pb)
            # a step per neighbour rank (at most _PAIRS pairs): the pairs already joined by the
            # ranks before are skipped
            steps = sorted({*np.flatnonzero(np.r_[True, pr[1:] != pr[:-1]]).tolist(), *range(0, len(pa), _PAIRS)})
            for at, end in itertools.pairwise([*steps, len(pa)]):
                xa, xb = pa[at:end], pb[at:end]
                find = uf.find
                apart = np.fromiter((find(x) != find(y) for x, y in zip(xa.tolist(), xb.tolist())), bool, len(xa))
                xa, xb = xa[apart], xb[apart]
                rule.join(uf, xa, xb, _similarities(look_ids, look_vec, got_ids, raw, xa, xb))
        done += hi - lo
        if progress is not None:
            progress(min(done, total), total)
    if progress is not None:
        progress(total, total)


class Hashes:
    """The library's perceptual hashes (ids sorted), looked up per candidate pair."""

    def __init__(self, ids: np.ndarray, values: np.ndarray) -> None:
        self.ids, self.values = ids, values

    @property
    def count(self) -> int:
        return len(self.ids)

    def of(self, x: np.ndarray) -> np.ndarray:
        """The hash of each id in ``x`` (NO_HASH for ids without one)."""
        if not len(self.ids):
            return np.full(len(x), NO_HASH, np.int64)
        pos = np.minimum(np.searchsorted(self.ids, x), len(self.ids) - 1)
        return np.where(self.ids[pos] == x, self.values[pos], NO_HASH)

    def close(self, a: np.ndarray, b: np.ndarray, max_hamming: int) -> np.ndarray:
        """Whether both photos of each pair have a hash and the two differ in <= max_hamming bits."""
        ha, hb = self.of(a), self.of(b)
        return (ha != NO_HASH) & (hb != NO_HASH) & (hamming(ha, hb) <= max_hamming)

    def apart(self, a: np.ndarray, b: np.ndarray, veto_hamming: int) -> np.ndarray:
        """Whether both photos of each pair have a hash and the two differ in > veto_hamming bits."""
        ha, hb = self.of(a), self.of(b)
        return (ha != NO_HASH) & (hb != NO_HASH) & (hamming(ha, hb) > veto_hamming)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _with_outside(
    repo: Repository, model_id: str, ids: np.ndarray, raw: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``ids``/``raw`` (sorted ids and their unit vectors) plus the vectors of the ids of ``b``
    outside them, read from the store; sorted by id."""
    outside = np.setdiff1d(np.unique(b), ids)
    if not len(outside):
        return ids, raw
    got_ids, got = repo.embedding_matrix(outside.tolist(), model_id)
    all_ids = np.concatenate([ids, got_ids])
    all_vec = np.concatenate([raw, unit(got) if len(got) else raw[:0]])
    order = np.argsort(all_ids, kind="stable")
    return all_ids[order], all_vec[order]


def _similarities(
    look_ids: np.ndarray, look_vec: np.ndarray, ids: np.ndarray, raw: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Model cosine similarity of each pair (a in ``ids``, b in ``look_ids``); -1 when b has no
    stored vector."""
    if not len(a):
        return np.zeros(0, np.float32)
    pos = np.minimum(np.searchsorted(look_ids, b), len(look_ids) - 1)
    present = look_ids[pos] == b
    sims = np.einsum("ij,ij->i", raw[np.searchsorted(ids, a)], look_vec[pos])
    return np.where(present, sims, -1.0)
