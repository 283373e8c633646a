"""Scale, measured not extrapolated: a library of 1,000,000 photos through the app's own store.

    python bench/scale.py build --keep /tmp/scale-1m [--photos 1000000]   # once (~30-60 min)
    python bench/scale.py measure --keep /tmp/scale-1m [--queries 60] [--runs 2]
    python bench/scale.py ranking --keep /tmp/scale-1m    # the index job's ranking step again

``build`` makes the library without embedding a million photos: the 1,000 Corel and 1,000
UKBench photos are embedded for real once (cached in ``~/.cache/photofind-bench``, like
``bench/search.py``), and every library entry is a path named after one of them (in sub-folders of
1,000) with that photo's vector plus Gaussian noise (cosine to the source ~0.95), inserted through
the app's repository (``upsert_photo`` + ``put_embedding``, as the indexer stores). Then the
app's index job runs once (``Library.run_index``: it scans the million symlinks, finds nothing
to embed, and builds + saves the ranking space: PCA fit, projection, DBA, HNSW). Printed: time
to insert the rows, time of the index job's ranking-space step, the data dir's sizes.
Thumbnails are not made. By default the photo files are not made either (a million symlinks
cost ~1 ms each on the shared machine, 80 % of the build): searching never opens a library
photo, so the figures are the same; ``--links`` makes them (the app can then show thumbnails)
and ``--scan`` also times a whole index run, which stats every file.

``measure`` runs on the kept library, each figure with the load average next to it:

* ``photofind search IMG`` as a child process: wall time and peak RSS (``os.wait4``);
* in this process: RSS at each step (import, open, first search = model + ranking space load),
  then search p50/p95 over ``--queries`` query photos through ``Library.searcher()``:
  ``search_image`` (decode + embed + rank, as the CLI) and ``search_vector`` (ranking only);
* the app as a child process (offscreen ``MainWindow`` opened as ``photofind/gui/app.py`` does):
  time to open the library and show the window, time until the browse grid has rows, time
  until the first search's indexes are loaded (``warm_up``), peak RSS; ``--runs`` times (the
  first is the cold-ish one after the CLI run, the rest are warm).

Bars (issue 13): peak RSS < 1.5 GB for the CLI search and the app; open + show < 2 s warm.
The heavy build should run under ``nice -n 10`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np

DATA = (REPO / ".." / "shared" / "data").resolve()
SETS = ("corel1k", "ukbench1000")
PER_DIR = 1000
RSS_BAR_MB = 1.5e9 / 2**20  # 1.5 x 10^9 bytes = 1,430.5 MiB (the figures are MiB: ru_maxrss / 1024)
OPEN_BAR_S = 2.0
CHUNK = 20_000


def load() -> str:
    return "load " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def source_photos() -> list[Path]:
    out: list[Path] = []
    for name in SETS:
        images = DATA / name / "images"
        out += sorted(images.glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))
    return out


def source_vectors(photos: list[Path]) -> np.ndarray:
    """Real embeddings of every source photo by the app's default model (cached per set)."""
    from search import CACHE, load_model  # bench/search.py

    model = load_model()
    model_id, dim, embed_file = model
    parts = []
    for name in SETS:
        files = [p for p in photos if p.parent.parent.name == name]
        cache = CACHE / f"{name}-{model_id.replace('/', '_')}.npy"
        if cache.is_file():
            v = np.load(cache)
            if v.shape == (len(files), dim):
                parts.append(v)
                continue
        t0 = time.perf_counter()
        v = np.stack([embed_file(p) for p in files]).astype(np.float32)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cache, v)
        print(f"  embedded {len(files)} {name} photos in {time.perf_counter() - t0:.0f} s (cached)")
        parts.append(v)
    return np.concatenate(parts)


def noisy(base: np.ndarray, rows: np.ndarray, rng: np.random.Generator, target_cos: float = 0.95) -> np.ndarray:
    dim = base.shape[1]
    sigma = np.float32(np.sqrt((1 / target_cos**2 - 1) / dim))
    out = base[rows] + rng.standard_normal((len(rows), dim), dtype=np.float32) * sigma
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def data_dir_of(keep: Path) -> Path:
    return keep / "data"


def open_lib(keep: Path):  # type: ignore[no-untyped-def]
    from _common import open_library
    from search import CACHE

    from photofind.core.models.registry import resolve_model

    info = resolve_model(None, CACHE / "models")
    return open_library(data_dir_of(keep), info)


def build(keep: Path, n: int, scan: bool, links: bool) -> None:
    from sqlalchemy import insert

    from photofind.store.blobs import vector_to_blob
    from photofind.store.schema import STATUS_OK, embeddings, photos

    photos_dir = keep / "photos"
    if data_dir_of(keep).exists():
        raise SystemExit(f"{keep} already holds a library: measure it, or remove it first")
    photos_dir.mkdir(parents=True, exist_ok=True)
    sources = source_photos()
    base = source_vectors(sources)
    print(f"sources: {len(sources)} real photos ({', '.join(SETS)}), {base.shape[1]}-d vectors")
    src_names = [str(s) for s in sources]
    stats = [(s.stat().st_size, s.stat().st_mtime_ns) for s in sources]
    lib = open_lib(keep)
    # the CLI and the app look for the converted model in the data dir: share the bench's copy
    from search import CACHE

    for onnx in (CACHE / "models").glob("*.onnx"):
        target = data_dir_of(keep) / "models" / onnx.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(onnx)
    folder = lib.add_folder(photos_dir)
    model_id = lib.model_info.model_id
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    link_s = 0.0
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        rows = np.arange(lo, hi) % len(sources)
        vectors = noisy(base, rows, rng)
        t_link = time.perf_counter()
        paths = []
        for i, r in zip(range(lo, hi), rows.tolist()):
            sub = photos_dir / f"d{i // PER_DIR:04d}"
            link = sub / f"{i:07d}-{sources[r].name}"
            if links:
                if i % PER_DIR == 0:
                    sub.mkdir(exist_ok=True)
                os.symlink(src_names[r], link)
            paths.append(link)
        link_s += time.perf_counter() - t_link
        photo_rows, vector_rows = [], []
        now = time.time()
        for i, r, link, vec in zip(range(lo, hi), rows.tolist(), paths, vectors):
            size, mtime_ns = stats[r]
            photo_rows.append({
                "id": i + 1, "folder_id": folder.id, "path": str(link), "size": size, "mtime_ns": mtime_ns,
                "fingerprint": f"scale-{i}", "status": STATUS_OK, "width": 384, "height": 256,
                "added_at": now, "updated_at": now,
            })
            vector_rows.append(
                {"photo_id": i + 1, "model_id": model_id, "dim": len(vec), "vector": vector_to_blob(vec)}
            )
        # The repository's own write transaction and tables, rows in bulk: per-row
        # upsert_photo + put_embedding (what the indexer calls) cost ~3 ms of SQLAlchemy per photo
        # here, an hour for a million.
        with lib.repo.write() as w:
            generation = w.next_generation
            for v in vector_rows:
                v["generation"] = generation
            w.conn.execute(insert(photos), photo_rows)
            w.conn.execute(insert(embeddings), vector_rows)
            w.changed = True
        if hi % 100_000 == 0 or hi == n:
            el = time.perf_counter() - t0
            print(f"  {hi:>9,} rows  {el:7.0f} s  ({hi / el:,.0f} rows/s, {load()})", flush=True)
    rows_s = time.perf_counter() - t0
    print(f"library rows: {n:,} photos + vectors inserted in {rows_s:.0f} s "
          f"({n / rows_s:,.0f}/s; of which file names{' + symlinks' if links else ''} {link_s:.0f} s) [{load()}]")

    # The index job's ranking step (``IndexJob.finish``: PCA fit, projection, DBA, HNSW, save),
    # under the writer lock as ``run_index`` runs it, timed on its own...
    rss_before = rss_mb()
    t0 = time.perf_counter()
    with lib.writing():
        lib.index_job().finish()
    ranking_s = time.perf_counter() - t0
    print(f"index job, ranking space step (PCA fit + projection + DBA + HNSW + save): {ranking_s:.0f} s "
          f"[{load()}]; process peak RSS {peak_mb():,.0f} MB (before {rss_before:,.0f} MB)", flush=True)
    job_s = float("nan")
    if scan:  # ...then the whole job, which also scans the million files (nothing to embed)
        t0 = time.perf_counter()
        report = lib.run_index()
        job_s = time.perf_counter() - t0
        print(f"index job, whole run on the built library (scan of {n:,} unchanged files): {job_s:.0f} s, "
              f"{report.embedded} embedded, ranking: {report.ranking} [{load()}]")
    lib.close()
    sizes(keep)
    (keep / "scale.json").write_text(json.dumps({
        "photos": n, "rows_s": rows_s, "job_s": job_s, "ranking_s": ranking_s,
        "load": os.getloadavg(),
    }))


def ranking(keep: Path) -> None:
    """The index job's ranking step again on the kept library (as ``build`` times it after the
    rows): the saved space's files are deleted first (derived data of a bench library), so the
    step builds it anew: projection (with the library's stored PCA, as after a first index),
    DBA, HNSW build and save."""
    for path in (data_dir_of(keep) / "index").glob("*.pca*.hnsw*"):
        path.unlink()
    lib = open_lib(keep)
    rss_before = rss_mb()
    t0 = time.perf_counter()
    c0 = time.process_time()
    with lib.writing():
        lib.index_job().finish()
    ranking_s = time.perf_counter() - t0
    print(f"index job, ranking space step (projection + DBA + HNSW + save): {ranking_s:.0f} s wall, "
          f"{time.process_time() - c0:.0f} s CPU [{load()}]; process peak RSS {peak_mb():,.0f} MB "
          f"(before {rss_before:,.0f} MB)", flush=True)
    lib.close()
    sizes(keep)


def sizes(keep: Path) -> None:
    data = data_dir_of(keep)
    for p in sorted(data.rglob("*")):
        if p.is_file() and p.stat().st_size > 1 << 20:
            print(f"  {p.relative_to(data)}: {p.stat().st_size / 2**20:,.0f} MiB")


# --------------------------------------------------------------------------- measure
def child(argv: list[str]) -> tuple[float, float, str]:
    """Run ``argv``; (wall s, peak RSS MB of that child alone, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_lines = []
    assert proc.stdout is not None
    out = proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"  child failed ({proc.returncode}): {' '.join(argv)}\n{err[-2000:]}")
    out_lines.append(out)
    return wall, usage.ru_maxrss / 1024, out


def queries(count: int) -> list[Path]:
    photos = source_photos()
    rng = np.random.default_rng(7)
    return [photos[i] for i in rng.choice(len(photos), count, replace=False)]


def measure_cli(keep: Path, qs: list[Path], runs: int) -> None:
    env_py = [sys.executable, "-m", "photofind", "--data-dir", str(data_dir_of(keep))]
    for q in qs[:runs]:
        wall, peak, out = child([*env_py, "search", str(q), "-k", "20", "--device", "cpu"])
        top = out.strip().splitlines()[:1]
        print(f"CLI `photofind search` (child): {wall:.2f} s wall, peak RSS {peak:,.0f} MB "
              f"(bar < {RSS_BAR_MB:.0f} MB: {'PASS' if peak < RSS_BAR_MB else 'FAIL'}) [{load()}]  top: {top}")


def measure_inprocess(keep: Path, qs: list[Path]) -> None:
    print(f"in-process steps (RSS MB): imports {rss_mb():,.0f}", end="", flush=True)
    t0 = time.perf_counter()
    lib = open_lib(keep)
    print(f", open {rss_mb():,.0f} ({time.perf_counter() - t0:.2f} s)", end="", flush=True)
    searcher = lib.searcher()
    t0 = time.perf_counter()
    searcher.embedder.embed(np.zeros((1, 3, *_input_hw(searcher)), np.float32))
    print(f", model session {rss_mb():,.0f} ({time.perf_counter() - t0:.2f} s)", end="", flush=True)
    t0 = time.perf_counter()
    space = searcher.current_space()
    print(f", ranking space loaded {rss_mb():,.0f} ({time.perf_counter() - t0:.2f} s, "
          f"{len(space.index) if space else 0:,} vectors)", flush=True)
    searcher.search_image(qs[0])
    image_ms, vector_ms = [], []
    vectors = [searcher.query_vector(q) for q in qs]
    for q, v in zip(qs, vectors):
        t0 = time.perf_counter()
        hits = searcher.search_image(q)
        image_ms.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        searcher.search_vector(v)
        vector_ms.append((time.perf_counter() - t0) * 1e3)
        assert len(hits) == 20
    for name, v in (("search_image (decode+embed+rank)", image_ms), ("search_vector (rank only)", vector_ms)):
        a = np.array(v)
        print(f"  {name:<34} p50 {np.median(a):7.1f} ms  p95 {np.percentile(a, 95):7.1f} ms  "
              f"max {a.max():7.1f} ms  ({len(a)} queries) [{load()}]")
    print(f"  this process: RSS {rss_mb():,.0f} MB, peak {peak_mb():,.0f} MB")
    lib.close()


def _input_hw(searcher) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    size = searcher.embedder.preprocess.size
    return (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[return-value]


def app_open(keep: Path) -> None:
    """(child) Open the app as ``gui/app.py`` does, show the window, print timings as JSON."""
    t0 = time.perf_counter()
    from PySide6.QtCore import QSettings

    from photofind.gui.app import (
        after_first_paint,
        make_application,
        open_library,
        preload_worker_modules,
    )
    from photofind.gui.main_window import MainWindow

    t_import = time.perf_counter() - t0
    app = make_application()
    library = open_library(data_dir_of(keep), device="cpu", preload=False)
    t_lib = time.perf_counter() - t0
    settings = QSettings(str(keep / "bench-app.ini"), QSettings.Format.IniFormat)
    window = MainWindow(library, settings, watch=False, rescan_on_start=False, index_in_child=True, defer_start=True)
    window.resize(1280, 800)
    window.show()
    # as run_app: the worker modules and the model's warm-up start once the window has painted
    after_first_paint(window, lambda: (preload_worker_modules(), window.start_background()))
    app.processEvents()
    t_show = time.perf_counter() - t0
    t_rows = t_warm = float("nan")
    warmed = {"done": False}
    done = library.warm_up  # noqa: F841 - the window runs it on the query queue
    while time.perf_counter() - t0 < 120:
        app.processEvents()
        if np.isnan(t_rows) and window.results.model.rowCount() > 0:
            t_rows = time.perf_counter() - t0
        if np.isnan(t_warm) and library.indexes._spaces:
            t_warm = time.perf_counter() - t0
            warmed["done"] = True
        if not np.isnan(t_rows) and warmed["done"] and not window.jobs.busy("query"):
            break
        time.sleep(0.005)
    rss = rss_mb()
    window.shutdown()
    library.close()
    print(json.dumps({"import": t_import, "library": t_lib, "show": t_show, "rows": t_rows,
                      "warm_up": t_warm, "rss": rss, "peak": peak_mb()}))


def measure_app(keep: Path, runs: int) -> None:
    for run in range(runs):
        _wall, peak, out = child([sys.executable, __file__, "app-open", "--keep", str(keep)])
        try:
            f = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"  app run {run + 1}: no figures ({out[-500:]})")
            continue
        ok_rss = peak < RSS_BAR_MB
        ok_open = f["show"] < OPEN_BAR_S
        print(f"app run {run + 1}{' (warm)' if run else ''}: imports {f['import']:.2f} s, library open "
              f"{f['library']:.2f} s, window shown {f['show']:.2f} s (bar < {OPEN_BAR_S:.0f} s: "
              f"{'PASS' if ok_open else 'FAIL'}), browse rows {f['rows']:.2f} s, search indexes "
              f"loaded {f['warm_up']:.2f} s; RSS then {f['rss']:,.0f} MB, peak {peak:,.0f} MB "
              f"(bar < {RSS_BAR_MB:.0f} MB: {'PASS' if ok_rss else 'FAIL'}) [{load()}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "measure", "app-open", "ranking"))
    parser.add_argument("--keep", required=True, type=Path, help="directory of the kept library")
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--scan", action="store_true", help="build: also time a whole index run (implies --links)")
    parser.add_argument("--links", action="store_true",
                        help="build: make the photo files (symlinks to the source photos); without it the "
                        "paths do not exist (searching never opens them; the app shows no thumbnails)")
    parser.add_argument("--runs", type=int, default=2, help="CLI and app runs")
    args = parser.parse_args(argv)
    keep = args.keep.resolve()
    if args.command == "app-open":
        app_open(keep)
        return 0
    from _common import quiet_logs

    quiet_logs()
    print(f"machine: {os.cpu_count()} CPUs, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GB; {load()}")
    if args.command == "build":
        build(keep, args.photos, args.scan or args.links, args.links or args.scan)
        return 0
    if args.command == "ranking":
        ranking(keep)
        return 0
    meta = json.loads((keep / "scale.json").read_text()) if (keep / "scale.json").exists() else {}
    print(f"library: {meta.get('photos', '?'):,} photos in {keep}")
    qs = queries(args.queries)
    measure_cli(keep, qs, args.runs)
    measure_app(keep, args.runs)
    measure_inprocess(keep, qs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
