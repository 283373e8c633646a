"""Near-duplicate finder: group precision and recall on edited copies of real photos, and its
speed at 100k photos.

    python bench/duplicates.py [--thresholds 0.80,0.82,...] [--edit-every 2] [--work DIR]
    python bench/duplicates.py --scale 100000
    python bench/duplicates.py --backfill
    python bench/duplicates.py --library DATA_DIR   # time the finder on a kept library

Quality. For each set (Corel-1k classes 0-4 = the half the default threshold is chosen on,
Corel-1k classes 5-9 and UKBench-1000 = reported), every photo is copied into a temp folder
untouched, and every ``--edit-every``-th one also gets five edited copies: resized to 50 %,
JPEG quality 35, cropped to the central 90 %, +20 % brightness, and a copy re-encoded without
its metadata (EXIF stripped). Each set is indexed with the real model (the app's ``Library``),
then ``Library.find_duplicates`` runs with the model cosine rule alone at each threshold, and
with the perceptual-hash rule (cosine >= 0.90, or cosine >= floor and hashes <= h bits apart)
at a grid of (floor, h), then with the default rule and a hash veto at a grid of v (a pair
the cosine rule alone joins is dropped when its hashes are more than v bits apart). Ground truth: a copy belongs with its original; distinct photos never
belong together (Corel's classes are full of look-alikes; UKBench's four shots of one object are
different photos too). Printed per row: recall (edited copies that share a group with their
original, overall and per edit), group precision (groups holding one original's photos only)
and how many groups join two different originals, and of those how many join *distinct*
photos rather than burst shots of one scene (Corel: the pairs looked at, ``BURST_SCENES``;
UKBench: shots of one object). Before the tables, what the hash rule rests
on: per edit, how many bits a copy's hash is from its original's, and how close (in bits) the
hashes of *different* originals get among pairs the model finds similar. The defaults are
chosen on the tuning half only: the rows with no joining group and the best recall there.

Scale (``--scale N``): N real-derived vectors (the 1,000 Corel embeddings, each replicated with
Gaussian noise as ``bench/search.py`` does) stored in a temp library, each with a perceptual
hash (its Corel photo's, with 0-16 random bits flipped: some replicas within 4 bits of each
other, most not, so the hash rule's path is timed), the index job's ranking space saved, then
a fresh ``Library`` finds duplicates over all of them: wall time (bar < 60 s) and peak RSS,
with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DATA,
    cpu_seconds,
    load_dataset,
    model_info,
    open_library,
    quiet_logs,
)

from photofind.core.images.phash import NO_HASH, hamming
from photofind.core.search.duplicates import (
    DEFAULT_THRESHOLD,
    HASH_FLOOR,
    MAX_HAMMING,
    VETO_HAMMING,
    find_duplicates,
)

EDITS = ("half", "q35", "crop90", "bright20", "noexif")
THRESHOLDS = (0.80, 0.82, 0.84, 0.86, 0.88, 0.90, 0.92, 0.94, 0.96)
HASH_FLOORS = (0.50, 0.60, 0.70, 0.75, 0.80, 0.85)
HASH_BITS = (2, 4, 6, 8)
#: Hash vetoes tried on pairs the cosine rule alone joins (None: no veto).
VETOES = (None, 12, 14, 16, 18, 20, 22, 24, 28, 32)
#: Corel originals that are burst shots of one scene, as a viewer sees them (looked at side by
#: side: same place, same camera position and framing, only the animals moved between the two
#: frames): the issue counts them as duplicates. Every other pair of originals a group joins is
#: "distinct" (looked at: 606/674 two different roses, 935/981 another arrangement of the table),
#: and so is any pair not listed here: an unlooked-at join counts against the finder.
BURST_SCENES = (
    ("503", "567"), ("521", "564"), ("542", "560"), ("588", "594"), ("718", "795"), ("727", "748"),
    ("746", "796"), ("761", "776"), ("763", "791"), ("768", "789"), ("918", "924"),
)


def rss_now() -> float:
    """Current resident set size in MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def edit(src: Path, kind: str, dest: Path) -> None:
    with Image.open(src) as im:
        im.load()
        exif = im.info.get("exif")
        rgb = im.convert("RGB")
    extra = {"exif": exif} if exif and kind != "noexif" else {}
    if kind == "half":
        rgb.resize((max(1, rgb.width // 2), max(1, rgb.height // 2)), Image.LANCZOS).save(dest, quality=90, **extra)
    elif kind == "q35":
        rgb.save(dest, quality=35, **extra)
    elif kind == "crop90":
        dx, dy = round(rgb.width * 0.05), round(rgb.height * 0.05)
        rgb.crop((dx, dy, rgb.width - dx, rgb.height - dy)).save(dest, quality=90, **extra)
    elif kind == "bright20":
        ImageEnhance.Brightness(rgb).enhance(1.2).save(dest, quality=90, **extra)
    elif kind == "noexif":
        rgb.save(dest, quality=95)  # no exif= : metadata dropped
    else:
        raise ValueError(kind)


def make_set(paths: list[Path], folder: Path, edit_every: int) -> dict[str, tuple[str, str]]:
    """Copies + edits into ``folder``; returns file path -> (original id, edit or "original")."""
    folder.mkdir(parents=True)
    truth = {}
    for n, src in enumerate(paths):
        oid = src.stem
        dest = folder / f"{oid}.jpg"
        shutil.copyfile(src, dest)
        truth[str(dest)] = (oid, "original")
        if n % edit_every == 0:
            for kind in EDITS:
                out = folder / f"{oid}__{kind}.jpg"
                edit(src, kind, out)
                truth[str(out)] = (oid, kind)
    return truth


def burst_scenes() -> dict[str, str]:
    """Corel original id -> its burst scene (``BURST_SCENES``); others are absent (their own scene)."""
    return {o: pair[0] for pair in BURST_SCENES for o in pair}


def score(groups, truth: dict[str, tuple[str, str]], subject: dict[str, str] | None = None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """``subject``: original id -> the scene it shows (UKBench: its four shots of one object;
    Corel: the burst pairs looked at, ``BURST_SCENES``); a group joining originals of two
    scenes is "distinct", one joining originals of one scene is a burst."""
    group_of: dict[str, int] = {}
    joining = cross_subject = 0
    for g_i, g in enumerate(groups):
        origins = {truth[p.path][0] for p in g.photos}
        joining += len(origins) > 1
        if subject is not None:
            cross_subject += len({subject.get(o, o) for o in origins}) > 1
        for p in g.photos:
            group_of[p.path] = g_i
    original_path = {oid: path for path, (oid, kind) in truth.items() if kind == "original"}
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for path, (oid, kind) in truth.items():
        if kind == "original":
            continue
        total[kind] += 1
        g = group_of.get(path)
        if g is not None and g == group_of.get(original_path[oid]):
            found[kind] += 1
    out = {f"recall_{k}": found[k] / total[k] for k in EDITS if total[k]}
    out["recall"] = sum(found.values()) / max(1, sum(total.values()))
    out["groups"] = len(groups)
    out["joining"] = joining
    out["cross_subject"] = cross_subject if subject is not None else joining
    out["precision"] = (len(groups) - joining) / len(groups) if groups else 1.0
    return out


def hash_facts(lib, truth: dict[str, tuple[str, str]], subject: dict[str, str] | None) -> None:  # type: ignore[no-untyped-def]
    """What the hash rule rests on, measured on this set: bits between each edited copy's hash
    and its original's, and how close the hashes of different originals (UKBench: different
    objects) get among pairs whose model cosine reaches a floor (all pairs, exact)."""
    info = lib.model_info
    by_path = {r.path: r for r in lib.repo.photos_by_ids(lib.repo.shown_ids(info.model_id)).values()}
    hash_ids, hash_values = lib.repo.perceptual_hashes()
    hash_of = dict(zip(hash_ids.tolist(), hash_values.tolist()))
    paths = [p for p in truth if p in by_path]
    ids = np.array([by_path[p].id for p in paths], np.int64)
    h = np.array([hash_of.get(int(i), NO_HASH) for i in ids], np.int64)
    print(f"  perceptual hashes: {int((h != NO_HASH).sum())} of {len(h)} photos")
    pos = {p: n for n, p in enumerate(paths)}
    original = {oid: pos[p] for p, (oid, kind) in truth.items() if kind == "original" and p in pos}
    for kind in EDITS:
        d = [int(hamming(h[pos[p]], h[original[oid]])) for p, (oid, k) in truth.items() if k == kind and p in pos]
        if d:
            q = np.percentile(d, [50, 90, 99, 100])
            print(f"  {kind:8s} copy vs its original: bits apart median {q[0]:.0f}, p90 {q[1]:.0f}, p99 {q[2]:.0f}, "
                  f"max {q[3]:.0f}; <= 4 bits: {np.mean(np.array(d) <= 4):.3f}")
    got_ids, vectors = lib.repo.embedding_matrix(ids.tolist(), info.model_id)
    order = {int(i): n for n, i in enumerate(got_ids.tolist())}
    v = vectors[[order[int(i)] for i in ids]]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    orig_rows = np.array(sorted(original.values()))
    key = np.array([(subject or {}).get(truth[paths[n]][0], truth[paths[n]][0]) for n in orig_rows])
    sims = v[orig_rows] @ v[orig_rows].T
    apart = hamming(h[orig_rows][:, None], h[orig_rows][None, :])
    different = np.triu(key[:, None] != key[None, :], 1)
    what = "scenes (a burst is one scene)" if subject else "originals"
    oid = np.array([truth[p][0] for p in paths])
    sims_all = v @ v.T
    joined = np.triu(sims_all >= DEFAULT_THRESHOLD, 1)
    apart_all = hamming(h[:, None], h[None, :])
    both = (h[:, None] != NO_HASH) & (h[None, :] != NO_HASH)
    one = joined & both & (oid[:, None] == oid[None, :])
    if one.any():
        d = apart_all[one]
        print(f"  two photos of one original with cosine >= {DEFAULT_THRESHOLD:.2f} ({int(one.sum())} pairs): bits apart "
              f"median {np.median(d):.0f}, p99 {np.percentile(d, 99):.0f}, max {int(d.max())}")
    two = joined & both & (oid[:, None] != oid[None, :])
    if two.any():
        key_all = np.array([(subject or {}).get(o, o) for o in oid])
        for label, m in (("one burst / object", two & (key_all[:, None] == key_all[None, :])),
                         ("distinct", two & (key_all[:, None] != key_all[None, :]))):
            if m.any():
                d = apart_all[m]
                print(f"  photos of two originals, {label}, with cosine >= {DEFAULT_THRESHOLD:.2f} ({int(m.sum())} pairs): "
                      f"bits apart min {int(d.min())}, median {np.median(d):.0f}, max {int(d.max())}")
    for floor in (0.6, 0.7, 0.8, 0.9):
        m = different & (sims >= floor)
        if m.any():
            d = apart[m]
            print(f"  pairs of different {what} with cosine >= {floor:.1f}: {int(m.sum())}; hashes <= 2 bits apart: "
                  f"{int((d <= 2).sum())}, <= 4: {int((d <= 4).sum())}, <= 6: {int((d <= 6).sum())}, <= 8: {int((d <= 8).sum())}; "
                  f"closest {int(d.min())} bits")


def quality(args: argparse.Namespace) -> int:
    corel = load_dataset(DATA / "corel1k")
    uk = load_dataset(DATA / "ukbench1000")
    labels = {}
    import csv

    with open(DATA / "corel1k" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            labels[Path(row["image"]).stem] = int(row["label"])
    sets = {
        "Corel 0-4 (tuning)": [corel.path_of(i) for i in corel.ids if labels[i] < 5],
        "Corel 5-9": [corel.path_of(i) for i in corel.ids if labels[i] >= 5],
        "UKBench-1000": [uk.path_of(i) for i in uk.ids],
    }
    thresholds = [float(t) for t in args.thresholds.split(",")]
    floors = [float(f) for f in args.hash_floors.split(",")]
    bits = [int(h) for h in args.hash_bits.split(",")]
    vetoes = [None if v == "none" else int(v) for v in args.vetoes.split(",")]
    info = model_info()
    results: dict[str, dict[tuple[float, float | None, int, int | None], dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="pf-dups-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        for name, paths in sets.items():
            folder = work / name.split()[0].lower() / name.replace(" ", "_").replace("(", "").replace(")", "")
            truth_file = folder.parent / (folder.name + ".truth.json")
            if truth_file.is_file():  # --work: the set and its library from an earlier run
                truth = {k: tuple(v) for k, v in json.loads(truth_file.read_text()).items()}
            else:
                truth = make_set(paths, folder, args.edit_every)
            lib = open_library(work / f"data-{len(results)}", info)
            lib.add_folder(folder)
            t0 = time.perf_counter()
            report = lib.run_index()
            truth_file.write_text(json.dumps(truth))
            print(f"{name}: {len(truth)} photos ({len(paths)} originals), index run {time.perf_counter() - t0:.0f} s "
                  f"({report.embedded} embedded), {len(report.skipped)} skipped", flush=True)
            subject = uk.group if name.startswith("UKBench") else burst_scenes()
            hash_facts(lib, truth, subject)
            results[name] = {}
            rows = [(t, None, 0, None) for t in thresholds] + [(DEFAULT_THRESHOLD, f, h, None) for f in floors for h in bits]
            rows += [(DEFAULT_THRESHOLD, HASH_FLOOR, MAX_HAMMING, v) for v in vetoes if v is not None]
            for t, f, h, v in rows:
                t0 = time.perf_counter()
                groups = lib.find_duplicates(threshold=t, hash_floor=f, max_hamming=h, veto_hamming=v)
                r = score(groups, truth, subject)
                r["seconds"] = time.perf_counter() - t0
                if f is None or (f, h, v) == (HASH_FLOOR, MAX_HAMMING, VETO_HAMMING):
                    # what the space floor costs: every candidate checked on the model vectors
                    r["recall_no_floor"] = score(find_duplicates(
                        lib.repo, lib.indexes, info.model_id, info.dim, threshold=t, space_floor=-1.0,
                        hash_floor=f, max_hamming=h, veto_hamming=v,
                    ), truth)["recall"]
                results[name][(t, f, h, v)] = r
            lib.close()
    load = os.getloadavg()
    print(f"\nload average: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for name, rows_of in results.items():
        print(f"\n{name}")
        print("| rule | recall | half | q35 | crop90 | bright20 | noexif | groups | precision | joining two originals "
              "| of them distinct (not one burst / object) | recall, no space floor | s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (t, f, h, v), r in rows_of.items():
            rule = f"cosine >= {t:.2f}" if f is None else f"cosine >= {t:.2f} or (>= {f:.2f} and hash <= {h} bits)"
            if v is not None:
                rule += f", cosine-only pairs vetoed > {v} bits"
            if (f, h, v) == (HASH_FLOOR, MAX_HAMMING, VETO_HAMMING):
                rule = f"**{rule}** (default)"
            print(
                f"| {rule} | {r['recall']:.3f} | " + " | ".join(f"{r.get('recall_' + k, float('nan')):.3f}" for k in EDITS)
                + f" | {r['groups']:.0f} | {r['precision']:.3f} | {r['joining']:.0f} | {r['cross_subject']:.0f} | "
                + (f"{r['recall_no_floor']:.3f}" if "recall_no_floor" in r else "") + f" | {r['seconds']:.1f} |"
            )
    tuning = results["Corel 0-4 (tuning)"]
    clean = {k: r for k, r in tuning.items() if r["joining"] == 0 and k[1] is not None and k[3] is None}
    if clean:
        best = max(r["recall"] for r in clean.values())
        top = sorted(k for k, r in clean.items() if r["recall"] >= best - 0.002)
        print(f"\ntuning half, hash rule: {len(clean)} of {len(floors) * len(bits)} settings join no two originals; "
              f"within 0.002 of their best recall ({best:.3f}): " + ", ".join(f"(floor {f:.2f}, {h} bits)" for _, f, h, _ in top))
        print(f"default (floor {HASH_FLOOR:.2f}, {MAX_HAMMING} bits) among them: "
              f"{'yes' if (DEFAULT_THRESHOLD, HASH_FLOOR, MAX_HAMMING, None) in top else 'NO'}")
    unvetoed = tuning.get((DEFAULT_THRESHOLD, HASH_FLOOR, MAX_HAMMING, None))
    vetoed = {k[3]: r for k, r in tuning.items() if k[3] is not None}
    if unvetoed and vetoed:
        keeps = [v for v, r in vetoed.items() if r["recall"] >= unvetoed["recall"]]
        print(f"tuning half, hash veto: the lowest veto losing no edited copy: > {min(keeps) if keeps else 'none'} bits "
              f"(default > {VETO_HAMMING}: the widest two photos of one original the cosine rule joins there, printed above)")
    plain = {k[0]: r for k, r in tuning.items() if k[1] is None}
    ok = [t for t, r in plain.items() if r["joining"] == 0]
    if ok:
        print(f"tuning half, cosine alone: the lowest threshold joining no two originals: {min(ok):.2f} "
              f"(recall {plain[min(ok)]['recall']:.3f})")
    return 0


def scale(args: argparse.Namespace) -> int:
    from search import load_model, noisy_copies, source_vectors
    from sqlalchemy import insert

    from photofind.store.blobs import vector_to_blob
    from photofind.store.schema import STATUS_OK, embeddings, photos

    corel = sorted((DATA / "corel1k" / "images").glob("*.jpg"))
    try:
        model = load_model()
    except Exception as exc:  # noqa: BLE001
        print(f"model unavailable ({exc}); synthetic vectors")
        model = None
    base, how = source_vectors(corel, model)
    rng = np.random.default_rng(0)
    n = args.scale
    copies = -(-n // len(base))
    vectors = noisy_copies(base, copies, args.noise_cos, rng)[:n]
    hashes = replica_hashes(corel, copies, n, rng)
    info = model_info()
    with tempfile.TemporaryDirectory(prefix="pf-dups-scale-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        lib = open_library(Path(tmp) / "data", info)
        row = lib.add_folder(folder)
        t0 = time.perf_counter()
        with lib.repo.write() as w:
            now = time.time()
            w.conn.execute(insert(photos), [
                dict(id=i + 1, folder_id=row.id, path=str(folder / ("one-percent" if i % 100 == 0 else "rest") / f"{i:07d}.jpg"), size=100_000 + i,
                     mtime_ns=i, fingerprint=f"fp{i}", width=640, height=480, status=STATUS_OK,
                     added_at=now, updated_at=now, phash=int(hashes[i])) for i in range(n)
            ])
            gen = w.next_generation
            for s in range(0, n, 10_000):
                w.conn.execute(insert(embeddings), [
                    dict(photo_id=i + 1, model_id=info.model_id, dim=info.dim, vector=vector_to_blob(vectors[i]), generation=gen)
                    for i in range(s, min(n, s + 10_000))
                ])
            w.changed = True
        del vectors
        print(f"{n} vectors ({how}, noise cos {args.noise_cos}) stored in {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        from photofind.core.indexing.ranking_update import update_ranking_space

        print("ranking space:", update_ranking_space(lib.repo, info.model_id, info.dim, lib.index_path(info.model_id),
                                                     lib.ranking.space), f"({time.perf_counter() - t0:.0f} s, the index job's work)", flush=True)
        lib.close()
        rss0 = rss_now()
        lib = open_library(Path(tmp) / "data", info)
        load = os.getloadavg()
        t0, c0 = time.perf_counter(), cpu_seconds()
        groups = lib.find_duplicates()
        took, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        print(f"duplicates over {n} photos: {took:.1f} s wall, {cpu:.1f} s CPU (bar < 60 s: {'PASS' if took < 60 else 'FAIL'}), "
              f"{len(groups)} groups, {sum(len(g.photos) for g in groups)} photos in groups; "
              f"RSS {rss_now():.0f} MB after (before opening the library: {rss0:.0f} MB); "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
        for label, floor in (("cosine rule alone (hashes not read)", None), ("default again", HASH_FLOOR)):
            load = os.getloadavg()
            t0, c0 = time.perf_counter(), cpu_seconds()
            again = lib.find_duplicates(hash_floor=floor)
            print(f"  side by side, {label}: {time.perf_counter() - t0:.1f} s wall, {cpu_seconds() - c0:.1f} s CPU, "
                  f"{len(again)} groups, {sum(len(g.photos) for g in again)} photos in groups; "
                  f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
        filtered_searches(lib, folder / "one-percent", base, args.queries, rng)
        lib.close()
    return 0


def replica_hashes(corel: list[Path], copies: int, n: int, rng) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A perceptual hash per replica (``noisy_copies`` puts replica i of source i // copies):
    its Corel photo's hash with 0-16 random bits flipped."""
    from photofind.core.indexing.phash_backfill import hash_file

    t0 = time.perf_counter()
    source = np.array([hash_file(str(p)) or NO_HASH for p in corel], np.int64)
    print(f"perceptual hashes of the {len(corel)} Corel photos: {time.perf_counter() - t0:.1f} s", flush=True)
    out = np.repeat(source, copies)[:n].view(np.uint64)
    for i in range(n):
        flips = rng.choice(64, rng.integers(0, 17), replace=False)
        out[i] ^= np.bitwise_or.reduce(np.left_shift(np.uint64(1), flips.astype(np.uint64)), initial=np.uint64(0))
    return out.view(np.int64)


def filtered_searches(lib, folder: Path, base: np.ndarray, queries: int, rng) -> None:  # type: ignore[no-untyped-def]
    """Whole searches (default ranking, k = 20, from a query vector) with and without a filter
    that keeps 1 % of the library, interleaved: median and p95 ms."""
    from search import noisy_copies

    from photofind.core.search.ranking import RankingSettings
    from photofind.store.photo_filter import PhotoFilter

    filt = PhotoFilter.for_folder(folder)
    kept = len(lib.repo.shown_ids(lib.model_info.model_id, filt))
    plain, narrow = lib.searcher(RankingSettings()), lib.searcher(RankingSettings(), filt)
    qs = noisy_copies(base[rng.choice(len(base), queries)], 1, 0.9, rng)
    plain.search_vector(qs[0], 20)  # warm up
    t0 = time.perf_counter()
    narrow.search_vector(qs[0], 20)  # the first search with a new filter reads which photos pass
    print(f"first search with the 1 % filter: {(time.perf_counter() - t0) * 1e3:.1f} ms")
    times: dict[str, list[float]] = {"unfiltered": [], "1 % filter": []}
    short = 0
    for q in qs:
        for name, s in (("unfiltered", plain), ("1 % filter", narrow)):
            t0 = time.perf_counter()
            hits = s.search_vector(q, 20)
            times[name].append((time.perf_counter() - t0) * 1e3)
            short += name != "unfiltered" and len(hits) < 20
    load = os.getloadavg()
    for name, ts in times.items():
        print(f"search {name}: median {np.median(ts):.1f} ms, p95 {np.percentile(ts, 95):.1f} ms over {len(ts)} queries"
              + (f" (filter keeps {kept} photos; {short} searches returned fewer than 20)" if name != "unfiltered" else ""))
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def backfill(args: argparse.Namespace) -> int:
    """The perceptual-hash backfill an older library gets: rows for the 1,000 Corel photos (read
    in place, never written) without hashes, then ``backfill_phash`` as the index job runs it."""
    from sqlalchemy import insert

    from photofind.core.indexing.phash_backfill import backfill_phash
    from photofind.store.schema import STATUS_OK, photos

    corel = sorted((DATA / "corel1k" / "images").glob("*.jpg"))
    info = model_info()
    with tempfile.TemporaryDirectory(prefix="pf-dups-backfill-") as tmp:
        lib = open_library(Path(tmp) / "data", info)
        row = lib.add_folder(corel[0].parent)
        with lib.repo.write() as w:
            now = time.time()
            w.conn.execute(insert(photos), [
                {"folder_id": row.id, "path": str(p), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns,
                 "status": STATUS_OK, "added_at": now, "updated_at": now} for p in corel
            ])
        load = os.getloadavg()
        t0, c0 = time.perf_counter(), cpu_seconds()
        done = backfill_phash(lib.repo)
        took, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        print(f"perceptual-hash backfill of {done} Corel photos: {took:.1f} s wall, {cpu:.1f} s CPU "
              f"({took / max(1, done) * 1e3:.1f} ms a photo); load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        lib.close()
    return 0


def on_library(args: argparse.Namespace) -> int:
    """``find_duplicates`` with the defaults on a kept library (e.g. the 100k one
    ``bench/gui_query.py --keep`` builds): wall and CPU time, and the memory it adds over the
    loaded ranking space."""
    from photofind.config import get_paths
    from photofind.core.library import Library

    def status(key: str) -> float:
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith(key)).split()[1]) / 1024

    lib = Library(get_paths(args.library), device="cpu")
    info = lib.model_info
    before = status("VmRSS")
    lib.indexes.space(info.model_id, info.dim, lib.ranking.space)
    loaded = status("VmRSS")
    load = os.getloadavg()
    t0, c0 = time.perf_counter(), cpu_seconds()
    groups = lib.find_duplicates()
    took, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    print(f"{args.library}: {len(groups)} groups, {sum(len(g.photos) for g in groups)} photos; find_duplicates "
          f"{took:.1f} s wall, {cpu:.1f} s CPU; ranking space +{loaded - before:.0f} MB, peak RSS {status('VmHWM'):.0f} MB "
          f"(+{status('VmHWM') - loaded:.0f} MB over the loaded space); load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    lib.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--thresholds", default=",".join(f"{t:.2f}" for t in THRESHOLDS))
    p.add_argument("--hash-floors", default=",".join(f"{f:.2f}" for f in HASH_FLOORS))
    p.add_argument("--hash-bits", default=",".join(str(h) for h in HASH_BITS))
    p.add_argument("--vetoes", default=",".join("none" if v is None else str(v) for v in VETOES))
    p.add_argument("--work", help="keep the photo sets and libraries here (a rerun reuses them)")
    p.add_argument("--edit-every", type=int, default=2, help="edit every n-th photo (default 2: half of them)")
    p.add_argument("--scale", type=int, help="time the finder over this many real-derived vectors instead")
    p.add_argument("--noise-cos", type=float, default=0.9, help="--scale: cosine of each replica to its source")
    p.add_argument("--queries", type=int, default=200, help="--scale: filtered vs unfiltered searches")
    p.add_argument("--backfill", action="store_true", help="time the perceptual-hash backfill of 1,000 Corel photos instead")
    p.add_argument("--library", help="time the finder on this kept library (its data dir) instead")
    args = p.parse_args(argv)
    quiet_logs()
    if args.library:
        return on_library(args)
    return backfill(args) if args.backfill else scale(args) if args.scale else quality(args)


if __name__ == "__main__":
    sys.exit(main())
