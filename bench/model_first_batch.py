"""What the index job's first model batches cost over later ones (issue 13: CPU per photo).

    python bench/model_first_batch.py [--rounds 3]

The index job runs the model in 2 lanes of 1 thread, batches of 16 (``Library.indexing_embedder``);
onnxruntime plans and allocates on a session's first runs, which ``throughput.py``'s (a) leaves
out (it warms up first) and its (c) pays once per index run. Each variant of the session options
(default; memory pattern off; CPU arena off; both off) runs in a fresh process, the rounds
interleaved: CPU ms of the first pair of batches (one per lane) against the median later pair,
wall ms of a later pair, and the process's RSS growth over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS = ("default", "no_mem_pattern", "no_arena", "no_both")
PHOTOS, BATCH, LANES = 192, 16, 2


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(variant: str) -> dict[str, object]:
    """One variant in this process: CPU and wall seconds of each pair of batches."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import onnxruntime as ort

    base = ort.SessionOptions

    class Options(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            if variant in ("no_mem_pattern", "no_both"):
                self.enable_mem_pattern = False
            if variant in ("no_arena", "no_both"):
                self.enable_cpu_mem_arena = False

    ort.SessionOptions = Options  # OnnxEmbedder builds its options from this
    from _common import DATA, model_info

    from photofind.core.images.decode import decode_for_model
    from photofind.core.models.embedder import OnnxEmbedder
    from photofind.core.models.registry import default_model_name

    info = model_info(default_model_name("cpu"))
    embedder = OnnxEmbedder(info, device="cpu", threads=1)
    photos = sorted((DATA / "corel1k" / "images").glob("*.jpg"))[:PHOTOS]
    tensors = [decode_for_model(p, info.preprocess).tensor for p in photos]
    batches = [np.stack(tensors[i : i + BATCH]) for i in range(0, len(tensors), BATCH)]
    rss0 = rss_mib()
    pairs = []
    with ThreadPoolExecutor(LANES) as pool:
        for i in range(0, len(batches), LANES):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            list(pool.map(embedder.embed, batches[i : i + LANES]))
            pairs.append((time.process_time() - cpu0, time.perf_counter() - wall0))
    return {"first": pairs[0], "rest": pairs[1:], "rss_growth": rss_mib() - rss0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(child(args.variant)))
        return 0
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for v in VARIANTS:
            done = subprocess.run(
                [sys.executable, __file__, "--variant", v], capture_output=True, text=True, check=True
            )
            runs[v].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"load {os.getloadavg()[0]:.2f}; {LANES} lanes x 1 thread, batch {BATCH}, the CPU default model; "
          f"CPU ms per pair of batches ({LANES * BATCH} photos), medians of {args.rounds} processes")
    for v in VARIANTS:
        first = [1e3 * r["first"][0] for r in runs[v]]
        later = [1e3 * statistics.median(p[0] for p in r["rest"]) for r in runs[v]]
        wall = [1e3 * statistics.median(p[1] for p in r["rest"]) for r in runs[v]]
        growth = [r["rss_growth"] for r in runs[v]]
        print(f"  {v:<15} first pair {statistics.median(first):5.0f} ({' / '.join(f'{x:.0f}' for x in first)})"
              f"   later pairs {statistics.median(later):5.0f} CPU, {statistics.median(wall):4.0f} wall"
              f"   first's extra {statistics.median(first) - statistics.median(later):4.0f}"
              f"   RSS growth {statistics.median(growth):4.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
