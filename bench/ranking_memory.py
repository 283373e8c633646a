"""Memory of the ranking space's HNSW index (vectors + graph) and re-ranking cost at scale.

    python bench/ranking_memory.py [--sizes 100000,300000] [--dim 256] [--queries 200]

Synthetic clustered unit vectors (the app stores 256-d PCA vectors in the ranking index) go into
the app's own ``VectorIndex`` (M=16, ef_construction=200). For each size it prints the saved
index file size (exactly hnswlib's vectors + graph), the RSS growth of building it, and the
p95 and median query time of the three query paths, interleaved: plain search (k = 20), the
default with average QE (a k = 3 search, the expansion, the k = 20 search), and QE + diffusion
over the top 300, then extrapolates memory linearly
to 1M vectors (bar: < 1.5 GB). The raw 1280-d index is printed for comparison as an estimate
(``dim * 4`` bytes per vector plus the same graph).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import quiet_logs

from photofind.core.search.ranking import vectors_of
from photofind.core.search.rerank import diffuse, expand_query
from photofind.core.vectors.vector_index import VectorIndex


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 50), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def measure(n: int, dim: int, queries: int) -> dict[str, float]:
    x = synthetic(n, dim)
    with tempfile.TemporaryDirectory(prefix="photofind-rankmem-") as tmp:
        before = _rss_mb()
        index = VectorIndex(Path(tmp) / "r.hnsw", dim, space="ip")
        started = time.perf_counter()
        index.rebuild(np.arange(n, dtype=np.int64), x)
        build_s = time.perf_counter() - started
        rss = _rss_mb() - before
        index.save("1")
        file_mb = index.path.stat().st_size / 2**20
        qs = x[np.random.default_rng(1).choice(n, queries, replace=False)]
        plain, qe, diff = [], [], []
        for q in qs:  # the three query paths, interleaved per query
            t0 = time.perf_counter()
            index.search(q, 20)
            t1 = time.perf_counter()
            nid, nsim = index.search(q, 3)  # QE: top 3, expand, then the one real search
            q2 = expand_query(q, vectors_of(index, nid), nsim, k=2, alpha=0.0)
            index.search(q2, 20)
            t2 = time.perf_counter()
            nid, nsim = index.search(q, 3)  # QE + diffusion over the top 300
            q2 = expand_query(q, vectors_of(index, nid), nsim, k=2, alpha=0.0)
            ids, sims = index.search(q2, 300)
            diffuse(sims, vectors_of(index, ids), k=30, alpha=0.9)
            t3 = time.perf_counter()
            plain.append(t1 - t0)
            qe.append(t2 - t1)
            diff.append(t3 - t2)
    p95 = lambda v: 1e3 * float(np.percentile(v, 95))
    med = lambda v: 1e3 * float(np.median(v))
    return {
        "n": n, "file_mb": file_mb, "rss_mb": rss, "build_s": build_s,
        "plain_ms": p95(plain), "qe_ms": p95(qe), "diffusion_ms": p95(diff),
        "plain_med": med(plain), "qe_med": med(qe), "diffusion_med": med(diff),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    quiet_logs()
    rows = [measure(int(s), args.dim, args.queries) for s in args.sizes.split(",")]
    print(f"{'vectors':>9} {'file MB':>8} {'RSS MB':>7} {'build s':>8}   query ms p95 (median): "
          "plain / QE / QE + diffusion")
    for r in rows:
        print(
            f"{r['n']:>9,} {r['file_mb']:8.1f} {r['rss_mb']:7.1f} {r['build_s']:8.1f}   "
            f"{r['plain_ms']:.2f} ({r['plain_med']:.2f}) / {r['qe_ms']:.2f} ({r['qe_med']:.2f}) / "
            f"{r['diffusion_ms']:.2f} ({r['diffusion_med']:.2f})"
        )
    (a, b) = (rows[0], rows[-1]) if len(rows) > 1 else (rows[0], rows[0])
    per = (b["file_mb"] - a["file_mb"]) / max(1, b["n"] - a["n"]) if b["n"] != a["n"] else a["file_mb"] / a["n"]
    at_1m = b["file_mb"] + per * (1_000_000 - b["n"])
    graph_per = a["file_mb"] / a["n"] - args.dim * 4 / 2**20
    raw_1m = 1_000_000 * (graph_per + 1280 * 4 / 2**20)
    ok = at_1m / 1024 < 1.5
    print(f"\n1M vectors, {args.dim}-d ranking index (linear from the sizes above): {at_1m / 1024:.2f} GB "
          f"(bar < 1.5 GB: {'PASS' if ok else 'FAIL'}); the raw 1280-d index would be {raw_1m / 1024:.2f} GB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
