"""RankingSettings, RankedSpace and the Searcher's ranking stages on a small synthetic library."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from photofind.core.search.ranking import TRANSFORM_KIND, RankedSpace, RankingSettings
from photofind.core.search.searcher import Searcher
from photofind.core.vectors.vector_index import VectorIndex
from photofind.core.search.whitening import Whitening
from photofind.store.db import open_database
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK

DIM = 24
MODEL = "synthetic:v1"


class _Embedder:
    model_id = MODEL
    dim = DIM
    preprocess = None

    def embed(self, batch: np.ndarray) -> np.ndarray:  # never called: queries are vectors
        raise AssertionError


def _clusters(n_clusters: int = 8, per: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, DIM)) + 2.0  # a shared offset, like CNN features
    x = np.repeat(centres, per, axis=0) + 0.8 * rng.normal(size=(n_clusters * per, DIM))
    return x.astype(np.float32), np.repeat(np.arange(n_clusters), per)


@pytest.fixture()
def library(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = open_database(tmp_path / "lib.db", tmp_path / "backups")
    repo = Repository(engine)
    x, labels = _clusters()
    with repo.write() as w:
        folder = w.add_folder(str(tmp_path / "photos"))
        for i, v in enumerate(x):
            pid = w.upsert_photo(
                folder_id=folder, path=str(tmp_path / "photos" / f"{i}.jpg"), size=1, mtime_ns=1,
                fingerprint=None, status=STATUS_OK,
            )
            w.put_embedding(pid, MODEL, v)
    ids, vectors = repo.embeddings_for(MODEL, DIM)
    index = VectorIndex(tmp_path / "index" / "m.hnsw", DIM)
    index.rebuild(ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    yield repo, index, ids, labels
    engine.dispose()


def _precision(searcher: Searcher, ids: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    label_of = dict(zip(ids.tolist(), labels.tolist()))
    hits = [searcher.similar_to(int(pid), k) for pid in ids[::5]]
    return float(np.mean([
        np.mean([label_of[h.photo_id] == label_of[int(pid)] for h in hs])
        for pid, hs in zip(ids[::5], hits)
    ]))


def test_default_settings_and_plain() -> None:
    d = RankingSettings()
    assert d.pca and d.dba and d.query_expansion and not d.diffusion and d.needs_space
    plain = RankingSettings.plain()
    assert not (plain.pca or plain.dba or plain.query_expansion or plain.diffusion)


def test_every_stage_runs_and_ranking_beats_plain_cosine(library) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, labels = library
    small = {"min_photos": 50}
    plain = Searcher(repo, _Embedder(), index, RankingSettings.plain(), build="now")
    base = _precision(plain, ids, labels)
    for settings in (
        RankingSettings(**small),
        dataclasses.replace(RankingSettings(**small), diffusion=True, diffusion_k=10),
        dataclasses.replace(RankingSettings.plain(), query_expansion=True),
    ):
        s = Searcher(repo, _Embedder(), index, settings, build="now")
        assert s.space_ready == settings.needs_space
        assert _precision(s, ids, labels) >= base - 0.02
        hits = s.similar_to(int(ids[0]), k=15)
        assert len(hits) == 15 and int(ids[0]) not in {h.photo_id for h in hits}
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        raw = repo.embedding(int(ids[0]), MODEL)
        assert s.search_vector(raw, k=3)[0].photo_id == int(ids[0])  # itself first


def test_space_is_learned_once_stored_and_reused(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, _ = library
    settings = RankingSettings(min_photos=50, pca_dim=8)
    space = RankedSpace(repo, MODEL, DIM, index.path, settings)
    assert space.build() and space.transform is not None and space.transform.dim_out == 8
    stored = repo.ranking_transform(MODEL, TRANSFORM_KIND)
    assert stored is not None and stored[0] == space.version and stored[2] == len(ids)
    assert np.array_equal(Whitening.from_bytes(stored[3]).projection, space.transform.projection)
    again = RankedSpace(repo, MODEL, DIM, index.path, settings)
    assert again.build() and again.version == space.version  # loaded, not refitted
    assert space.index is not None and space.index.path.exists()  # saved next to the raw index


def test_space_catches_up_with_library_changes(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, _ = library
    searcher = Searcher(repo, _Embedder(), index, RankingSettings(min_photos=50), build="now")
    space = searcher.space
    assert space is not None and space.index is not None
    v = repo.embedding(int(ids[3]), MODEL)
    assert v is not None
    with repo.write() as w:
        folder = repo.folders()[0].id
        pid = w.upsert_photo(
            folder_id=folder, path=str(tmp_path / "photos" / "new.jpg"), size=1, mtime_ns=1,
            fingerprint=None, status=STATUS_OK,
        )
        w.put_embedding(pid, MODEL, v)  # a copy of photo 3
        w.delete_photos([int(ids[5])])
    hits = searcher.search_vector(v, k=2)
    assert {h.photo_id for h in hits} == {pid, int(ids[3])}
    assert space.index.contains(pid) and not space.index.contains(int(ids[5]))


def test_small_library_stays_plain_cosine(library) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, _ = library
    searcher = Searcher(repo, _Embedder(), index, RankingSettings(min_photos=10_000), build="now")
    assert not searcher.space_ready
    assert len(searcher.similar_to(int(ids[0]), k=5)) == 5


def test_background_build_keeps_search_working(library) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, _ = library
    searcher = Searcher(repo, _Embedder(), index, RankingSettings(min_photos=50))
    assert len(searcher.similar_to(int(ids[0]), k=5)) == 5  # before or after the space is ready
    assert searcher.wait_for_space(timeout=60)
    assert len(searcher.similar_to(int(ids[0]), k=5)) == 5


def test_large_changes_ask_for_a_rebuild_instead_of_catching_up(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, _ = library
    space = RankedSpace(repo, MODEL, DIM, index.path, RankingSettings(min_photos=50))
    assert space.build()
    before = space.generation
    with repo.write() as w:
        for pid in ids[:20].tolist():
            v = repo.embedding(pid, MODEL)
            w.put_embedding(pid, MODEL, v[::-1].copy())  # 20 changed vectors
    assert space.catch_up(max_changes=10) is False and space.generation == before
    assert space.catch_up(max_changes=100) is True and space.generation == repo.generation()


def test_a_refit_version_replaces_the_old_index_file(library) -> None:  # type: ignore[no-untyped-def]
    repo, index, _, _ = library
    first = RankedSpace(repo, MODEL, DIM, index.path, RankingSettings(min_photos=50))
    assert first.build() and first.index is not None
    old_file = first.index.path
    repo.put_ranking_transform(MODEL, TRANSFORM_KIND, -1, 1, b"stale")  # forces a refit
    second = RankedSpace(repo, MODEL, DIM, index.path, RankingSettings(min_photos=50))
    assert second.build() and second.version > first.version + 1
    assert second.index is not None and second.index.path.exists() and not old_file.exists()


def test_scores_are_model_similarities_and_a_copy_of_the_query_comes_first(library) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, _ = library
    searcher = Searcher(repo, _Embedder(), index, RankingSettings(min_photos=50), build="now")
    raw = repo.embedding(int(ids[7]), MODEL)
    hits = searcher.search_vector(raw, k=10)
    assert hits[0].photo_id == int(ids[7]) and hits[0].score == pytest.approx(1.0, abs=1e-5)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    unit = raw / np.linalg.norm(raw)
    for h in hits:  # never above the plain model similarity
        v = repo.embedding(h.photo_id, MODEL)
        assert h.score <= float(v @ unit / np.linalg.norm(v)) + 1e-5


def test_embedding_chunks_cover_every_vector_once(library) -> None:  # type: ignore[no-untyped-def]
    repo, _, ids, _ = library
    chunks = list(repo.embedding_chunks(MODEL, chunk=70))
    assert [len(c[0]) for c in chunks] == [70, 70, 70, 30]
    got_ids = np.concatenate([c[0] for c in chunks])
    assert np.array_equal(got_ids, ids)
    _, all_vectors = repo.embeddings_for(MODEL, DIM)
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), all_vectors)


def test_load_only_build_needs_a_saved_space_and_catches_up_at_open(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, _ = library
    settings = RankingSettings(min_photos=50)
    assert not RankedSpace(repo, MODEL, DIM, index.path, settings).build(allow_rebuild=False)
    first = RankedSpace(repo, MODEL, DIM, index.path, settings)
    assert first.build()
    v = repo.embedding(int(ids[3]), MODEL)
    with repo.write() as w:  # the library moves on while no space is open
        pid = w.upsert_photo(
            folder_id=repo.folders()[0].id, path=str(tmp_path / "photos" / "late.jpg"), size=1,
            mtime_ns=1, fingerprint=None, status=STATUS_OK,
        )
        w.put_embedding(pid, MODEL, v)
    second = RankedSpace(repo, MODEL, DIM, index.path, settings)
    assert second.build(allow_rebuild=False)  # loaded from the saved file, caught up
    assert second.index is not None and second.index.contains(pid)
    stored = second.index.search(second.project(v), 2)[0]
    assert set(stored.tolist()) == {pid, int(ids[3])}
    searcher = Searcher(repo, _Embedder(), index, settings, build="never")
    assert searcher.prepare_ranking() and searcher.space_ready


def test_a_library_at_schema_0001_migrates_and_keeps_its_vectors(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from photofind.store.db import _alembic_config, current_revision, head_revision

    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert "ranking_transforms" not in inspect(engine).get_table_names()
    engine.dispose()
    engine = open_database(db, tmp_path / "backups")
    assert current_revision(engine) == head_revision() == "0002"
    repo = Repository(engine)
    assert repo.ranking_transform(MODEL, TRANSFORM_KIND) is None
    v1 = repo.put_ranking_transform(MODEL, TRANSFORM_KIND, 1, 10, b"a")
    v2 = repo.put_ranking_transform(MODEL, TRANSFORM_KIND, 1, 20, b"b")
    v3 = repo.put_ranking_transform(MODEL, TRANSFORM_KIND, 1, 40, b"c")
    assert v1 < v2 < v3 and repo.ranking_transform(MODEL, TRANSFORM_KIND) == (v3, 1, 40, b"c")
    with engine.connect() as conn:  # only the newest two are kept
        assert conn.exec_driver_sql("select count(*) from ranking_transforms").scalar() == 2
    engine.dispose()


def test_a_library_with_a_ranking_space_never_opens_the_model_index(library) -> None:  # type: ignore[no-untyped-def]
    repo, index, ids, labels = library
    opened = []

    def open_model_index() -> VectorIndex:
        opened.append(True)
        return index

    searcher = Searcher(
        repo, _Embedder(), open_model_index, RankingSettings(min_photos=50), build="now",
        index_path=index.path,
    )
    assert searcher.space_ready
    assert _precision(searcher, ids, labels) > 0.9
    assert searcher.search_vector(repo.embedding(int(ids[0]), MODEL), k=3)[0].photo_id == int(ids[0])
    assert opened == []  # the 1280-d index of a large library stays on disk
    plain = Searcher(repo, _Embedder(), open_model_index, RankingSettings.plain(), index_path=index.path)
    assert len(plain.similar_to(int(ids[0]), k=5)) == 5 and opened == [True]
