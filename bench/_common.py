"""Helpers shared by the benches: data sets, ground truth, retrieval metrics, temp libraries.

Everything here runs the app's own code (``Library``, ``Indexer``, ``Searcher``); the benches only
add measurement around it. Data sets use the layout of ``<repo>/../shared/data``: an ``images/``
folder, a ``labels.csv`` and optionally a ``gt.json`` (image id -> relevant ids, query excluded),
where an image id is the file name without its extension.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import resource
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from photofind.config import get_paths
from photofind.core.library import Library
from photofind.core.models.registry import DEFAULT_MODEL, resolve_model
from photofind.core.models.spec import ModelInfo

DATA = (REPO / ".." / "shared" / "data").resolve()
DEFAULT_SETS = (DATA / "corel1k", DATA / "ukbench1000")
CACHE = Path(os.environ.get("PHOTOFIND_BENCH_CACHE", Path.home() / ".cache" / "photofind-bench"))
#: Converted ONNX models are shared by every temp library of a bench run (conversion is slow).
MODELS_DIR = CACHE / "models"


# --------------------------------------------------------------------------- data sets
@dataclass
class Dataset:
    """One benchmark set. ``protocol`` is ``"ns"`` (UKBench groups of 4) or ``"map"`` (gt.json)."""

    name: str
    root: Path
    images: Path
    ids: list[str]  # every image id (file stem), in labels.csv order
    protocol: str
    relevant: dict[str, set[str]] = field(default_factory=dict)  # query excluded
    group: dict[str, str] = field(default_factory=dict)  # id -> group (ns protocol)
    _files: dict[str, str] = field(default_factory=dict, repr=False)  # id -> file name

    def path_of(self, image_id: str) -> Path:
        return self.images / self._files[image_id]


def load_dataset(root: str | os.PathLike[str]) -> Dataset:
    """Read ``labels.csv`` (and ``gt.json``); a ``group`` column means the UKBench N-S protocol."""
    root = Path(root).resolve()
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    files = {Path(r["image"]).stem: Path(r["image"]).name for r in rows}
    ids = list(files)
    ds = Dataset(root.name, root, root / "images", ids, "map", _files=files)
    if rows and "group" in rows[0]:
        ds.protocol = "ns"
        ds.group = {Path(r["image"]).stem: r["group"] for r in rows}
        members: dict[str, set[str]] = {}
        for i, g in ds.group.items():
            members.setdefault(g, set()).add(i)
        ds.relevant = {i: members[g] - {i} for i, g in ds.group.items()}
    else:
        gt = json.loads((root / "gt.json").read_text())
        ds.relevant = {str(q): {str(r) for r in rel} - {str(q)} for q, rel in gt.items()}
    return ds


def subset(ds: Dataset, ids: Sequence[str]) -> Dataset:
    """The same set restricted to ``ids`` (relevance restricted too); images stay where they are."""
    keep = set(ids)
    return dataclasses.replace(
        ds,
        ids=[i for i in ds.ids if i in keep],
        relevant={q: r & keep for q, r in ds.relevant.items() if q in keep},
        group={i: g for i, g in ds.group.items() if i in keep},
        _files={i: f for i, f in ds._files.items() if i in keep},
    )


def tuning_ids(ds: Dataset) -> set[str]:
    """The tuning half: Corel classes 0-4 (labels.csv order of classes), UKBench objects 0-124."""
    if ds.protocol == "ns":
        groups = sorted({g for g in ds.group.values()}, key=lambda g: int(g) if g.isdigit() else g)
        tune = set(groups[: len(groups) // 2])
        return {i for i in ds.ids if ds.group[i] in tune}
    with open(ds.root / "labels.csv", newline="") as f:
        label = {Path(r["image"]).stem: r["label"] for r in csv.DictReader(f)}
    labels = sorted(set(label.values()), key=lambda v: int(v) if v.isdigit() else v)
    tune = set(labels[: len(labels) // 2])
    return {i for i in ds.ids if label[i] in tune}


# --------------------------------------------------------------------------- metrics
def average_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    """AP of one ranking: mean precision at the rank of each relevant item (missing ones count 0)."""
    if not relevant:
        return 0.0
    hits = 0
    total = 0.0
    for rank, item in enumerate(ranked, start=1):
        if item in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def precision_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Fraction of the first ``k`` results that are relevant (a short list counts as misses)."""
    return sum(1 for item in ranked[:k] if item in relevant) / k


def ns_score(ranked: Sequence[str], group: dict[str, str], query: str) -> int:
    """UKBench N-S: how many of the top 4 (query included) share the query's group."""
    return sum(1 for item in ranked[:4] if group.get(item) == group[query])


# --------------------------------------------------------------------------- model + library
def model_info(
    name: str | None = None,
    resize: str | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    size: int | None = None,
) -> ModelInfo:
    """The app's model ``name``, optionally with its preprocessing resize overridden.

    An override gets its own ``model_id`` suffix so its vectors never mix with the real ones.
    The converted ONNX file is kept in ``models_dir`` (default: the bench cache).
    """
    info = resolve_model(name or DEFAULT_MODEL, models_dir or MODELS_DIR)
    if resize and resize != info.preprocess.resize:
        info = dataclasses.replace(
            info,
            preprocess=dataclasses.replace(info.preprocess, resize=resize),
            model_id=f"{info.model_id}-{resize}",
        )
    if size and size != info.preprocess.size:  # the model is fully convolutional: any input size
        info = dataclasses.replace(
            info,
            preprocess=dataclasses.replace(info.preprocess, size=size),
            model_id=f"{info.model_id}-s{size}",
        )
    return info


def open_library(
    data_dir: str | os.PathLike[str], info: ModelInfo, threads: int | None = None
) -> Library:
    """A ``Library`` in ``data_dir`` running ``info`` on CPU (no CUDA probing noise)."""
    return Library(get_paths(data_dir), model=info.name, device="cpu", threads=threads, model_info=info)


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# --------------------------------------------------------------------------- numbers
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")


def passfail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
