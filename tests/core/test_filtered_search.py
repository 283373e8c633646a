"""A filtered search returns the k best photos that pass the filter (never fewer when k pass),
through the exact path (a narrow filter) and through the widened HNSW search (a broad one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import photofind.core.search.filtered as filtered
from photofind.config import Paths
from photofind.core.search.ranking import RankingSettings
from photofind.store.photo_filter import PhotoFilter
from tests.fake_library import library_with
from tests.fakes import FakeEmbedder
from tests.synthetic_photos import write_photos


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("filtered")
    write_photos(tmp / "photos" / "a", range(0, 40))
    write_photos(tmp / "photos" / "b", range(40, 52))
    write_photos(tmp / "photos" / "big", range(52, 60), width=768, height=512)
    lib = library_with(Paths(tmp / "data"), FakeEmbedder())
    lib.add_folder(tmp / "photos")
    lib.run_index()
    yield lib, tmp / "photos"
    lib.close()


def _truth(lib, query: np.ndarray, folder: Path, k: int) -> list[int]:  # type: ignore[no-untyped-def]
    ids = lib.repo.shown_ids(FakeEmbedder.model_id, PhotoFilter.for_folder(folder))
    vectors = lib.repo.embeddings_by_ids(ids.tolist(), FakeEmbedder.model_id)
    sims = {i: float(v @ query / np.linalg.norm(v)) for i, v in vectors.items()}
    return sorted(sims, key=lambda i: -sims[i])[:k]


@pytest.mark.parametrize("path", ["exact", "widened"])
def test_a_filtered_search_returns_the_k_best_that_pass(library, monkeypatch, path: str) -> None:  # type: ignore[no-untyped-def]
    lib, photos = library
    if path == "widened":
        monkeypatch.setattr(filtered, "EXACT_MAX", 0)
        monkeypatch.setattr(filtered, "EXACT_SHARE", 0.0)
    lib.indexes.close()  # no filtered view kept from the other path
    query_path = photos / "a" / "3.jpg"  # a photo outside the filtered folder
    searcher = lib.searcher(RankingSettings.plain(), PhotoFilter.for_folder(photos / "b"))
    query = searcher.embed_query(query_path)
    hits = searcher.search_vector(query, k=10)
    assert searcher.indexes.filtered(searcher.index, searcher.photo_filter).exact == (path == "exact")
    assert len(hits) == 10
    assert all(Path(h.path).parent.name == "b" for h in hits)
    assert [h.photo_id for h in hits] == _truth(lib, query, photos / "b", 10)
    # asking for more than pass gives all that pass, no more
    assert len(searcher.search_vector(query, k=50)) == 12
    # with the default ranking too
    ranked = lib.searcher(RankingSettings(), PhotoFilter.for_folder(photos / "b")).search_image(query_path, k=10)
    assert len(ranked) == 10 and all(Path(h.path).parent.name == "b" for h in ranked)


def test_size_and_type_filters_and_an_empty_result(library) -> None:  # type: ignore[no-untyped-def]
    lib, photos = library
    q = photos / "a" / "0.jpg"
    big = lib.searcher(None, PhotoFilter(min_pixels=768 * 512)).search_image(q, k=20)
    assert len(big) == 8 and all(h.width == 768 for h in big)
    assert lib.searcher(None, PhotoFilter(types=frozenset({"heic"}))).search_image(q, k=5) == []
    unfiltered = lib.searcher(None, PhotoFilter()).search_image(q, k=5)  # an empty filter is no filter
    assert len(unfiltered) == 5 and Path(unfiltered[0].path).name == "0.jpg"
    assert unfiltered[0].taken is not None  # hits carry the date taken
