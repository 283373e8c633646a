"""How sensitive the default ranking is to its parameters: a grid around the default, per input size.

    python bench/ranking_grid.py [--sizes 256,288,320] [--dims 128,256,384] [--dba-k 2,3,4] [--qe-k 1,2,3]

Issue #6 warns that settings tuned to the two benchmark sets will not hold on other photos. A
default that sits on a sharp peak of the grid is such a tuning; one whose neighbours all meet
the bars is not. For each input size the app indexes both sets once (its own decoder and model);
then every grid point is scored by exact (brute-force) search with the app's own stage functions
(``whitening.fit_whitening``, ``ranking.augment``, ``rerank.expand_query``), which is fast
enough for 27 points x 2 sets. The row of the app's default parameters equals the app's own
``bench/quality.py`` figures (HNSW loses nothing at 1,000 photos), which checks this harness.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEFAULT_SETS,
    Dataset,
    load_dataset,
    model_info,
    open_library,
    quiet_logs,
)
from quality import RANKING_BARS

from photofind.core.search.ranking import RankingSettings, augment
from photofind.core.search.rerank import expand_query
from photofind.core.search.whitening import fit_whitening


def set_vectors(ds: Dataset, size: int) -> tuple[list[str], np.ndarray]:
    """(image ids, unit vectors) of a set as the app stores them at input ``size``."""
    info = model_info(size=size)
    with tempfile.TemporaryDirectory(prefix="photofind-grid-") as tmp:
        lib = open_library(tmp, info)
        try:
            lib.add_folder(ds.images)
            lib.run_index()
            ids, vectors = lib.repo.embeddings_for(info.model_id, info.dim)
            rows = lib.repo.photos_by_ids(ids.tolist())
            stems = [Path(rows[i].path).stem for i in ids.tolist()]
        finally:
            lib.close()
    keep = [k for k, s in enumerate(stems) if s in set(ds.ids)]
    v = vectors[keep]
    return [stems[k] for k in keep], v / np.linalg.norm(v, axis=1, keepdims=True)


def ranked_sims(x: np.ndarray, dim: int, dba_k: int, qe_k: int, queries_stored: bool) -> np.ndarray:
    """(n, n) similarities of every query to every photo under PCA + DBA + QE (exact search).

    ``queries_stored``: the query is the photo's stored (augmented) vector, as in Find similar
    (Corel protocol); else its raw vector projected, as for a dropped photo (UKBench protocol).
    """
    pca = fit_whitening(x, dim, 0.0, 0.0)
    y = pca.apply(x)
    s = y @ y.T
    np.fill_diagonal(s, -np.inf)
    nn = np.argsort(-s, axis=1, kind="stable")[:, :dba_k]
    stored = augment(y, y[nn], np.take_along_axis(s, nn, 1), 1.0)
    queries = stored if queries_stored else y
    s = queries @ stored.T
    top = np.argsort(-s, axis=1, kind="stable")[:, : qe_k + 1]
    expanded = np.stack([
        expand_query(queries[i], stored[top[i]], s[i, top[i]], k=qe_k, alpha=0.0) for i in range(len(x))
    ])
    return expanded @ stored.T


def scores(ds: Dataset, ids: list[str], sims: np.ndarray) -> dict[str, float]:
    n = len(ids)
    if ds.protocol == "ns":
        order = np.argsort(-sims, axis=1, kind="stable")[:, :4]
        group = np.array([ds.group[i] for i in ids])
        return {"N-S": float((group[order] == group[:, None]).sum(1).mean())}
    sims = sims.copy()
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, : n - 1]
    rel = np.array([[ids[j] in ds.relevant[ids[i]] for j in row] for i, row in enumerate(order)])
    precision = np.cumsum(rel, axis=1) / np.arange(1, n)
    ap = (precision * rel).sum(1) / np.maximum(rel.sum(1), 1)
    return {"P@10": float(rel[:, :10].mean()), "mAP": float(ap.mean())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = RankingSettings()
    parser.add_argument("--sizes", default="288")
    parser.add_argument("--dims", default="128,256,384")
    parser.add_argument("--dba-k", default="2,3,4")
    parser.add_argument("--qe-k", default="1,2,3")
    args = parser.parse_args(argv)
    quiet_logs()
    ints = lambda text: [int(v) for v in text.split(",")]
    corel, ukbench = (load_dataset(p) for p in DEFAULT_SETS)
    print(f"{'input':<6} {'PCA dim':>7} {'DBA k':>5} {'QE k':>4} {'Corel P@10':>11} {'Corel mAP':>10} "
          f"{'UKBench N-S':>11}  bars")
    for size in ints(args.sizes):
        (c_ids, c_x), (u_ids, u_x) = set_vectors(corel, size), set_vectors(ukbench, size)
        passed = total = 0
        for dim, dba_k, qe_k in itertools.product(ints(args.dims), ints(args.dba_k), ints(args.qe_k)):
            c = scores(corel, c_ids, ranked_sims(c_x, dim, dba_k, qe_k, queries_stored=True))
            u = scores(ukbench, u_ids, ranked_sims(u_x, dim, dba_k, qe_k, queries_stored=False))
            figures = {("corel", "P@10"): c["P@10"], ("corel", "mAP"): c["mAP"], ("ukbench", "N-S"): u["N-S"]}
            ok = all(figures[key] >= bar for key, bar in RANKING_BARS.items())
            passed += ok
            total += 1
            mark = " <- app default" if (dim, dba_k, qe_k) == (default.pca_dim, default.dba_k, default.qe_k) else ""
            print(f"{size:<6} {dim:>7} {dba_k:>5} {qe_k:>4} {c['P@10']:11.4f} {c['mAP']:10.4f} "
                  f"{u['N-S']:11.3f}  {'PASS' if ok else 'fail'}{mark}", flush=True)
        print(f"{size}px: {passed} of {total} grid points meet all three bars\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
