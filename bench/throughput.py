"""Indexing throughput: model alone, decoding alone, and the app's whole indexer.

    python bench/throughput.py [--photos N] [--large N] [--repeat R] [--json]
                               [--batch-size B] [--decode-workers W] [--prefetch P] [--threads T]
    python bench/throughput.py --sweep [--photos N] [--large N]
    --model NAME: the model for every phase (default: the app's default on CPU, the int8 one)

On the same photos it measures

  (a) model only: photos/s of ``OnnxEmbedder.embed`` on pre-decoded tensors, batch 16, on every
      core as the index job runs it (batches side by side, ``Library.indexing_embedder``);
  (b) decode + preprocess: photos/s of ``decode_for_model`` in one thread;
  (c) the app's ``Indexer`` into a temp library: ``report.photos_per_second`` (embedding phase)
      and photos / wall clock of the whole ``run()`` (scan included);
  (n) the naive serial loop the seed projects run: decode, resize, one forward pass per photo,
      nothing overlapped (same session settings); photofind's speed-up over it is (c)/(n);

and the pipeline limit L = 1 / (1/a + 1/(b * cores)): decoding and the model share the same
cores, so a photo costs the model's time plus its share of decoding. Bar: (c) >= 0.8 L.

Photo sets: Corel-1k (384x256, ``--photos`` of them, copied to a temp folder) and ``--large``
real Corel/UKBench photos upscaled to 5120x2880 JPEGs (quality 90) in a temp folder. Each phase
runs in its own subprocess so its peak RSS is its own; CPU seconds (user + system, all threads)
per photo are printed too, since they hardly depend on what else runs on the machine. Each
phase is repeated ``--repeat`` times, interleaved, and medians are printed.

``--sweep`` runs (c) for a grid of ``Indexer``/``OnnxEmbedder`` settings (batch size, decode
workers, prefetch depth, model threads) on both photo sets and prints them side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DATA,
    cpu_seconds,
    median,
    model_info,
    open_library,
    passfail,
    peak_rss_mb,
    quiet_logs,
)

from photofind.core.models.embedder import OnnxEmbedder, usable_cores
from photofind.core.models.registry import default_model_name
from photofind.core.images.decode import decode_for_model

LARGE_SIZE = (5120, 2880)
MODEL_SAMPLE = 160  # tensors kept in memory for (a): 10 batches of 16
RATIO_BAR = 0.85  # issue 13: (c) >= 0.85 L
EFFICIENCY_BAR = 0.95  # issue 13: (a_cpu + b_cpu) / c_cpu >= 0.95
NAIVE_BAR = 5.0  # issue 13: photofind >= 5x the seeds' naive loop


# --------------------------------------------------------------------------- photo sets
def make_corel_set(dest: Path, n: int) -> list[Path]:
    src = sorted((DATA / "corel1k" / "images").glob("*.jpg"), key=lambda p: int(p.stem))[:n]
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, dest)) for p in src]


def make_large_set(dest: Path, n: int) -> list[Path]:
    """``n`` real photos (half Corel, half UKBench) upscaled to 5120x2880, JPEG quality 90."""
    from PIL import Image

    corel = sorted((DATA / "corel1k" / "images").glob("*.jpg"), key=lambda p: int(p.stem))
    uk = sorted((DATA / "ukbench1000" / "images").glob("*.jpg"))
    picks = [corel[i * 997 % len(corel)] if i % 2 else uk[i * 41 % len(uk)] for i in range(n)]
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i, src in enumerate(picks):
        with Image.open(src) as img:
            big = img.convert("RGB").resize(LARGE_SIZE, Image.Resampling.BICUBIC)
        path = dest / f"large_{i:03d}.jpg"
        big.save(path, "JPEG", quality=90)
        out.append(path)
    return out


# --------------------------------------------------------------------------- phases (in a child)
def set_spinning(embedder: OnnxEmbedder, spinning: int | None) -> None:
    """Re-open the embedder's session with onnxruntime's intra-op spin-waiting on (1) or off (0).

    Not an app option (yet): this lets the bench measure what the setting would change.
    """
    if spinning is None:
        return
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = embedder.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", str(int(spinning)))
    embedder.session = ort.InferenceSession(str(embedder.info.onnx_path), opts, providers=["CPUExecutionProvider"])


#: The model every phase runs (``--model``; the children get it on their command line).
MODEL: str | None = None
#: The seeds' model: float32 (they had no int8 variant).
FLOAT_MODEL = "efficientnet-lite0"


def phase_naive(photos: list[Path]) -> dict[str, float]:
    """The seeds' loop: open each photo with Pillow at full size, resize it, run the float32
    model on it alone (onnxruntime's default session), next photo. No draft decoding, no
    batching, no int8, no overlap."""
    import onnxruntime as ort
    from PIL import Image

    info = model_info(FLOAT_MODEL)
    spec = info.preprocess
    session = ort.InferenceSession(str(info.onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)

    def tensor(path: Path) -> np.ndarray:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        w, h = rgb.size
        side = min(w, h)
        square = rgb.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        x = (np.asarray(square.resize((spec.size, spec.size), Image.Resampling.BICUBIC), np.float32) - mean) / std
        return x.transpose(2, 0, 1)[None] if spec.layout == "NCHW" else x[None]

    session.run(None, {name: tensor(photos[0])})  # warm-up
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for p in photos:
        session.run(None, {name: tensor(p)})
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {"photos": len(photos), "photos_per_s": len(photos) / wall, "cpu_ms_per_photo": 1e3 * cpu / len(photos)}


def phase_serial(photos: list[Path]) -> dict[str, float]:
    """The same serial loop with photofind's parts: its decoder (draft decoding) and its model
    session (the int8 model by default), still one photo at a time with nothing overlapped.
    (n) / this row shows what the parts give, (c) / this row what the pipeline gives."""
    info = model_info(MODEL)
    embedder = OnnxEmbedder(info, device="cpu")
    embedder.embed(decode_for_model(photos[0], info.preprocess).tensor[None])  # warm-up
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for p in photos:
        embedder.embed(decode_for_model(p, info.preprocess).tensor[None])
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {"photos": len(photos), "photos_per_s": len(photos) / wall, "cpu_ms_per_photo": 1e3 * cpu / len(photos)}


def phase_model(photos: list[Path], threads: int | None, batch: int, spinning: int | None = None) -> dict[str, float]:
    """The model alone on every core, arranged as the index job arranges it: ``lanes`` batches
    side by side, each on ``cores // lanes`` threads (``Library.indexing_embedder``); an
    explicit ``threads`` runs one batch at a time on that many threads (the app with
    ``--threads``)."""
    from concurrent.futures import ThreadPoolExecutor

    from photofind.core.library import MAX_EMBED_LANES

    info = model_info(MODEL)
    cores = usable_cores()
    lanes = 1 if threads or cores < 2 else min(cores, MAX_EMBED_LANES)
    embedder = OnnxEmbedder(info, device="cpu", threads=threads or max(1, cores // lanes))
    set_spinning(embedder, spinning)
    tensors = [decode_for_model(p, info.preprocess).tensor for p in photos[:MODEL_SAMPLE]]
    while len(tensors) < 2 * batch * lanes:  # small sets: reuse photos so every lane has >= 2 batches
        tensors += tensors
    batches = [np.stack(tensors[i : i + batch]) for i in range(0, len(tensors) - batch + 1, batch)]
    with ThreadPoolExecutor(lanes) as pool:
        list(pool.map(embedder.embed, batches[:lanes]))  # warm-up: the first runs allocate and plan
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        list(pool.map(embedder.embed, batches))
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    n = sum(len(b) for b in batches)
    return {
        "photos": n, "photos_per_s": n / wall, "cpu_ms_per_photo": 1e3 * cpu / n,
        "threads": embedder.threads, "lanes": lanes,
    }


def phase_decode(photos: list[Path]) -> dict[str, float]:
    spec = model_info(MODEL).preprocess
    decode_for_model(photos[0], spec)  # warm-up (imports, Pillow plugins)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for p in photos:
        decode_for_model(p, spec)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {"photos": len(photos), "photos_per_s": len(photos) / wall, "cpu_ms_per_photo": 1e3 * cpu / len(photos)}


def phase_index(folder: Path, options: dict[str, int | None]) -> dict[str, float]:
    info = model_info(MODEL)
    with tempfile.TemporaryDirectory(prefix="photofind-throughput-") as tmp:
        lib = open_library(tmp, info, threads=options.get("threads"))
        try:
            lib.add_folder(folder)
            set_spinning(lib.embedder, options.get("spinning"))
            kwargs = {k: v for k, v in options.items() if k not in ("threads", "spinning") and v is not None}
            job = lib.index_job(**kwargs)  # opens the ONNX session: not timed
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            with lib.writing():
                report = job.run()
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        finally:
            lib.close()
    n = report.embedded
    return {
        "photos": n,
        "photos_per_s": report.photos_per_second,
        "wall_photos_per_s": n / wall if wall > 0 else 0.0,
        # The embedding phase's CPU, the phase whose speed is reported: the scan before it and
        # the ranking space built after it (a fixed cost per run, PCA and DBA) are not in it.
        "cpu_ms_per_photo": 1e3 * report.embed_cpu_seconds / max(1, n),
        "run_cpu_ms_per_photo": 1e3 * cpu / max(1, n),
        "skipped": len(report.skipped),
    }


def run_phase(phase: str, folder: Path, options: dict[str, int | None] | None = None) -> dict[str, float]:
    """Run one phase in a fresh interpreter; its result plus its own peak RSS."""
    cmd = [sys.executable, __file__, "--phase", phase, "--folder", str(folder)]
    if MODEL:
        cmd += ["--model", MODEL]
    for key, value in (options or {}).items():
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"phase {phase} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(args: argparse.Namespace) -> int:
    quiet_logs()
    photos = sorted(args.folder.glob("*.jpg"))
    if args.phase == "a":
        out = phase_model(photos, args.threads, args.batch_size or 16, args.spinning)
    elif args.phase == "b":
        out = phase_decode(photos)
    elif args.phase == "n":
        out = phase_naive(photos)
    elif args.phase == "s":
        out = phase_serial(photos)
    else:
        opts = {
            "batch_size": args.batch_size,
            "decode_workers": args.decode_workers,
            "prefetch_batches": args.prefetch,
            "threads": args.threads,
            "spinning": args.spinning,
            "embed_lanes": args.lanes,
        }
        out = phase_index(args.folder, opts)
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))
    return 0


# --------------------------------------------------------------------------- driver
def limit(a: float, b: float, cores: int) -> float:
    """Pipeline limit when decoding (b per core) and the model (a on all cores) share the cores."""
    return 1.0 / (1.0 / a + 1.0 / (b * cores))


def measure(name: str, folder: Path, repeat: int, options: dict[str, int | None]) -> dict[str, object]:
    runs: dict[str, list[dict[str, float]]] = {"a": [], "b": [], "c": [], "n": [], "s": []}
    model_opts = {"batch_size": 16}  # (a) is always the app's session on all cores
    for i in range(repeat):
        for phase in ("a", "b", "c", "n", "s"):
            print(f"... {name}: run {i + 1}/{repeat}, phase {phase}", file=sys.stderr, flush=True)
            runs[phase].append(run_phase(phase, folder, model_opts if phase == "a" else options if phase == "c" else None))

    def med(phase: str, key: str) -> float:
        return median(r[key] for r in runs[phase])

    cores = usable_cores()
    a, b, c = med("a", "photos_per_s"), med("b", "photos_per_s"), med("c", "photos_per_s")
    lim = limit(a, b, cores)
    # The ratio per run (each run's a, b, c measured back to back) is less noisy than medians.
    ratios = [
        rc["photos_per_s"] / limit(ra["photos_per_s"], rb["photos_per_s"], cores)
        for ra, rb, rc in zip(runs["a"], runs["b"], runs["c"])
    ]
    return {
        "set": name,
        "photos": int(runs["c"][0]["photos"]),
        "cores": cores,
        "repeat": repeat,
        "options": options,
        "a_model_per_s": a,
        "b_decode_per_s_1core": b,
        "c_index_per_s": c,
        "c_wall_per_s": med("c", "wall_photos_per_s"),
        "limit_per_s": lim,
        "ratio": c / lim,
        "ratio_per_run_median": median(ratios),
        "cpu_ms_per_photo": {p: med(p, "cpu_ms_per_photo") for p in runs},
        # Load-independent view of the same question: CPU the indexer spends per photo beyond
        # what the model and the decoder need on their own (1.0 = no overhead).
        "cpu_efficiency": (med("a", "cpu_ms_per_photo") + med("b", "cpu_ms_per_photo")) / med("c", "cpu_ms_per_photo"),
        "peak_rss_mb": {p: max(r["peak_rss_mb"] for r in runs[p]) for p in runs},
        "naive_per_s": med("n", "photos_per_s"),
        "vs_naive": c / med("n", "photos_per_s"),
        "vs_naive_per_run_median": median(rc["photos_per_s"] / rn["photos_per_s"] for rc, rn in zip(runs["c"], runs["n"])),
        "serial_per_s": med("s", "photos_per_s"),
        "vs_serial": c / med("s", "photos_per_s"),
        "c_run_cpu_ms_per_photo": med("c", "run_cpu_ms_per_photo"),
        "model": MODEL,
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "runs": runs,
    }


def print_result(r: dict[str, object]) -> bool:
    cpu, rss = r["cpu_ms_per_photo"], r["peak_rss_mb"]
    assert isinstance(cpu, dict) and isinstance(rss, dict)
    ok_ratio = float(r["ratio_per_run_median"]) >= RATIO_BAR  # type: ignore[arg-type]
    ok_cpu = float(r["cpu_efficiency"]) >= EFFICIENCY_BAR  # type: ignore[arg-type]
    ok_naive = float(r["vs_naive"]) >= NAIVE_BAR  # type: ignore[arg-type]
    print(f"== {r['set']}: {r['photos']} photos, {r['cores']} cores, model {r['model']}, median of {r['repeat']} runs, load average {r['load_average']}")
    a0 = r["runs"]["a"][0]  # type: ignore[index]
    print(f"  (a) model, batch 16, {a0.get('lanes', 1)}x{a0['threads']} thr {r['a_model_per_s']:7.1f} photos/s   {cpu['a']:6.1f} CPU ms/photo   peak RSS {rss['a']:6.0f} MB")
    print(f"  (b) decode+preprocess, 1 thr {r['b_decode_per_s_1core']:7.1f} photos/s   {cpu['b']:6.1f} CPU ms/photo   peak RSS {rss['b']:6.0f} MB")
    print(f"  (c) Indexer (embed phase)    {r['c_index_per_s']:7.1f} photos/s   {cpu['c']:6.1f} CPU ms/photo   peak RSS {rss['c']:6.0f} MB")
    print(f"      Indexer wall incl. scan  {r['c_wall_per_s']:7.1f} photos/s   {r['c_run_cpu_ms_per_photo']:6.1f} CPU ms/photo (whole run: scan, embedding, ranking space)")
    print(f"  (n) seeds' naive loop        {r['naive_per_s']:7.1f} photos/s   {cpu['n']:6.1f} CPU ms/photo   peak RSS {rss['n']:6.0f} MB  (Pillow full decode, float32, 1 photo per run)")
    print(f"  (s) serial, photofind parts  {r['serial_per_s']:7.1f} photos/s   {cpu['s']:6.1f} CPU ms/photo   peak RSS {rss['s']:6.0f} MB  (draft decode, {r['model']}, 1 photo per run)")
    print(
        f"  photofind / naive loop = {r['vs_naive']:.2f}x (of medians), {r['vs_naive_per_run_median']:.2f}x (median per run)  "
        f"target >= {NAIVE_BAR:.0f}x: {passfail(ok_naive)};  photofind / serial with its parts = {r['vs_serial']:.2f}x"
    )
    print(f"  limit L = 1/(1/a + 1/(b*{r['cores']}))  {r['limit_per_s']:7.1f} photos/s")
    print(f"  CPU efficiency (a_cpu + b_cpu) / c_cpu = {r['cpu_efficiency']:.2f}  bar >= {EFFICIENCY_BAR}: {passfail(ok_cpu)}")
    print(
        f"  (c)/L = {r['ratio']:.2f} (of medians), {r['ratio_per_run_median']:.2f} (median per run)  "
        f"bar >= {RATIO_BAR}: {passfail(ok_ratio)}"
    )
    return ok_ratio and ok_cpu


def sweep(sets: list[tuple[str, Path]], repeat: int) -> list[dict[str, object]]:
    """Phase (c) for a grid of settings, interleaved so load changes hit every setting alike."""
    cores = usable_cores()
    base = {"batch_size": 16, "decode_workers": min(4, cores), "prefetch": 3, "threads": cores, "spinning": 1}
    # One factor at a time from the app's defaults, then the promising combinations.
    changes: list[dict[str, int]] = [
        {},
        {"batch_size": 8},
        {"batch_size": 32},
        {"decode_workers": 1},
        {"decode_workers": 2 * cores},
        {"prefetch": 1},
        {"threads": max(1, cores - 1)},
        {"spinning": 0},
        {"spinning": 0, "batch_size": 8},
        {"spinning": 0, "decode_workers": 1},
        {"threads": 1, "decode_workers": 1},
        {"threads": 1, "batch_size": 8},
        {"threads": 1, "spinning": 0},
    ]
    grid = []
    for change in changes:
        opts = {**base, **change}
        if opts not in grid:
            grid.append(opts)
    rows: list[dict[str, object]] = []
    for name, folder in sets:
        results: dict[int, list[dict[str, float]]] = {i: [] for i in range(len(grid))}
        for rep in range(repeat):
            for i, opts in enumerate(grid):
                print(f"... sweep {name} {rep + 1}/{repeat}: {opts}", file=sys.stderr, flush=True)
                results[i].append(run_phase("c", folder, opts))
        for i, opts in enumerate(grid):
            rows.append(
                {
                    "set": name,
                    **opts,
                    "photos_per_s": median(r["photos_per_s"] for r in results[i]),
                    "cpu_ms_per_photo": median(r["cpu_ms_per_photo"] for r in results[i]),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in results[i]),
                }
            )
    return rows


def print_sweep(rows: list[dict[str, object]]) -> None:
    print(f"{'set':<10} {'batch':>5} {'decode_w':>8} {'prefetch':>8} {'threads':>7} {'spin':>4} {'photos/s':>9} {'CPU ms/ph':>9} {'RSS MB':>7}")
    for set_name in dict.fromkeys(r["set"] for r in rows):
        best = max((r for r in rows if r["set"] == set_name), key=lambda r: r["photos_per_s"])  # type: ignore[arg-type, return-value]
        for r in rows:
            if r["set"] != set_name:
                continue
            mark = "  <- best" if r is best else ""
            print(
                f"{r['set']:<10} {r['batch_size']:>5} {r['decode_workers']:>8} {r['prefetch']:>8} {r['threads']:>7} {r['spinning']:>4} "
                f"{r['photos_per_s']:9.1f} {r['cpu_ms_per_photo']:9.1f} {r['peak_rss_mb']:7.0f}{mark}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000, help="Corel photos to use (default all 1000)")
    parser.add_argument("--large", type=int, default=24, help="upscaled 5120x2880 photos (default 24; 0 skips)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase (medians are printed)")
    parser.add_argument("--batch-size", type=int, help="Indexer batch_size for (c) (default: the app's)")
    parser.add_argument("--decode-workers", type=int, help="Indexer decode_workers for (c)")
    parser.add_argument("--prefetch", type=int, help="Indexer prefetch_batches for (c)")
    parser.add_argument("--threads", type=int, help="model intra-op threads for (c) (default: all cores)")
    parser.add_argument(
        "--spinning", type=int, choices=(0, 1),
        help="force onnxruntime intra-op spin-waiting off (0) or on (1) (default: the app's session)",
    )
    parser.add_argument("--lanes", type=int, help="Indexer embed_lanes for (c): batches in the model at once")
    parser.add_argument("--sweep", action="store_true", help="compare Indexer settings on (c)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", help="model for every phase (default: the app's default on CPU)")
    parser.add_argument("--phase", choices=("a", "b", "c", "n", "s"), help=argparse.SUPPRESS)  # child process
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global MODEL
    MODEL = args.model or default_model_name("cpu")
    if args.phase:
        return child_main(args)
    quiet_logs()

    model_info(MODEL)  # convert the models once, before the children need them
    model_info(FLOAT_MODEL)
    with tempfile.TemporaryDirectory(prefix="photofind-throughput-photos-") as tmp:
        sets: list[tuple[str, Path]] = []
        if args.photos > 0:
            make_corel_set(Path(tmp) / "corel", args.photos)
            sets.append(("corel1k", Path(tmp) / "corel"))
        if args.large > 0:
            print(f"... writing {args.large} photos of {LARGE_SIZE[0]}x{LARGE_SIZE[1]}", file=sys.stderr, flush=True)
            make_large_set(Path(tmp) / "large", args.large)
            sets.append(("large", Path(tmp) / "large"))

        if args.sweep:
            rows = sweep(sets, args.repeat)
            print(json.dumps(rows, indent=2)) if args.json else print_sweep(rows)
            return 0
        options = {
            "batch_size": args.batch_size,
            "decode_workers": args.decode_workers,
            "prefetch": args.prefetch,
            "threads": args.threads,
            "spinning": args.spinning,
            "lanes": args.lanes,
        }
        results = [measure(name, folder, args.repeat, options) for name, folder in sets]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    ok = True
    for r in results:
        ok &= print_result(r)
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
