"""The int8 model's quality gate (issue 13): the stage table's figures, float32 vs int8.

    python bench/quality.py --int8 [DATASET_DIR ...] [--sizes 288] [--threads N]
    python bench/int8_gate.py      (the same)

Each set is indexed by the app's own pipeline once per model at the same input size; the plain
cosine and the default ranking rows of the stage table (``quality.py``) are printed side by side
with their difference. The gate: every figure within ``TOLERANCE`` of float32 (exit 1 otherwise).
Then model-only throughput at batch 16 on real photos, the two models interleaved in one run
(medians of ``ROUNDS``), with the load average: other work on the machine makes it noisy.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SETS, load_dataset, median, model_info, passfail, quiet_logs
from quality import _PLAIN, STAGES, evaluate_stages

from photofind.core.images.decode import load_for_model
from photofind.core.models.embedder import OnnxEmbedder
from photofind.core.models.registry import DEFAULT_MODEL, LITE0_INT8
from photofind.core.search.ranking import RankingSettings

#: Largest difference to float32 any figure of the table may show.
TOLERANCE = 0.003
ROUNDS = 7
BATCH = 16
METRICS = (("corel", "P@10"), ("corel", "P@20"), ("corel", "mAP"), ("ukbench", "N-S"))


def _evaluate(name: str, root: Path, size: int, threads: int | None) -> list[dict[str, object]]:
    """The two stage rows of one set under one model (runs in a worker process)."""
    quiet_logs()
    ds = load_dataset(root)
    info = model_info(name, size=size)
    print(f"... {ds.name}: {info.model_id} {size}px", file=sys.stderr, flush=True)
    two = [(label, st) for label, st in STAGES if st in (_PLAIN, RankingSettings())]
    return evaluate_stages(ds, info, two, threads=threads)


def quality_rows(
    roots: list[Path], size: int, threads: int | None, jobs: int
) -> dict[tuple[str, str, str], dict[str, float]]:
    """(stage, set prefix, metric) -> {model name: figure}, both models at ``size`` px.

    The (model, set) pairs run in ``jobs`` worker processes (results do not depend on it)."""
    for name in (DEFAULT_MODEL, LITE0_INT8):
        model_info(name, size=size)  # convert / quantise once, before the workers need it
    pairs = [(name, root) for name in (DEFAULT_MODEL, LITE0_INT8) for root in roots]
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_evaluate, name, root, size, threads) for name, root in pairs]
        results = [(name, f.result()) for (name, _), f in zip(pairs, futures)]
    rows: dict[tuple[str, str, str], dict[str, float]] = {}
    for name, rs in results:
        for r in rs:
            prefix = "corel" if str(r["set"]).startswith("corel") else "ukbench"
            for metric, v in r["scores"].items():  # type: ignore[union-attr]
                rows.setdefault((str(r["stage"]), prefix, metric), {})[name] = float(v)
    return rows


def print_gate(rows: dict[tuple[str, str, str], dict[str, float]], size: int) -> bool:
    head = f"{'input':<6} {'ranking':<26} {'figure':<13} {'float32':>8} {'int8':>8} {'diff':>8}  gate (|diff| <= {TOLERANCE})"
    print(head)
    print("-" * len(head))
    ok = True
    for (stage, prefix, metric), cell in rows.items():
        if (prefix, metric) not in METRICS or len(cell) < 2:
            continue
        f, q = cell[DEFAULT_MODEL], cell[LITE0_INT8]
        passed = abs(q - f) <= TOLERANCE + 1e-9
        ok &= passed
        print(f"{size:<6} {stage:<26} {prefix + ' ' + metric:<13} {f:8.4f} {q:8.4f} {q - f:+8.4f}  {passfail(passed)}")
    return ok


def model_throughput(size: int, threads: int | None) -> None:
    """Photos/s of the model alone (batch of 16 real photos, preprocessed beforehand)."""
    files = sorted((DEFAULT_SETS[0] / "images").iterdir())[:: 1000 // BATCH][:BATCH]
    embedders = {}
    for name in (DEFAULT_MODEL, LITE0_INT8):
        info = model_info(name, size=size)
        embedders[name] = OnnxEmbedder(info, device="cpu", threads=threads)
    batch = np.stack([load_for_model(str(p), embedders[DEFAULT_MODEL].preprocess) for p in files])
    rates: dict[str, list[float]] = {n: [] for n in embedders}
    for e in embedders.values():
        e.embed(batch)  # warm-up
    for _ in range(ROUNDS):  # interleaved: both models see the same load
        for name, e in embedders.items():
            t0 = time.perf_counter()
            e.embed(batch)
            rates[name].append(BATCH / (time.perf_counter() - t0))
    f, q = median(rates[DEFAULT_MODEL]), median(rates[LITE0_INT8])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"model only, batch {BATCH} at {size}px, {embedders[DEFAULT_MODEL].threads} threads, medians of "
        f"{ROUNDS} interleaved: float32 {f:.1f} photos/s, int8 {q:.1f} photos/s ({q / f:.2f}x); "
        f"load average {load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path, help="data set folders (default: corel1k, ukbench1000)")
    parser.add_argument("--sizes", default="288", help="input sizes (default 288, the app's)")
    parser.add_argument("--threads", type=int, help="model threads (default: all cores)")
    parser.add_argument("--no-quality", action="store_true", help="only the throughput line")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the quality rows (default 1)")
    args = parser.parse_args(argv)
    quiet_logs()
    roots = [Path(p) for p in (args.datasets or DEFAULT_SETS)]
    ok = True
    for size in [int(s) for s in args.sizes.split(",")]:
        if not args.no_quality:
            ok &= print_gate(quality_rows(roots, size, args.threads, args.jobs), size)
        model_throughput(size, args.threads)
    print(f"int8 quality gate: {passfail(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
