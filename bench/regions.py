"""Search by a region: does the region of one half of a two-photo composite find that half's class?

    python bench/regions.py [--pairs 90] [--seed 1] [--json]

Corel-1k (``<repo>/../shared/data/corel1k``) is indexed into a temp library with the app's own
model. Each composite puts two photos of *different* classes side by side (each scaled to 256 px
high, as a person might paste two photos into one picture). For each half, three queries through
the app's ``Searcher`` with its default ranking:

* ``alone``: the source photo itself as the query (what the region should come close to);
* ``region``: the composite with ``regions=[that half]`` (pixels of the composite);
* ``whole``: the whole composite, no region (what a user gets today).

P@10 counts the top 10 that belong to the half's class; both source photos are removed from every
ranking first (they are in the library, and finding them would flatter the region). ``query ms``
is the median wall time of one ``search_image`` call (decode + embed + search, k = 12), printed
with the load average: other work on the machine moves it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, load_dataset, median, model_info, open_library, quiet_logs

from photofind.core.images.region import Region


def composite(left: Path, right: Path, out: Path) -> tuple[Region, Region]:
    """``left`` and ``right`` side by side, 256 px high; the two halves as pixel regions."""
    parts = []
    for path in (left, right):
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        parts.append(rgb.resize((round(rgb.width * 256 / rgb.height), 256), Image.Resampling.LANCZOS))
    canvas = Image.new("RGB", (parts[0].width + parts[1].width, 256))
    canvas.paste(parts[0], (0, 0))
    canvas.paste(parts[1], (parts[0].width, 0))
    canvas.save(out, quality=92)
    return Region(0, 0, parts[0].width, 256), Region(parts[0].width, 0, parts[1].width, 256)


def pairs(ds, n: int, seed: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """``n`` (left, right) photo pairs of different classes, every ordered class pair in turn."""
    classes: dict[frozenset[str], list[str]] = {}
    for i in ds.ids:
        classes.setdefault(frozenset(ds.relevant[i] | {i}), []).append(i)
    groups = sorted((sorted(v) for v in classes.values()), key=lambda g: g[0])
    ordered = [(a, b) for a in range(len(groups)) for b in range(len(groups)) if a != b]
    rng = random.Random(seed)
    return [
        (rng.choice(groups[a]), rng.choice(groups[b]))
        for a, b in (ordered[j % len(ordered)] for j in range(n))
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=90)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    quiet_logs()
    ds = load_dataset(DATA / "corel1k")
    info = model_info()
    rows: dict[str, list[float]] = {"alone": [], "region": [], "whole": []}
    ms: dict[str, list[float]] = {"alone": [], "region": [], "whole": []}
    with tempfile.TemporaryDirectory(prefix="photofind-regions-") as tmp:
        lib = open_library(Path(tmp) / "lib", info)
        try:
            lib.add_folder(ds.images)
            lib.run_index()
            searcher = lib.searcher()
            for n, (left, right) in enumerate(pairs(ds, args.pairs, args.seed)):
                query = Path(tmp) / f"pair{n}.jpg"
                halves = composite(ds.path_of(left), ds.path_of(right), query)
                sources = {ds.path_of(left).name, ds.path_of(right).name}
                for half, region in zip((left, right), halves):
                    asks = {
                        "alone": (ds.path_of(half), None),
                        "region": (query, [region]),
                        "whole": (query, None),
                    }
                    for kind, (source, regions) in asks.items():
                        started = time.perf_counter()
                        hits = searcher.search_image(source, k=12, regions=regions)
                        ms[kind].append((time.perf_counter() - started) * 1e3)
                        ranked = [Path(h.path).stem for h in hits if Path(h.path).name not in sources][:10]
                        rows[kind].append(sum(r in ds.relevant[half] for r in ranked) / 10)
        finally:
            lib.close()
    load = os.getloadavg()
    result = {
        "pairs": args.pairs,
        "queries_per_kind": len(rows["region"]),
        "p_at_10": {k: sum(v) / len(v) for k, v in rows.items()},
        "query_ms_median": {k: median(v) for k, v in ms.items()},
        "load_average": [round(x, 2) for x in load],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Corel-1k, {args.pairs} composites of two classes, {len(rows['region'])} half-queries per row")
    print(f"{'query':<34} {'P@10':>6} {'query ms':>9}")
    labels = {
        "alone": "the half's photo alone",
        "region": "composite, region = that half",
        "whole": "whole composite (no region)",
    }
    for kind in ("alone", "region", "whole"):
        print(f"{labels[kind]:<34} {result['p_at_10'][kind]:6.3f} {result['query_ms_median'][kind]:9.1f}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in load)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
