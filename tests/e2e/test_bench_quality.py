"""Smoke test of ``bench/quality.py``: the metric code on hand-made cases, and a real 100-photo run.

The full bench (2 x 1000 photos) takes minutes and lives in ``bench/``; here 100 Corel photos
(10 per class) go through the app's real indexer, model and searcher in a temp library.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _common
import quality


# --------------------------------------------------------------------------- metrics by hand
def test_average_precision_by_hand() -> None:
    relevant = {"a", "b", "c"}
    # hits at ranks 1, 3 and 6: (1/1 + 2/3 + 3/6) / 3
    assert _common.average_precision(["a", "x", "b", "y", "z", "c"], relevant) == pytest.approx(
        (1 + 2 / 3 + 3 / 6) / 3
    )
    assert _common.average_precision(["a", "b", "c", "x"], relevant) == pytest.approx(1.0)
    # a relevant item never retrieved counts as zero precision
    assert _common.average_precision(["x", "a"], relevant) == pytest.approx((1 / 2) / 3)
    assert _common.average_precision(["x", "y"], relevant) == 0.0
    assert _common.average_precision(["x"], set()) == 0.0


def test_precision_at_k_by_hand() -> None:
    ranked = ["a", "x", "b", "y"]
    assert _common.precision_at(ranked, {"a", "b"}, 2) == pytest.approx(0.5)
    assert _common.precision_at(ranked, {"a", "b"}, 4) == pytest.approx(0.5)
    assert _common.precision_at(ranked[:1], {"a", "b"}, 4) == pytest.approx(0.25)  # short list


def test_ns_score_counts_the_query_itself() -> None:
    group = {"q": "1", "a": "1", "b": "1", "c": "1", "x": "2"}
    assert _common.ns_score(["q", "a", "b", "c", "x"], group, "q") == 4
    assert _common.ns_score(["q", "x", "a", "b", "c"], group, "q") == 3
    assert _common.ns_score(["x", "x", "x", "x"], group, "q") == 0


def test_exact_rankings_and_scores_on_a_toy_set() -> None:
    # Two tight clusters on the unit circle; every photo's neighbours are its own cluster.
    angles = np.array([0.0, 0.1, 0.2, 3.0, 3.1, 3.2])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    ids = ["a", "b", "c", "d", "e", "f"]
    ranked = quality.exact_rankings(ids, vectors, include_query=False)
    assert ranked["a"][:2] == ["b", "c"] and "a" not in ranked["a"] and len(ranked["a"]) == 5
    with_query = quality.exact_rankings(ids, vectors, include_query=True)
    assert with_query["e"][0] == "e" and set(with_query["e"][:3]) == {"d", "e", "f"}

    ds = _common.Dataset("toy", Path("."), Path("."), ids, "map")
    ds.relevant = {i: ({"a", "b", "c"} if i in "abc" else {"d", "e", "f"}) - {i} for i in ids}
    scores = quality.score_rankings(ds, ranked, {q: r[:20] for q, r in ranked.items()})
    assert scores["mAP"] == pytest.approx(1.0)
    assert scores["P@10"] == pytest.approx(0.2)  # only 2 relevant per query, 10 slots


def test_load_dataset_maps_ids_to_files(corel_dir: Path, ukbench_dir: Path) -> None:
    corel = _common.load_dataset(corel_dir)
    assert corel.protocol == "map" and len(corel.ids) == 1000
    assert corel.path_of("0").is_file() and len(corel.relevant["0"]) == 99
    assert "0" not in corel.relevant["0"]
    uk = _common.load_dataset(ukbench_dir)
    assert uk.protocol == "ns" and len(uk.ids) == 1000
    assert uk.relevant["ukbench00000"] == {"ukbench00001", "ukbench00002", "ukbench00003"}


# --------------------------------------------------------------------------- real run, 100 photos
def _corel_subset(corel_dir: Path, tmp_path: Path, step: int) -> tuple[_common.Dataset, Path]:
    """Every ``step``-th Corel photo copied into ``tmp_path/images``, and that subset."""
    corel = _common.load_dataset(corel_dir)
    ids = corel.ids[::step]
    images = tmp_path / "images"
    images.mkdir()
    for i in ids:
        shutil.copy2(corel.path_of(i), images)
    return dataclasses.replace(_common.subset(corel, ids), images=images), images


def test_quality_on_100_corel_photos(corel_dir: Path, tmp_path: Path) -> None:
    ds, images = _corel_subset(corel_dir, tmp_path, 10)  # 10 photos of each of the 10 classes
    assert len(ds.ids) == 100 and all(len(r) == 9 for r in ds.relevant.values())

    info = _common.model_info(models_dir=tmp_path / "models")
    result = quality.evaluate(ds, info, images_dir=images, work_dir=tmp_path)

    hnsw, exact = result["hnsw"], result["exact"]
    assert result["n"] == 100
    # 9 relevant photos per query, so P@10 is at most 0.9; the full set reaches ~0.97.
    assert 0.65 <= hnsw["P@10"] <= 0.9
    assert hnsw["mAP"] >= 0.75
    # on 100 vectors the HNSW search is exact
    for metric in ("mAP", "P@10", "P@20"):
        assert hnsw[metric] == pytest.approx(exact[metric], abs=1e-9)


def test_descriptor_variants_run_through_the_app_ranking(corel_dir: Path, tmp_path: Path) -> None:
    ds, images = _corel_subset(corel_dir, tmp_path, 20)  # 5 photos of each of the 10 classes
    info = _common.model_info(models_dir=tmp_path / "models")
    plain = [(label, s) for label, s in quality.STAGES if s == quality._PLAIN]
    results = quality.evaluate_descriptors(ds, info, plain)
    assert [r["size"] for r in results] == [label for label, _, _ in quality.DESCRIPTORS]
    by = {r["size"]: r["scores"] for r in results}
    # the app's own descriptor written back by the bench ranks as the app's index does
    app = quality.evaluate(ds, info, images_dir=images, work_dir=tmp_path)
    assert by["avg pool 288 (app)"]["mAP"] == pytest.approx(app["hnsw"]["mAP"], abs=2e-3)
    for scores in by.values():
        assert 0.5 <= scores["mAP"] <= 1.0
