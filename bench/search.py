"""Search benchmark: HNSW latency, recall@10, build time, file size and memory at library scale.

    python bench/search.py [--n 100000] [--queries 500] [--sweep]

Vectors are real embeddings of the 1,000 Corel photos (``<repo>/../shared/data/corel1k``, cached
in ``~/.cache/photofind-bench``), each replicated ``n / 1000`` times with Gaussian noise and
re-normalised, so the library has realistic clusters of near-duplicates (cosine to the source
~0.95). If the model code is not available, clustered synthetic vectors stand in, and the output
says so. Queries are fresh noisy copies of random source photos; the ground truth is the exact
top 10 by brute-force dot product.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from photofind.core.vectors.vector_index import VectorIndex

CORE = REPO / ".." / "shared" / "data" / "corel1k"
CACHE = Path(os.environ.get("PHOTOFIND_BENCH_CACHE", Path.home() / ".cache" / "photofind-bench"))
BARS = {"search_p95_ms": 2.0, "recall10": 0.98, "whole_p95_ms": 100.0}


def rss_mb() -> float:
    """Current resident set size (Linux /proc); NaN elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def load_model() -> tuple[str, int, Callable[[Path], np.ndarray]]:
    """(model_id, dim, embed_file) from the real model code; raises if it is not there yet."""
    from photofind.core.models.embedder import OnnxEmbedder
    from photofind.core.images.decode import load_for_model
    from photofind.core.models.registry import resolve_model

    info = resolve_model(None, CACHE / "models")  # default model, converted once into the cache
    embedder = OnnxEmbedder(info, device="cpu")

    def embed_file(path: Path) -> np.ndarray:
        tensor = load_for_model(path, info.preprocess)
        return embedder.embed(tensor[None])[0]

    return info.model_id, info.dim, embed_file


def source_vectors(photos: list[Path], model) -> tuple[np.ndarray, str]:
    """One embedding per Corel photo (cached), or clustered synthetic vectors without a model."""
    if model is None:
        rng = np.random.default_rng(0)
        dim = 1280
        # 10 classes of 100, like Corel: photos of a class share a direction (cos ~0.5 within).
        centres = rng.standard_normal((10, dim))
        base = np.repeat(centres, 100, axis=0) + rng.standard_normal((1000, dim))
        base = np.abs(base)  # post-ReLU pooled features are non-negative, like the real model's
        return _normalised(base.astype(np.float32)), "synthetic clustered 1280-d (no model)"
    model_id, dim, embed_file = model
    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / f"corel1k-{model_id.replace('/', '_')}.npy"
    if cache.is_file():
        vectors = np.load(cache)
        if vectors.shape == (len(photos), dim):
            return vectors, f"real: {model_id}, cached"
    t0 = time.perf_counter()
    vectors = np.stack([embed_file(p) for p in photos]).astype(np.float32)
    np.save(cache, vectors)
    took = time.perf_counter() - t0
    return vectors, f"real: {model_id}, embedded {len(photos)} photos in {took:.0f} s"


def _normalised(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def noisy_copies(base: np.ndarray, copies: int, target_cos: float, rng) -> np.ndarray:
    """``copies`` noisy versions of every row; sigma chosen so cos(copy, source) ~ target_cos."""
    dim = base.shape[1]
    sigma = np.sqrt((1 / target_cos**2 - 1) / dim)
    out = np.repeat(base, copies, axis=0)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(sigma)
    return _normalised(out)


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` ids per query, and the similarity gap between rank k and rank k+1."""
    out, gap = np.empty((len(queries), k), np.int64), np.empty(len(queries), np.float32)
    for lo in range(0, len(queries), 64):
        sims = queries[lo : lo + 64] @ data.T
        part = np.argpartition(-sims, k + 1, axis=1)[:, : k + 1]
        top = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-top, axis=1)
        out[lo : lo + 64] = np.take_along_axis(part, order, axis=1)[:, :k]
        ranked = np.take_along_axis(top, order, axis=1)
        gap[lo : lo + 64] = ranked[:, k - 1] - ranked[:, k]
    return out, gap


def time_searches(index: VectorIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-query latency in ms (single queries through the public API) and the result ids."""
    for q in queries[:20]:
        index.search(q, k)  # warm up
    lat, found = np.empty(len(queries)), np.empty((len(queries), k), np.int64)
    for i, q in enumerate(queries):
        t0 = time.perf_counter_ns()
        ids, _ = index.search(q, k)
        lat[i] = (time.perf_counter_ns() - t0) / 1e6
        found[i] = ids
    return lat, found


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="library size (vectors)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--m", type=int, default=None, help="HNSW M (default: VectorIndex default)")
    ap.add_argument("--ef-construction", type=int, default=None)
    ap.add_argument("--ef-search", type=int, default=None)
    ap.add_argument("--cos", type=float, default=0.95, help="cosine of a copy to its source")
    ap.add_argument("--sweep", action="store_true", help="also try several ef_search values")
    ap.add_argument("--synthetic", action="store_true", help="skip the model, use synthetic vectors")
    ap.add_argument("--whole", type=int, default=200, help="image files for the whole-query timing")
    ap.add_argument("--repeat", type=int, default=3, help="latency runs (median p50/p95 reported)")
    ap.add_argument("--incremental", action="store_true",
                    help="also build by add() in library order, batches of 16 (as the indexer does)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(1)

    photos = sorted(CORE.glob("images/*.jpg")) if CORE.is_dir() else []
    model, why_not = None, ""
    if args.synthetic:
        why_not = "--synthetic"
    elif not photos:
        why_not = f"no photos at {CORE}"
    else:
        try:
            model = load_model()
        except Exception as exc:  # noqa: BLE001 - any failure means "fall back and say so"
            why_not = f"model code not usable yet ({exc.__class__.__name__}: {exc})"
    base, origin = source_vectors(photos, model)
    if model is None:
        origin += f" -- {why_not}"
    copies = max(1, args.n // len(base))
    data = noisy_copies(base, copies, args.cos, rng)
    ids = np.arange(len(data), dtype=np.int64)
    src_rows = rng.integers(0, len(base), args.queries)
    queries = noisy_copies(base[src_rows], 1, args.cos, rng)
    cos_to_src = float(np.median(np.sum(data[::copies] * base, axis=1)))

    kwargs = {k: v for k, v in (("m", args.m), ("ef_construction", args.ef_construction),
                                ("ef_search", args.ef_search)) if v is not None}
    with tempfile.TemporaryDirectory(prefix="photofind-bench-") as tmp:
        path = Path(tmp) / "bench.hnsw"
        index = VectorIndex(path, data.shape[1], **kwargs)
        rss0 = rss_mb()
        t0 = time.perf_counter()
        index.rebuild(ids, data)
        build_s = time.perf_counter() - t0
        rss_index = rss_mb() - rss0
        t0 = time.perf_counter()
        index.save("bench")
        save_s = time.perf_counter() - t0
        file_mb = path.stat().st_size / 2**20
        del index
        index = VectorIndex(path, data.shape[1], **kwargs)
        t0 = time.perf_counter()
        outcome = index.open(lambda: (ids, data), "bench")
        load_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        truth, gaps = exact_top_k(data, queries, args.k)
        brute_ms = (time.perf_counter() - t0) / len(queries) * 1e3
        runs = [time_searches(index, queries, args.k) for _ in range(max(1, args.repeat))]
        found = runs[0][1]
        p50 = float(np.median([pct(r[0], 50) for r in runs]))
        p95 = float(np.median([pct(r[0], 95) for r in runs]))
        p95_runs = ", ".join(f"{pct(r[0], 95):.2f}" for r in runs)
        rec = recall(found, truth)
        gap = f"median similarity gap between rank {args.k} and {args.k + 1}: {np.median(gaps):.4f}"

        sweep = []
        if args.sweep:
            for ef in (16, 32, 48, 64, 96, 128, 200):
                index.ef_search = ef
                l, f = time_searches(index, queries, args.k)
                sweep.append((ef, pct(l, 50), pct(l, 95), recall(f, truth)))
            index.ef_search = kwargs.get("ef_search", VectorIndex(path, 1).ef_search)

        incremental = None
        if args.incremental:
            del index
            inc = VectorIndex(Path(tmp) / "inc.hnsw", data.shape[1], **kwargs)
            t0 = time.perf_counter()
            for lo in range(0, len(data), 16):
                inc.add(ids[lo : lo + 16], data[lo : lo + 16])
            inc_s = time.perf_counter() - t0
            inc_rec = recall(time_searches(inc, queries, args.k)[1], truth)
            advised = inc.rebuild_advised
            t0 = time.perf_counter()
            inc.compact()
            compact_s = time.perf_counter() - t0
            incremental = (inc_s, inc_rec, advised, compact_s,
                           recall(time_searches(inc, queries, args.k)[1], truth))
            index = inc

        whole = None
        if model is not None and args.whole:
            _, _, embed_file = model
            files = photos[: args.whole]
            embed_file(files[0])
            w = []
            for p in files:
                t0 = time.perf_counter_ns()
                index.search(embed_file(p), args.k)
                w.append((time.perf_counter_ns() - t0) / 1e6)
            whole = np.array(w)

    cpu = platform.processor() or platform.machine()
    print(f"photofind search benchmark  ({os.cpu_count()} CPUs, {cpu}, {platform.system()})")
    print(f"vectors: {len(data):,} x {data.shape[1]}  ({origin})")
    print(f"  {copies} noisy copies per source, median cos(copy, source) = {cos_to_src:.3f}; "
          f"{len(queries)} queries, k = {args.k}")
    print(f"index:   M={index.m} ef_construction={index.ef_construction} "
          f"ef_search={index.ef_search} threads={index.num_threads}; reopen: {outcome}")
    rows = [
        ("build (rebuild, all threads)", f"{build_s:.1f} s", ""),
        ("save (write + fsync + hash)", f"{save_s:.2f} s", ""),
        ("open (verify checksum + load)", f"{load_s:.2f} s", ""),
        ("index file size", f"{file_mb:.0f} MiB", ""),
        ("memory (RSS growth, build)", f"{rss_index:.0f} MiB", ""),
        ("brute force per query (numpy)", f"{brute_ms:.2f} ms", ""),
        ("HNSW search p50", f"{p50:.3f} ms", ""),
        ("HNSW search p95", f"{p95:.3f} ms", _bar(p95 < BARS["search_p95_ms"], "< 2 ms")),
        (f"recall@{args.k}", f"{rec:.4f}", _bar(rec >= BARS["recall10"], ">= 0.98")),
    ]
    if whole is not None:
        rows += [
            ("whole query p50 (file->hits)", f"{pct(whole, 50):.1f} ms", ""),
            ("whole query p95 (file->hits)", f"{pct(whole, 95):.1f} ms",
             _bar(pct(whole, 95) < BARS["whole_p95_ms"], "< 100 ms")),
        ]
    else:
        rows.append(("whole query (file->hits)", "not measured", "model not available"))
    for name, value, bar in rows:
        print(f"  {name:<32} {value:>12}  {bar}")
    print(f"  (search p95 of each of {len(runs)} runs: {p95_runs} ms; median shown)")
    print(f"  ({gap}; recall here is mostly ranking among near-duplicates)")
    if incremental:
        inc_s, inc_rec, advised, compact_s, compact_rec = incremental
        print(f"  incremental build, add() x16 in library order: {inc_s:.1f} s, recall@{args.k} "
              f"{inc_rec:.4f}; rebuild_advised={advised}; compact() {compact_s:.1f} s -> "
              f"recall@{args.k} {compact_rec:.4f}")
    if sweep:
        print("  ef_search sweep:   ef    p50 ms   p95 ms   recall@10")
        for ef, p50, p95, r in sweep:
            print(f"                   {ef:4d}   {p50:6.3f}   {p95:6.3f}   {r:.4f}")
    return 0


def _bar(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'} (bar {text})"


if __name__ == "__main__":
    sys.exit(main())
