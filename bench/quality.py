"""Retrieval quality of the app's own pipeline on the shared benchmark sets.

    python bench/quality.py [DATASET_DIR ...] [--sizes 224,288,320] [--stages all|default] [--json]
    python bench/quality.py --models [--model NAME ...] [--resize center_crop|squash|both]
    python bench/quality.py --descriptors       # input size, GeM, multi-scale (issue #6 item 1)
    python bench/quality.py --int8              # int8 vs float32 side by side (bench/int8_gate.py)

Default: the ranking stage table (issue #6). Each set is indexed once per input size; every
row of ``STAGES`` is a ``Searcher`` with those ``RankingSettings`` over the same library; columns
Corel P@10, Corel mAP, UKBench N-S and the p95 query time; the default row is checked against
``RANKING_BARS`` (exit 1 when one fails at the app's own input size, 288 px). ``--models`` prints the table below instead
(plain cosine).

For each set (default: ``<repo>/../shared/data/corel1k`` and ``ukbench1000``) and each model /
preprocessing variant, the app's ``Indexer`` indexes the set's ``images/`` folder into a temp
library and the app's ``Searcher`` answers one query per photo from its stored vector:

* sets with a ``gt.json`` (Corel-1k): ``Searcher.similar_to`` (query excluded); mAP over the
  whole set (k = n - 1), P@10 and P@20 (from a k = 20 search, as the app runs it);
* sets whose ``labels.csv`` has a ``group`` column (UKBench): ``search_vector`` of the stored
  vector with k = 4 (query included); N-S score = mean number of the top 4 in the query's group.
  mAP (query excluded) is printed as an extra.

Next to each HNSW figure is the exact figure from a brute-force numpy ranking of the same
vectors, so any loss from the approximate index is visible. Bars (default model, its own
preprocessing): Corel P@10 >= 0.965, Corel mAP >= 0.90, UKBench N-S >= 3.94. Exit code 1 when
a bar fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEFAULT_MODEL,
    DEFAULT_SETS,
    Dataset,
    average_precision,
    load_dataset,
    model_info,
    ns_score,
    open_library,
    passfail,
    precision_at,
    quiet_logs,
    subset,
    tuning_ids,
)

from photofind.core.models.spec import ModelInfo
from photofind.core.search.ranking import RankingSettings
from photofind.core.search.searcher import Searcher

_PLAIN = RankingSettings.plain()
#: Rows of the stage table: (label, settings). Each stage alone, then the default combination.
STAGES: list[tuple[str, RankingSettings]] = [
    ("plain cosine (baseline)", _PLAIN),
    ("+ PCA-256 (library)", dataclasses.replace(_PLAIN, pca=True)),
    ("+ DBA k=3", dataclasses.replace(_PLAIN, dba=True)),
    ("+ avg QE k=2", dataclasses.replace(_PLAIN, query_expansion=True)),
    ("+ diffusion (top 300)", dataclasses.replace(_PLAIN, diffusion=True)),
    ("PCA + DBA", dataclasses.replace(_PLAIN, pca=True, dba=True)),
    ("PCA + QE", dataclasses.replace(_PLAIN, pca=True, query_expansion=True)),
    ("DBA + QE", dataclasses.replace(_PLAIN, dba=True, query_expansion=True)),
    ("DEFAULT: PCA + DBA + QE", RankingSettings()),
    ("default + diffusion", dataclasses.replace(RankingSettings(), diffusion=True)),
    # issue 12: copy-first ordering is the only query-side stage a stored-vector query meets
    ("default, no copy-first", dataclasses.replace(RankingSettings(), copy_first=False)),
]
#: Bars of issue #6 for the default ranking.
RANKING_BARS = {("corel", "P@10"): 0.978, ("corel", "mAP"): 0.935, ("ukbench", "N-S"): 3.975}

#: (set name prefix, metric) -> minimum, for the default model.
BARS = {("corel", "P@10"): 0.965, ("corel", "mAP"): 0.90, ("ukbench", "N-S"): 3.94}
#: Reference figures (torch EfficientNet-Lite0, centre crop, plain cosine).
REFERENCE = {("corel", "P@10"): 0.970, ("corel", "mAP"): 0.907, ("ukbench", "N-S"): 3.952}


def bar_for(set_name: str, metric: str) -> float | None:
    return next((v for (prefix, m), v in BARS.items() if set_name.startswith(prefix) and m == metric), None)


def reference_for(set_name: str, metric: str) -> float | None:
    return next((v for (p, m), v in REFERENCE.items() if set_name.startswith(p) and m == metric), None)


# --------------------------------------------------------------------------- scoring
def score_rankings(
    ds: Dataset, ranked: dict[str, list[str]], short: dict[str, list[str]], queries: list[str] | None = None
) -> dict[str, float]:
    """Metrics from per-query rankings: ``ranked`` over the whole set, ``short`` as the app shows.

    For the ``map`` protocol both exclude the query; for ``ns`` ``short`` includes it. ``queries``
    restricts the queries averaged over (default: every photo of the set).
    """
    out: dict[str, float] = {}
    queries = ds.ids if queries is None else queries
    if ds.protocol == "ns":
        out["N-S"] = float(np.mean([ns_score(short[q], ds.group, q) for q in queries]))
        out["mAP"] = float(np.mean([average_precision(ranked[q], ds.relevant[q]) for q in queries]))
    else:
        out["mAP"] = float(np.mean([average_precision(ranked[q], ds.relevant[q]) for q in queries]))
        out["P@10"] = float(np.mean([precision_at(short[q], ds.relevant[q], 10) for q in queries]))
        out["P@20"] = float(np.mean([precision_at(short[q], ds.relevant[q], 20) for q in queries]))
    return out


def exact_rankings(ids: list[str], vectors: np.ndarray, include_query: bool) -> dict[str, list[str]]:
    """Brute-force cosine rankings (vectors are unit length) over all of ``ids``."""
    sims = vectors @ vectors.T
    if not include_query:
        np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")
    n = len(ids) if include_query else len(ids) - 1
    return {q: [ids[j] for j in order[i, :n]] for i, q in enumerate(ids)}


def indexed_photos(lib, info: ModelInfo, ds: Dataset):  # type: ignore[no-untyped-def]
    """The set's photos in ``lib`` after an index run: ``(photo ids, stored vectors, id -> stem,
    id -> path)``, in photo id order, restricted to the set's image ids."""
    pids, vectors = lib.repo.embeddings_for(info.model_id, info.dim)
    rows = lib.repo.photos_by_ids(pids.tolist())
    stem_of = {pid: Path(rows[pid].path).stem for pid in pids.tolist()}
    wanted = set(ds.ids)
    keep = [k for k, pid in enumerate(pids.tolist()) if stem_of[pid] in wanted]
    path_of = {int(pids[k]): rows[int(pids[k])].path for k in keep}
    return pids[keep], vectors[keep], stem_of, path_of


# --------------------------------------------------------------------------- one evaluation
def evaluate(
    ds: Dataset,
    info: ModelInfo,
    *,
    images_dir: Path | None = None,
    work_dir: Path | None = None,
    threads: int | None = None,
) -> dict[str, object]:
    """Index ``images_dir`` (default: the set's own) with ``info`` and score HNSW and exact search."""
    images_dir = images_dir or ds.images
    with tempfile.TemporaryDirectory(prefix="photofind-quality-", dir=work_dir) as tmp:
        lib = open_library(tmp, info, threads=threads)
        try:
            lib.add_folder(images_dir)
            started = time.perf_counter()
            report = lib.run_index()
            index_wall = time.perf_counter() - started

            repo, model_id = lib.repo, info.model_id
            wanted = set(ds.ids)
            pids, vectors, stem_of, _ = indexed_photos(lib, info, ds)
            # stored float16 vectors are unit length to ~1e-4 only: cosine needs them exact
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = [stem_of[pid] for pid in pids.tolist()]
            missing = sorted(wanted - set(ids))
            if missing:
                raise RuntimeError(f"{ds.name}: {len(missing)} photos were not embedded, e.g. {missing[:3]}")

            # plain cosine: this table compares the index with the exact ranking (stages: see below)
            searcher = lib.searcher(RankingSettings.plain())
            n = len(ids)
            ranked: dict[str, list[str]] = {}
            short: dict[str, list[str]] = {}
            started = time.perf_counter()
            for pid, q in zip(pids.tolist(), ids):
                if ds.protocol == "ns":
                    vector = repo.embedding(pid, model_id)
                    assert vector is not None
                    short[q] = [stem_of[h.photo_id] for h in searcher.search_vector(vector, k=4)]
                else:
                    short[q] = [stem_of[h.photo_id] for h in searcher.similar_to(pid, k=20)]
                ranked[q] = [stem_of[h.photo_id] for h in searcher.similar_to(pid, k=n - 1)]
            search_s = time.perf_counter() - started
            hnsw = score_rankings(ds, ranked, short)

            exact_full = exact_rankings(ids, vectors, include_query=False)
            exact_short = (
                {q: r[:4] for q, r in exact_rankings(ids, vectors, include_query=True).items()}
                if ds.protocol == "ns"
                else {q: r[:20] for q, r in exact_full.items()}
            )
            exact = score_rankings(ds, exact_full, exact_short)
        finally:
            lib.close()
    return {
        "set": ds.name,
        "protocol": ds.protocol,
        "n": n,
        "model": info.name,
        "model_id": info.model_id,
        "resize": info.preprocess.resize,
        "hnsw": hnsw,
        "exact": exact,
        "index_photos_per_s": report.photos_per_second,
        "index_wall_s": index_wall,
        "search_ms_per_query": 1e3 * search_s / max(1, 2 * n),
    }


# --------------------------------------------------------------------------- ranking stages
def evaluate_stages(
    ds: Dataset,
    info: ModelInfo,
    stages: list[tuple[str, RankingSettings]],
    *,
    threads: int | None = None,
) -> list[dict[str, object]]:
    """Index the set once, then run every query through a ``Searcher`` per stage setting.

    Protocols as in ``evaluate``; ``query_ms_p95`` is the 95th percentile of the k = 20 (Corel)
    or k = 4 (UKBench) searches, as the app runs them.
    """
    out = []
    with tempfile.TemporaryDirectory(prefix="photofind-ranking-") as tmp:
        lib = open_library(tmp, info, threads=threads)
        try:
            lib.add_folder(ds.images)
            lib.run_index()
            repo = lib.repo
            pids, _, stem_of, _ = indexed_photos(lib, info, ds)
            out += _score_stages(ds, repo, lib.embedder, lib.indexes, pids, stem_of, stages, info.preprocess.size)
        finally:
            lib.close()
    return out


def _score_stages(
    ds: Dataset,
    repo: object,
    embedder: object,
    indexes: object,
    pids: np.ndarray,
    stem_of: dict[int, str],
    stages: list[tuple[str, RankingSettings]],
    size: int | str,
) -> list[dict[str, object]]:
    """Every query of the set through a ``Searcher`` per stage setting (see ``evaluate_stages``)."""
    out = []
    model_id = embedder.model_id  # type: ignore[attr-defined]
    n = len(pids)
    raw = {pid: repo.embedding(pid, model_id) for pid in pids.tolist()}  # type: ignore[attr-defined]
    for label, settings in stages:
        started = time.perf_counter()
        searcher = Searcher(repo, embedder, indexes, settings)  # type: ignore[arg-type]
        searcher.current_space()  # loads the saved space, or builds this variant's in memory
        build_s = time.perf_counter() - started
        ranked: dict[str, list[str]] = {}
        short: dict[str, list[str]] = {}
        times = []
        for pid in pids.tolist():
            q = stem_of[pid]
            t0 = time.perf_counter()
            if ds.protocol == "ns":
                hits = searcher.search_vector(raw[pid], k=4)
            else:
                hits = searcher.similar_to(pid, k=20)
            times.append(time.perf_counter() - t0)
            short[q] = [stem_of[h.photo_id] for h in hits]
            ranked[q] = [stem_of[h.photo_id] for h in searcher.similar_to(pid, k=n - 1)]
        scored = subset(ds, [stem_of[p] for p in pids.tolist()])
        scores = score_rankings(scored, ranked, short)
        # issue 12: the same searches averaged over each half of the set's queries (library whole)
        halves = {name: score_rankings(scored, ranked, short, ids) for name, ids in halves_of(scored).items()}
        out.append({
            "set": ds.name, "stage": label, "settings": dataclasses.asdict(settings),
            "model_id": model_id, "size": size, "scores": scores, "halves": halves,
            "query_ms_p95": 1e3 * float(np.percentile(times, 95)), "space_build_s": build_s,
        })
        print(f"    {ds.name} {size} {label}: {scores}", file=sys.stderr, flush=True)
    return out


# --------------------------------------------------------------------------- halves (issue 12)
def halves_of(ds: Dataset) -> dict[str, list[str]]:
    """The query halves: ``tune`` (Corel classes 0-4, UKBench objects 0-124), where ranking
    parameters are chosen, and ``report`` (the rest), where the bars are checked."""
    tune = tuning_ids(ds)
    return {"tune": [i for i in ds.ids if i in tune], "report": [i for i in ds.ids if i not in tune]}


def print_halves_table(results: list[dict[str, object]], app_size: int) -> bool:
    """The stage table per half (the library is the whole set; queries are one half); the
    default's report half is checked against ``RANKING_BARS``. Returns whether it passed."""
    cols = [("corel P@10", "Corel P@10"), ("corel mAP", "Corel mAP"), ("ukbench N-S", "UKBench N-S")]
    by: dict[tuple[int, str, str], dict[str, float]] = {}
    for r in results:
        prefix = "corel" if str(r["set"]).startswith("corel") else "ukbench"
        for half, sc in r.get("halves", {}).items():  # type: ignore[union-attr]
            cell = by.setdefault((int(r["size"]), half, str(r["stage"])), {})  # type: ignore[arg-type]
            cell.update({f"{prefix} {m}": v for m, v in sc.items()})
    head = f"{'input':<6} {'half':<7} {'ranking stages':<26} " + " ".join(f"{c[1]:>11}" for c in cols)
    print(head)
    print("-" * len(head))
    for (size, half, label), cell in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1] != "tune")):
        vals = " ".join(f"{cell[k]:11.4f}" if k in cell else f"{'':>11}" for k, _ in cols)
        print(f"{size:<6} {half:<7} {label:<26} {vals}")
    print()
    ok = True
    default_label = next(label for label, s in STAGES if s == RankingSettings())
    for (size, half, label), cell in by.items():
        if label == default_label and half == "report":
            ok &= _check_bars(cell, size, app_size, f"{size}px default, report half:")
    print()
    return ok


# --------------------------------------------------------------------------- descriptors
#: Descriptor variants of the default model (issue #6 item 1): (label, input sizes, pooling).
#: Several sizes = multi-scale: the L2-normalised descriptors of each size, summed.
DESCRIPTORS: list[tuple[str, tuple[int, ...], str]] = [
    ("avg pool 224 (photofind 0.1)", (224,), "avg"),
    ("avg pool 288 (app)", (288,), "avg"),
    ("GeM p=3 288", (288,), "gem"),
    ("avg multi-scale 288 + 204", (288, 204), "avg"),
    ("avg multi-scale 224 + 320", (224, 320), "avg"),
    ("avg pool 320", (320,), "avg"),
]


class _Descriptors:
    """Stands in for the embedder in a ``Searcher`` over vectors the bench wrote itself."""

    def __init__(self, model_id: str, dim: int) -> None:
        self.model_id, self.dim = model_id, dim


def _descriptor_vectors(ds: Dataset, info: ModelInfo, paths: list[str], lib) -> dict[tuple[int, str], np.ndarray]:  # type: ignore[no-untyped-def]
    """(size, pooling) -> unit vectors of ``paths``, decoded by the app, pooled by core/models/pooling."""
    from photofind.core.images.decode import decode_for_model
    from photofind.core.models.pooling import gem

    out: dict[tuple[int, str], np.ndarray] = {}
    for size in sorted({z for _, sizes, _ in DESCRIPTORS for z in sizes}):
        spec = dataclasses.replace(info.preprocess, size=size)
        avg, gems = [], []
        for start in range(0, len(paths), 16):
            batch = np.stack([decode_for_model(p, spec).tensor for p in paths[start : start + 16]])
            fmap = lib.embedder.feature_map(batch)
            avg.append(fmap.mean(axis=(2, 3)))
            gems.append(gem(fmap, 3.0))
        for pooling, parts in (("avg", avg), ("gem", gems)):
            v = np.concatenate(parts)
            out[(size, pooling)] = v / np.linalg.norm(v, axis=1, keepdims=True)
        print(f"    {ds.name}: descriptors at {size}px", file=sys.stderr, flush=True)
    return out


def evaluate_descriptors(
    ds: Dataset, info: ModelInfo, stages: list[tuple[str, RankingSettings]], *, threads: int | None = None
) -> list[dict[str, object]]:
    """Each ``DESCRIPTORS`` variant through the app's ranking stages (plain and default).

    The set is indexed once by the app (photo rows); each variant's vectors are then written to
    the library under a model id of their own and searched with the app's ``Searcher``.
    """
    from photofind.core.search.indexes import SearchIndexes

    out = []
    with tempfile.TemporaryDirectory(prefix="photofind-descriptors-") as tmp:
        lib = open_library(tmp, info, threads=threads)
        try:
            lib.add_folder(ds.images)
            lib.run_index()
            repo = lib.repo
            pids, _, stem_of, path_of = indexed_photos(lib, info, ds)
            vectors = _descriptor_vectors(ds, info, [path_of[p] for p in pids.tolist()], lib)
            for number, (label, sizes, pooling) in enumerate(DESCRIPTORS):
                desc = sum(vectors[(z, pooling)] for z in sizes)
                model_id = f"bench-descriptor-{number}"
                with repo.write() as w:
                    for pid, v in zip(pids.tolist(), desc, strict=True):
                        w.put_embedding(pid, model_id, v)
                # every space of these variants is built in memory (none is saved for them)
                indexes = SearchIndexes(repo, lambda m: Path(tmp) / f"{m}.hnsw")
                out += _score_stages(
                    ds, repo, _Descriptors(model_id, info.dim), indexes, pids, stem_of, stages, label
                )
        finally:
            lib.close()
    return out


def print_descriptor_table(results: list[dict[str, object]]) -> None:
    """One row per (descriptor, stages): Corel P@10, Corel mAP, UKBench N-S."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for r in results:
        cell = cells.setdefault((str(r["size"]), str(r["stage"])), {})
        prefix = "corel" if str(r["set"]).startswith("corel") else "ukbench"
        for m, v in r["scores"].items():  # type: ignore[union-attr]
            cell[f"{prefix} {m}"] = v
    head = f"{'descriptor':<30} {'ranking':<24} {'Corel P@10':>11} {'Corel mAP':>11} {'UKBench N-S':>11}"
    print(head)
    print("-" * len(head))
    for (desc, stage), cell in cells.items():
        vals = " ".join(
            f"{cell[k]:11.4f}" if k in cell else f"{'':>11}" for k in ("corel P@10", "corel mAP", "ukbench N-S")
        )
        print(f"{desc:<30} {stage:<24} {vals}")


def print_stage_table(results: list[dict[str, object]], app_size: int) -> bool:
    """One row per (input size, stage): Corel P@10, Corel mAP, UKBench N-S, query ms p95."""
    by: dict[tuple[int, str], dict[str, object]] = {}
    for r in results:
        key = (int(r["size"]), str(r["stage"]))  # type: ignore[arg-type]
        cell = by.setdefault(key, {"ms": []})
        sc = r["scores"]
        assert isinstance(sc, dict)
        prefix = "corel" if str(r["set"]).startswith("corel") else "ukbench"
        for m, v in sc.items():
            cell[f"{prefix} {m}"] = v
        cell["ms"].append(r["query_ms_p95"])  # type: ignore[union-attr]
    cols = [("corel P@10", "Corel P@10"), ("corel mAP", "Corel mAP"), ("ukbench N-S", "UKBench N-S")]
    head = f"{'input':<6} {'ranking stages':<26} " + " ".join(f"{c[1]:>11}" for c in cols) + f" {'ms p95':>7}"
    print(head)
    print("-" * len(head))
    ok = True
    default_label = next(label for label, s in STAGES if s == RankingSettings())
    for (size, label), cell in by.items():
        vals = []
        for key, _ in cols:
            v = cell.get(key)
            vals.append(f"{v:11.4f}" if isinstance(v, float) else f"{'':>11}")
        print(f"{size:<6} {label:<26} " + " ".join(vals) + f" {max(cell['ms']):7.2f}")  # type: ignore[arg-type]
    print()
    ok &= _print_stage_contributions(by, cols, app_size)
    for (size, label), cell in by.items():
        if label == default_label:
            ok &= _check_bars(cell, size, app_size, f"{size}px default")
    return ok


def _check_bars(cell: dict[str, object], size: object, app_size: object, title: str) -> bool:
    """Print each ranking bar against ``cell``; False when one fails at the app's input size."""
    ok = True
    for (prefix, metric), bar in RANKING_BARS.items():
        v = cell.get(f"{prefix} {metric}")
        if isinstance(v, float):
            passed = v >= bar
            ok &= passed if size == app_size else True
            print(f"{title} {prefix} {metric} {v:.4f} (bar {bar}): {passfail(passed)}")
    return ok


#: Each stage of the default and the table row that is the default without it.
WITHOUT = {"PCA": "DBA + QE", "DBA": "PCA + QE", "QE": "PCA + DBA"}


def _print_stage_contributions(
    by: dict[tuple[int, str], dict[str, object]], cols: list[tuple[str, str]], app_size: int
) -> bool:
    """What each stage adds inside the default (default minus the default without it); issue #6
    asks that no stage lowers any figure there. Returns False when one does."""
    ok = True
    default_label = next(label for label, s in STAGES if s == RankingSettings())
    for size in sorted({size for size, _ in by}):
        default = by.get((size, default_label))
        if default is None:
            continue
        for stage, without_label in WITHOUT.items():
            without = by.get((size, without_label))
            if without is None:
                continue
            deltas = [(name, default.get(key), without.get(key)) for key, name in cols]
            deltas = [(name, a - b) for name, a, b in deltas if isinstance(a, float) and isinstance(b, float)]
            lowers = [name for name, d in deltas if d < -1e-9]
            ok &= not lowers or size != app_size
            shown = ", ".join(f"{name} {d:+.4f}" for name, d in deltas)
            verdict = "PASS" if not lowers else f"FAIL (lowers {', '.join(lowers)})"
            print(f"{size}px {stage} inside the default: {shown}: {verdict}")
    print()
    return ok


# --------------------------------------------------------------------------- output
def print_table(results: list[dict[str, object]]) -> bool:
    """Print one row per (set, model, resize, metric); returns whether every bar passed."""
    all_ok = True
    head = f"{'set':<12} {'model':<18} {'resize':<11} {'metric':<6} {'HNSW':>7} {'exact':>7} {'ref':>6} {'bar':>6}  verdict"
    print(head)
    print("-" * len(head))
    for r in results:
        hnsw, exact = r["hnsw"], r["exact"]
        assert isinstance(hnsw, dict) and isinstance(exact, dict)
        for metric in hnsw:
            set_name, model = str(r["set"]), str(r["model"])
            bar = bar_for(set_name, metric) if r.get("bars_apply") else None
            ref = reference_for(set_name, metric) if model == DEFAULT_MODEL else None
            verdict = ""
            if bar is not None:
                ok = hnsw[metric] >= bar
                verdict = passfail(ok)
                all_ok &= ok
            print(
                f"{set_name:<12} {model:<18} {r['resize']:<11} {metric:<6} {hnsw[metric]:7.4f} "
                f"{exact[metric]:7.4f} {'' if ref is None else f'{ref:.3f}':>6} "
                f"{'' if bar is None else f'{bar:.3f}':>6}  {verdict}"
            )
    print()
    for r in results:
        print(
            f"{r['set']:<12} {r['model']:<18} {r['resize']:<11} indexed {r['n']} photos at "
            f"{r['index_photos_per_s']:.1f} photos/s ({r['index_wall_s']:.0f} s wall); "
            f"search {r['search_ms_per_query']:.1f} ms/query"
        )
    return all_ok


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if "--int8" in argv:  # the int8 quality gate lives in its own module (issue 13)
        import int8_gate

        return int8_gate.main([a for a in argv if a != "--int8"])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path, help="data set folders (default: corel1k, ukbench1000)")
    parser.add_argument("--model", action="append", help=f"model name; repeat for several (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--resize", choices=("default", "center_crop", "squash", "both"), default="default",
        help="preprocessing resize (default: the model's own; 'both' compares the two)",
    )
    parser.add_argument("--threads", type=int, help="model threads (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--models", action="store_true",
        help="the model/preprocessing table (plain cosine, HNSW vs exact) instead of the stage table",
    )
    parser.add_argument(
        "--sizes", default="", help="input sizes for the stage table, e.g. 224,288,320 (default: the "
        "model's own, 288 for the default model)"
    )
    parser.add_argument(
        "--descriptors", action="store_true",
        help="descriptor variants (input size, GeM, multi-scale) under plain and default ranking",
    )
    parser.add_argument(
        "--stages", choices=("all", "default"), default="all",
        help="all stage rows, or only plain cosine and the default combination (faster)",
    )
    args = parser.parse_args(argv)
    quiet_logs()

    sets = [load_dataset(p) for p in (args.datasets or DEFAULT_SETS)]
    if args.descriptors:
        info = model_info(args.model[0] if args.model else None)
        two = [(label, st) for label, st in STAGES if st in (_PLAIN, RankingSettings())]
        results = []
        for ds in sets:
            print(f"... {ds.name}: {len(DESCRIPTORS)} descriptors", file=sys.stderr, flush=True)
            results += evaluate_descriptors(ds, info, two, threads=args.threads)
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            print_descriptor_table(results)
        return 0
    if not args.models:
        stage_results = []
        app_size = model_info(args.model[0] if args.model else None).preprocess.size
        for size in [int(x) for x in args.sizes.split(",")] if args.sizes else [app_size]:
            info = model_info(args.model[0] if args.model else None, size=size)
            for ds in sets:
                print(f"... {ds.name}: {info.name} {size}px, {len(STAGES)} rankings", file=sys.stderr, flush=True)
                stages = STAGES if args.stages == "all" else [
                    (label, st) for label, st in STAGES
                    if st in (_PLAIN, RankingSettings(), dataclasses.replace(RankingSettings(), copy_first=False))
                ]
                stage_results += evaluate_stages(ds, info, stages, threads=args.threads)
        if args.json:
            print(json.dumps(stage_results, indent=2))
            return 0
        ok = print_stage_table(stage_results, app_size)
        ok &= print_halves_table(stage_results, app_size)
        return 0 if ok else 1
    resizes = {"default": [None], "both": ["center_crop", "squash"]}.get(args.resize, [args.resize])
    results = []
    for name in args.model or [DEFAULT_MODEL]:
        own_resize = model_info(name).preprocess.resize
        for resize in resizes:
            info = model_info(name, resize)
            for ds in sets:
                print(f"... {ds.name}: {info.name} ({info.preprocess.resize})", file=sys.stderr, flush=True)
                result = evaluate(ds, info, threads=args.threads)
                # The bars are for what ships: the default model with its own preprocessing.
                result["bars_apply"] = name == DEFAULT_MODEL and info.preprocess.resize == own_resize
                results.append(result)
    if args.json:
        print(json.dumps(results, indent=2))
        ok = all(
            r["hnsw"][m] >= b  # type: ignore[index]
            for r in results
            if r["bars_apply"]
            for m in r["hnsw"]  # type: ignore[union-attr]
            if (b := bar_for(str(r["set"]), m)) is not None
        )
    else:
        ok = print_table(results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
