"""Does an edited copy of a photo find its original? (issue 12)

    python bench/edits.py [DATASET_DIR ...] [--per-set 100] [--half report|tune|all] [--json]
    python bench/edits.py --per-set 5 --no-cache --rankings "default,issue 12 off"   # query times
    --model NAME: the model (default: the app's default on a CPU, the int8 model)

For each set (default: ``<repo>/../shared/data/corel1k`` and ``ukbench1000``) the app's own index
job indexes the untouched photos into a temp library. Then ``--per-set`` originals (evenly spread
over the chosen half of the set: Corel classes 0-4 / UKBench objects 0-124 are the *tuning* half,
the rest the *report* half) are edited into a temp folder (never into shared/), and every edited
copy is queried *as a file* through the app's ``Searcher.search_image`` with k = 5, once per
ranking: the default, the default with each stage switched off, and plain cosine.

Per edit it prints the rate at which the original comes first (top-1) and within the top 5, and
the mean over edits. Bars (issue 12, default ranking): every edit's top-5 >= 0.98, mean top-1 >=
0.95; the exit code is 1 when the default misses one.

Query embeddings are computed once per edited copy and reused across rankings (a cache in front
of the app's embedder, keyed by the exact input tensor): decoding and every ranking stage still
run per ranking, as the app runs them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEFAULT_SETS,
    Dataset,
    load_dataset,
    model_info,
    open_library,
    quiet_logs,
    tuning_ids,
)

from photofind.core.models.registry import DEFAULT_MODEL, default_model_name
from photofind.core.search.ranking import RankingSettings
from photofind.core.search.searcher import Searcher

#: Issue 12 bars for the default ranking.
TOP5_BAR = 0.98
MEAN_TOP1_BAR = 0.95


# --------------------------------------------------------------------------- the edits
def _rotate(turn: Image.Transpose) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.transpose(turn)


def _crop(frac: float, cx: float, cy: float) -> Callable[[Image.Image], Image.Image]:
    """Keep ``frac`` of each side, the kept box centred at (cx, cy) of the photo (0..1)."""

    def edit(im: Image.Image) -> Image.Image:
        w, h = im.size
        cw, ch = round(w * frac), round(h * frac)
        left = min(max(0, round(cx * w - cw / 2)), w - cw)
        top = min(max(0, round(cy * h - ch / 2)), h - ch)
        return im.crop((left, top, left + cw, top + ch))

    return edit


def _shrink(im: Image.Image) -> Image.Image:
    copy = im.copy()
    copy.thumbnail((320, 320), Image.Resampling.BILINEAR)
    return copy


def _colour(im: Image.Image) -> Image.Image:
    """Brighter, more saturated, with a warm cast (as a phone filter)."""
    im = ImageEnhance.Brightness(im).enhance(1.25)
    im = ImageEnhance.Color(im).enhance(1.4)
    r, g, b = im.split()
    r = r.point(lambda v: min(255, int(v * 1.08 + 6)))
    b = b.point(lambda v: int(v * 0.88))
    return Image.merge("RGB", (r, g, b))


def _letterbox(im: Image.Image) -> Image.Image:
    """The photo inside a dark phone-screenshot frame (9:16 for landscape, 16:9 for portrait)."""
    w, h = im.size
    cw, ch = (w, round(w * 16 / 9)) if w >= h else (round(h * 16 / 9), h)
    canvas = Image.new("RGB", (cw, ch), (12, 12, 14))
    canvas.paste(im, ((cw - w) // 2, (ch - h) // 2))
    return canvas


def _tilt(im: Image.Image) -> Image.Image:
    return im.rotate(8, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0))


#: name -> (edit, JPEG quality of the saved copy)
EDITS: dict[str, tuple[Callable[[Image.Image], Image.Image], int]] = {
    "rotated 90": (_rotate(Image.Transpose.ROTATE_90), 90),
    "rotated 180": (_rotate(Image.Transpose.ROTATE_180), 90),
    "rotated 270": (_rotate(Image.Transpose.ROTATE_270), 90),
    "mirrored": (ImageOps.mirror, 90),
    "centre crop 70%": (_crop(0.7, 0.5, 0.5), 90),
    "off-centre crop 60%": (_crop(0.6, 0.33, 0.62), 90),
    "320 px, JPEG q30": (_shrink, 30),
    "greyscale": (lambda im: ImageOps.grayscale(im), 90),
    "colour + brightness": (_colour, 90),
    "letterboxed": (_letterbox, 90),
    "tilted 8 deg": (_tilt, 90),
}


def make_edits(ds: Dataset, originals: list[str], out: Path) -> list[tuple[str, str, Path]]:
    """Write every edit of every original into ``out`` (no EXIF): ``(original id, edit, path)``."""
    made = []
    for image_id in originals:
        with Image.open(ds.path_of(image_id)) as src:
            im = ImageOps.exif_transpose(src).convert("RGB")
        for number, (name, (edit, quality)) in enumerate(EDITS.items()):
            path = out / f"{ds.name}-{image_id}-e{number}.jpg"
            edit(im).save(path, "JPEG", quality=quality)  # Pillow writes no EXIF unless asked
            made.append((image_id, name, path))
    return made


# --------------------------------------------------------------------------- halves
def half_ids(ds: Dataset, half: str) -> list[str]:
    if half == "all":
        return list(ds.ids)
    tune = tuning_ids(ds)
    return [i for i in ds.ids if (i in tune) == (half == "tune")]


def spread(ids: list[str], n: int) -> list[str]:
    """``n`` ids evenly spread over ``ids`` (all when there are fewer)."""
    if n >= len(ids):
        return ids
    return [ids[int(k * len(ids) / n)] for k in range(n)]


# --------------------------------------------------------------------------- rankings
def rankings() -> list[tuple[str, RankingSettings]]:
    """The default, the default with each of its stages off, and plain cosine."""
    default = RankingSettings()
    rows = [("default", default)]
    for f in dataclasses.fields(RankingSettings):
        if f.type in ("bool", bool) and getattr(default, f.name) is True:
            rows.append((f"no {f.name}", dataclasses.replace(default, **{f.name: False})))
    rows.append(("previous edit search", dataclasses.replace(  # the edited-copy search before its wider pool
        default, edit_pool=20, pixel_ranked=0, hash_candidates=False,
    )))
    rows.append(("issue 12 off", dataclasses.replace(
        default, rotations=False, trim_borders=False, copy_first=False, edit_copies=False, grey_recheck=False,
        pixel_check=False, hash_candidates=False,
    )))
    rows.append(("plain cosine", RankingSettings.plain()))
    return rows


class CachingEmbedder:
    """The app's embedder with a cache keyed by the exact input tensor (one row at a time)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.model_id, self.dim, self.preprocess = inner.model_id, inner.dim, inner.preprocess
        self.cache: dict[bytes, np.ndarray] = {}
        self.computed = 0

    def embed(self, batch: np.ndarray) -> np.ndarray:
        keys = [hashlib.sha1(np.ascontiguousarray(row).tobytes()).digest() for row in batch]
        todo = [j for j, key in enumerate(keys) if key not in self.cache]
        if todo:
            vectors = self.inner.embed(np.ascontiguousarray(batch[todo]))
            for j, v in zip(todo, vectors):
                self.cache[keys[j]] = v
            self.computed += len(todo)
        return np.stack([self.cache[key] for key in keys])

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


# --------------------------------------------------------------------------- one set
def evaluate_set(
    ds: Dataset, per_set: int, half: str, threads: int | None, settings: list[tuple[str, RankingSettings]],
    keep: Path | None = None, cache: bool = True, model: str | None = None,
) -> dict[str, object]:
    """Index ``ds``, edit ``per_set`` originals of ``half``, query every copy under every ranking."""
    info = model_info(model)
    originals = spread(half_ids(ds, half), per_set)
    result: dict[str, object] = {"set": ds.name, "photos": len(ds.ids), "originals": len(originals)}
    with tempfile.TemporaryDirectory(prefix="photofind-edits-") as tmp:
        edits_dir = Path(tmp) / "edited"
        edits_dir.mkdir()
        copies = make_edits(ds, originals, edits_dir)
        result["queries"] = len(copies)
        # kept libraries: one per set and model (the float32 one keeps its earlier folder name)
        kept_name = ds.name if info.name == DEFAULT_MODEL else f"{ds.name}-{info.name}"
        data_dir = Path(keep) / kept_name if keep else Path(tmp) / "data"
        lib = open_library(data_dir, info, threads=threads)
        try:
            lib.add_folder(ds.images)
            started = time.perf_counter()
            lib.run_index()
            result["index_s"] = time.perf_counter() - started
            pids, _ = lib.repo.embeddings_for(info.model_id, info.dim)
            rows = lib.repo.photos_by_ids(pids.tolist())
            pid_of = {Path(rows[p].path).stem: p for p in pids.tolist()}
            embedder = CachingEmbedder(lib.embedder) if cache else lib.embedder
            per: dict[str, dict[str, list[int]]] = {}
            timings: dict[str, float] = {}
            medians: dict[str, float] = {}
            for label, ranking in settings:
                searcher = Searcher(lib.repo, embedder, lib.indexes, ranking)  # type: ignore[arg-type]
                ranks: dict[str, list[int]] = {name: [] for name in EDITS}
                started = time.perf_counter()
                each = []
                for image_id, edit, path in copies:
                    t0 = time.perf_counter()
                    hits = searcher.search_image(str(path), k=5)
                    each.append(time.perf_counter() - t0)
                    ids = [h.photo_id for h in hits]
                    want = pid_of[image_id]
                    ranks[edit].append(ids.index(want) + 1 if want in ids else 0)
                timings[label] = 1e3 * (time.perf_counter() - started) / len(copies)
                medians[label] = 1e3 * float(np.median(each))
                per[label] = ranks
                print(f"    {ds.name} {label}: {_summary(ranks)}", file=sys.stderr, flush=True)
            result["ranks"] = per
            result["ms_per_query"] = timings
            result["ms_median"] = medians
            result["embeddings"] = getattr(embedder, "computed", None)
        finally:
            lib.close()
    return result


def _rates(ranks: list[int]) -> tuple[float, float]:
    if not ranks:
        return float("nan"), float("nan")
    a = np.asarray(ranks)
    return float(np.mean(a == 1)), float(np.mean((a >= 1) & (a <= 5)))


def _summary(ranks: dict[str, list[int]]) -> str:
    t1 = np.mean([_rates(r)[0] for r in ranks.values()])
    t5 = np.mean([_rates(r)[1] for r in ranks.values()])
    return f"mean top-1 {t1:.3f}, mean top-5 {t5:.3f}"


# --------------------------------------------------------------------------- output
def merged(results: list[dict[str, object]]) -> dict[str, dict[str, list[int]]]:
    """Ranks of every set together: ranking -> edit -> ranks."""
    out: dict[str, dict[str, list[int]]] = {}
    for r in results:
        for label, ranks in r["ranks"].items():  # type: ignore[union-attr]
            for edit, values in ranks.items():
                out.setdefault(label, {}).setdefault(edit, []).extend(values)
    return out


def print_table(results: list[dict[str, object]]) -> bool:
    """Rows: edits and their mean; columns: rankings, each ``top-1 / top-5``. Returns the bars."""
    table = merged(results)
    labels = list(table)
    width = max(13, max(len(label) for label in labels) + 1)
    head = f"{'edit':<22}" + "".join(f"{label:>{width}}" for label in labels)
    print(head)
    print(f"{'':<22}" + "".join(f"{'top-1/top-5':>{width}}" for _ in labels))
    print("-" * len(head))
    for edit in EDITS:
        cells = [_rates(table[label][edit]) for label in labels]
        print(f"{edit:<22}" + "".join(f"{f'{a:.2f} / {b:.2f}':>{width}}" for a, b in cells))
    print("-" * len(head))
    means = {label: tuple(np.mean([_rates(table[label][e])[i] for e in EDITS]) for i in (0, 1)) for label in labels}
    print(f"{'mean over edits':<22}" + "".join(f"{f'{means[l][0]:.3f}/{means[l][1]:.3f}':>{width}}" for l in labels))
    for r in results:
        ms, med = r["ms_per_query"], r["ms_median"]
        cached = r.get("embeddings") is not None
        print(
            f"{r['set']}: {r['originals']} originals x {len(EDITS)} edits = {r['queries']} queries over "
            f"{r['photos']} indexed photos (index {r['index_s']:.0f} s); ms/query mean (median) "
            f"(search_image, k=5{', embeddings cached after the first ranking' if cached else ', no cache'}): "
            + ", ".join(f"{k} {v:.0f} ({med[k]:.0f})" for k, v in ms.items())  # type: ignore[union-attr,index]
        )
    print()
    default = "default"
    if default not in table:
        return True
    worst = min(EDITS, key=lambda e: _rates(table[default][e])[1])
    top5_ok = all(_rates(table[default][e])[1] >= TOP5_BAR for e in EDITS)
    top1_ok = means[default][0] >= MEAN_TOP1_BAR
    print(f"default: every edit's top-5 >= {TOP5_BAR} (worst: {worst} "
          f"{_rates(table[default][worst])[1]:.3f}): {'PASS' if top5_ok else 'FAIL'}")
    print(f"default: mean top-1 {means[default][0]:.3f} >= {MEAN_TOP1_BAR}: {'PASS' if top1_ok else 'FAIL'}")
    return top5_ok and top1_ok


def _parse(name: str, value: str) -> dict[str, object]:
    kind = type(getattr(RankingSettings(), name))
    return {name: value.lower() in ("1", "true", "on") if kind is bool else kind(value)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path, help="data set folders (default: corel1k, ukbench1000)")
    parser.add_argument("--per-set", type=int, default=100, help="originals edited per set (default 100)")
    parser.add_argument("--half", choices=("report", "tune", "all"), default="report",
                        help="which half of each set the originals come from (default: report)")
    parser.add_argument("--rankings", default="", help="comma-separated ranking labels to run (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a RankingSettings parameter in every ranking (for tuning), e.g. "
                        "--set copy_gap=0.05")
    parser.add_argument("--sweep", action="append", default=[], metavar="FIELD=V1,V2,...",
                        help="add a row per value: the default ranking with FIELD=V (tuning; use --half tune)")
    parser.add_argument("--threads", type=int, help="model threads (default: all cores)")
    parser.add_argument("--model", help="model (default: the app's default on a CPU, the int8 model)")
    parser.add_argument("--json", action="store_true", help="print the ranks as JSON")
    parser.add_argument("--no-cache", action="store_true", help="embed every view of every query under every "
                        "ranking (for comparable query times; slower)")
    parser.add_argument("--keep-libraries", type=Path, help="keep the indexed libraries in this folder and "
                        "reuse them next time (the index job then finds nothing to do)")
    args = parser.parse_args(argv)
    quiet_logs()
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides.update(_parse(name, value))
    settings = [(label, dataclasses.replace(s, **overrides)) for label, s in rankings()]
    for item in args.sweep:
        name, _, values = item.partition("=")
        for value in values.split(","):
            settings.append((f"{name}={value}", dataclasses.replace(settings[0][1], **_parse(name, value))))
    if args.rankings:
        wanted = [w.strip() for w in args.rankings.split(",")]
        settings = [(label, s) for label, s in settings if label in wanted or "=" in label]
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}",
          file=sys.stderr)
    results = []
    for root in args.datasets or DEFAULT_SETS:
        ds = load_dataset(root)
        print(f"... {ds.name}: {args.per_set} originals ({args.half} half) x {len(EDITS)} edits, "
              f"{len(settings)} rankings", file=sys.stderr, flush=True)
        results.append(evaluate_set(
            ds, args.per_set, args.half, args.threads, settings, args.keep_libraries, cache=not args.no_cache,
            model=args.model or default_model_name("cpu"),
        ))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    ok = print_table(results)
    la = os.getloadavg()
    print(f"half: {args.half}; load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
