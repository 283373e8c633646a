"""What keeping the model's own 1280-d HNSW index in step costs during a large first index.

    python bench/model_index_feed.py [--photos 20000]

Until a library holds a ranking space's minimum of photos, searches read the model's own index
(1280-d, hnswlib M 16, ef_construction 200), so the indexer adds each batch of 16 to it; once the
ranking space exists no search reads it. This adds clustered unit vectors (200 centres plus
noise, like photo embeddings) batch by batch as the indexer did, and prints the CPU and wall ms
per photo over stretches of the index's growth, then the end-of-run rebuild (``compact``, which a
large run's ``save`` asks for) and save. Issue 13: why ``IndexJob.run`` stops feeding it at the
ranking space's minimum (``photofind/core/indexing/job.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from photofind.core.vectors.vector_index import VectorIndex

DIM = 1280
BATCH = 16


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, DIM)).astype(np.float32)
    v = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20_000)
    args = parser.parse_args(argv)
    n = args.photos // BATCH * BATCH
    vectors = clustered(n)
    marks = sorted({m for m in (1_000, 5_000, 10_000, 20_000, 50_000, 100_000) if m < n} | {n})
    print(f"{n} vectors of {DIM} d in batches of {BATCH}; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="photofind-feed-") as tmp:
        index = VectorIndex(Path(tmp) / "model.hnsw", DIM)
        start, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
        for i in range(0, n, BATCH):
            index.add(np.arange(i, i + BATCH, dtype=np.int64), vectors[i : i + BATCH])
            done = i + BATCH
            if marks and done >= marks[0]:
                cpu, wall = time.process_time(), time.perf_counter()
                count = done - start
                print(f"  photos {start:>7,} - {done:>7,}: {1e3 * (cpu - cpu0) / count:5.2f} CPU ms/photo,"
                      f" {1e3 * (wall - wall0) / count:5.2f} wall ms/photo")
                start, cpu0, wall0 = done, cpu, wall
                marks.pop(0)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        advised = index.rebuild_advised
        if advised:
            index.compact()
        index.save("bench")
        print(f"  end of run: rebuild {'advised, done' if advised else 'not advised'} + save:"
              f" {time.process_time() - cpu0:.1f} s CPU, {time.perf_counter() - wall0:.1f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
