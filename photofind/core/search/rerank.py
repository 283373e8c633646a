"""Query-time re-ranking of the top candidates, from their stored vectors (no decoding).

Two stages, both working on the ``N`` best candidates of the first (cosine) search only, so
their cost does not grow with the library (a few ms at N = 300 on one core):

* ``expand_query`` - alpha query expansion (Radenovic et al. 2018): the query is replaced by the
  weighted mean of itself and its top ``k`` neighbours, weights ``sim ** alpha``. With k = 2 the
  "other shots" of the same scene pull the query towards what they share.
* ``diffuse`` - manifold ranking by diffusion on a kNN graph (Iscen et al., CVPR 2017) built
  over the candidates: similarities ``max(s, 0) ** gamma`` kept for mutual k-nearest
  neighbours, symmetrically normalised (S = D^-1/2 A D^-1/2), and ``(I - alpha S) f = y`` solved
  by conjugate gradient, with ``y`` the query's similarities to its first ``kq`` candidates.
  Candidates then rank by ``f``; photos that sit in the same dense cluster as the query's
  nearest neighbours rise even when the query itself is not closest to them.

All vectors are unit rows; functions are pure numpy and deterministic.
"""

from __future__ import annotations

import numpy as np


def expand_query(
    query: np.ndarray, neighbours: np.ndarray, sims: np.ndarray, k: int = 2, alpha: float = 3.0
) -> np.ndarray:
    """alpha-QE: unit vector of ``query + sum_i max(sim_i, 0) ** alpha * neighbour_i`` (top k).

    ``neighbours``: (M, d) best first; ``sims``: their similarities to the query. A neighbour
    identical to the query (the query photo itself) is skipped so it doesn't count twice.
    """
    q = np.asarray(query, dtype=np.float32)
    keep = [i for i in range(len(neighbours)) if sims[i] < 0.9999][:k]
    if not keep:
        return q
    w = np.maximum(np.asarray(sims, dtype=np.float32)[keep], 0.0) ** alpha
    out = q + (w[:, None] * np.asarray(neighbours, dtype=np.float32)[keep]).sum(axis=0)
    norm = float(np.linalg.norm(out))
    return (out / norm).astype(np.float32) if norm > 0 else q


def diffuse(
    sims: np.ndarray,
    vectors: np.ndarray,
    *,
    k: int = 15,
    alpha: float = 0.9,
    gamma: float = 3.0,
    kq: int = 10,
    iterations: int = 20,
) -> np.ndarray:
    """Diffusion scores for ``N`` candidates (higher = better), scaled so the best is 1.

    ``sims``: (N,) query-candidate similarities, best first; ``vectors``: (N, d) unit rows.
    Candidates that the walk never reaches keep a score of 0.
    """
    sims = np.asarray(sims, dtype=np.float32)
    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n == 0:
        return np.zeros(0, np.float32)
    k = max(1, min(k, n - 1))
    affinity = np.maximum(x @ x.T, 0.0)
    affinity = affinity * affinity * affinity if gamma == 3.0 else affinity**gamma
    np.fill_diagonal(affinity, 0.0)
    if n > k + 1:
        nearest = np.argpartition(-affinity, k, axis=1)[:, :k]
        sparse = np.zeros_like(affinity)
        rows = np.arange(n)[:, None]
        sparse[rows, nearest] = affinity[rows, nearest]
        affinity = np.minimum(sparse, sparse.T)  # mutual neighbours only
    degree = affinity.sum(axis=1)
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-30)), 0.0).astype(np.float32)
    s = affinity * inv_sqrt[:, None] * inv_sqrt[None, :]
    y = np.zeros(n, np.float32)
    top = min(kq, n)
    y[:top] = np.maximum(sims[:top], 0.0) ** gamma
    f = _conjugate_gradient(lambda v: v - alpha * (s @ v), y, iterations)
    peak = float(f.max())
    return f / peak if peak > 0 else f


def _conjugate_gradient(apply_a, b: np.ndarray, iterations: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Solve A x = b for symmetric positive definite A (here I - alpha S, alpha < 1)."""
    x = b.copy()
    r = b - apply_a(x)
    p = r.copy()
    rs = float(r @ r)
    for _ in range(iterations):
        if rs < 1e-12:
            break
        ap = apply_a(p)
        step = rs / float(p @ ap)
        x += step * p
        r -= step * ap
        rs_new = float(r @ r)
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x
