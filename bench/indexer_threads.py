"""Where the indexer's CPU goes, thread by thread (issue 13: the pipeline's CPU efficiency).

    python bench/indexer_threads.py FOLDER [option=value ...]

Runs ``bench/throughput.py``'s phase (c) (the app's ``Indexer`` into a temp library) in this
process on the photos in FOLDER, reads every thread's CPU time from ``/proc/self/task`` every
0.1 s, and prints CPU ms per indexed photo by thread: the model's lanes (``photofind-embed``),
the decode pool, the main thread (writes, batching, and the run's set-up), and native threads
(BLAS during the ranking space's PCA). Options are phase (c)'s (``threads=1``,
``embed_lanes=1``, ``decode_workers=1`` ...). Linux only (``/proc``).
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(tid: str) -> float:
    fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    options = {k: int(v) for k, v in (a.split("=") for a in argv[1:])}
    throughput.MODEL = throughput.default_model_name("cpu")
    throughput.quiet_logs()
    base = {tid: _cpu_of(tid) for tid in os.listdir("/proc/self/task")}
    last: dict[str, tuple[str, float]] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            names = {str(t.native_id): t.name for t in threading.enumerate()}
            for tid in os.listdir("/proc/self/task"):
                try:
                    last[tid] = (names.get(tid, "native"), _cpu_of(tid))
                except OSError:
                    pass  # the thread ended between listing and reading
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True, name="sampler")
    sampler.start()
    out = throughput.phase_index(folder, options)
    stop.set()
    sampler.join()
    by = collections.Counter()
    for tid, (name, cpu) in last.items():
        kind = "decode pool" if "decode" in name else (name.rstrip("0123456789_-") or name)
        by[kind] += cpu - base.get(tid, 0.0)
    n = out["photos"]
    print(f"{n} photos, {out['photos_per_s']:.1f} photos/s, embedding phase {out['cpu_ms_per_photo']:.1f} CPU ms/photo, "
          f"whole run {out['run_cpu_ms_per_photo']:.1f}; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for kind, cpu in by.most_common():
        print(f"  {kind:24s} {1e3 * cpu / n:6.1f} CPU ms/photo")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
