"""RankingSettings, ranking spaces (saved by the index job, read by searches) and the Searcher's
ranking stages on a small synthetic library."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from photofind.core.indexing.ranking_update import update_ranking_space
from photofind.core.search.indexes import SearchIndexes
from photofind.core.search.ranking import RankingSettings
from photofind.core.search.space import TRANSFORM_KIND, RankingSpace
from photofind.core.search.searcher import Searcher
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
    yield Lib(repo, tmp_path / "index" / "m.hnsw", ids_of(repo), labels)
    engine.dispose()


def ids_of(repo: Repository) -> np.ndarray:
    return repo.embeddings_for(MODEL, DIM)[0]


@dataclasses.dataclass
class Lib:
    repo: Repository
    raw_path: Path  # the model's own index file; ranking spaces are saved next to it
    ids: np.ndarray
    labels: np.ndarray

    def searcher(self, settings: RankingSettings, indexes: SearchIndexes | None = None) -> Searcher:
        return Searcher(self.repo, _Embedder(), indexes or SearchIndexes(self.repo, lambda _m: self.raw_path), settings)

    def update(self, settings: RankingSettings) -> str:
        """The index job's step: keep the saved space of ``settings`` in step."""
        return update_ranking_space(self.repo, MODEL, DIM, self.raw_path, settings.space)

    def add_copy_of(self, pid: int, name: str) -> int:
        v = self.repo.embedding(pid, MODEL)
        with self.repo.write() as w:
            new = w.upsert_photo(
                folder_id=self.repo.folders()[0].id, path=str(self.raw_path.parent.parent / "photos" / name),
                size=1, mtime_ns=1, fingerprint=None, status=STATUS_OK,
            )
            w.put_embedding(new, MODEL, v)
        return new


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


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
    # query-time stages share their space: switching them never loads another one
    assert dataclasses.replace(d, query_expansion=False, diffusion=True).space == d.space


def test_every_stage_runs_and_the_default_ranks_at_least_as_well_as_plain_cosine(library: Lib) -> None:
    small = {"min_photos": 50}
    base = _precision(library.searcher(RankingSettings.plain()), library.ids, library.labels)
    default = _precision(library.searcher(RankingSettings(**small)), library.ids, library.labels)
    assert default >= base
    for settings in (
        RankingSettings(**small),
        dataclasses.replace(RankingSettings(**small), diffusion=True, diffusion_k=10),
        dataclasses.replace(RankingSettings(**small), pca=False),
        dataclasses.replace(RankingSettings(**small), dba=False),
        dataclasses.replace(RankingSettings.plain(), query_expansion=True),
    ):
        s = library.searcher(settings)
        assert (s.current_space() is not None) == settings.needs_space
        assert _precision(s, library.ids, library.labels) >= base - 0.02
        pid = int(library.ids[0])
        hits = s.similar_to(pid, k=15)
        assert len(hits) == 15 and pid not in {h.photo_id for h in hits}
        assert all(-1.0 <= h.score <= 1.0 for h in hits)  # each photo's own model similarity
        raw = library.repo.embedding(pid, MODEL)
        assert s.search_vector(raw, k=3)[0].photo_id == pid  # itself first


def test_the_index_job_learns_the_space_once_stores_it_and_reuses_it(library: Lib) -> None:
    settings = RankingSettings(min_photos=50, pca_dim=8)
    assert library.update(settings) == "built"
    stored = library.repo.ranking_transform(MODEL, TRANSFORM_KIND)
    assert stored is not None and stored[2] == len(library.ids)
    space = RankingSpace.load(library.repo, MODEL, DIM, library.raw_path, settings.space)
    assert space is not None and space.version == stored[0] and space.transform is not None
    assert space.transform.dim_out == 8 and space.index.path.exists()  # saved next to the raw index
    assert np.array_equal(Whitening.from_bytes(stored[3]).projection, space.transform.projection)
    assert library.update(settings) == "up to date"
    assert library.repo.ranking_transform(MODEL, TRANSFORM_KIND)[0] == stored[0]  # not refitted


def test_a_search_catches_the_saved_space_up_in_memory_and_writes_nothing(library: Lib, tmp_path: Path) -> None:
    settings = RankingSettings(min_photos=50)
    library.update(settings)
    searcher = library.searcher(settings)
    v = library.repo.embedding(int(library.ids[3]), MODEL)
    assert searcher.search_vector(v, k=1)[0].photo_id == int(library.ids[3])
    before = snapshot(tmp_path / "index")
    pid = library.add_copy_of(int(library.ids[3]), "new.jpg")
    with library.repo.write() as w:
        w.delete_photos([int(library.ids[5])])
    hits = searcher.search_vector(v, k=2)
    assert {h.photo_id for h in hits} == {pid, int(library.ids[3])}
    space = searcher.current_space()
    assert space is not None and space.index.contains(pid) and not space.index.contains(int(library.ids[5]))
    # a fresh reader (another process) finds the new photo too, from the saved, older file
    fresh = library.searcher(settings)
    assert {h.photo_id for h in fresh.search_vector(v, k=2)} == {pid, int(library.ids[3])}
    assert snapshot(tmp_path / "index") == before


def test_variants_the_index_job_does_not_keep_are_built_in_memory_only(library: Lib, tmp_path: Path) -> None:
    library.update(RankingSettings(min_photos=50))
    before = snapshot(tmp_path / "index")
    n_transforms = library.repo.ranking_transform(MODEL, TRANSFORM_KIND)[0]
    for settings in (RankingSettings.plain(), RankingSettings(min_photos=50, pca=False),
                     RankingSettings(min_photos=50, dba=False), RankingSettings(min_photos=50, pca_dim=12)):
        assert len(library.searcher(settings).similar_to(int(library.ids[0]), k=5)) == 5
    assert snapshot(tmp_path / "index") == before
    assert library.repo.ranking_transform(MODEL, TRANSFORM_KIND)[0] == n_transforms  # no PCA stored


def test_a_library_whose_space_was_never_saved_searches_with_the_full_ranking_and_saves_nothing(library: Lib, tmp_path: Path) -> None:
    settings = RankingSettings(min_photos=50)  # nothing saved: the index job never ran
    s = library.searcher(settings)
    assert s.current_space() is not None
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").iterdir())
    assert library.repo.ranking_transform(MODEL, TRANSFORM_KIND) is None


def test_small_library_stays_plain_cosine(library: Lib) -> None:
    searcher = library.searcher(RankingSettings(min_photos=10_000))
    assert searcher.current_space() is None
    assert len(searcher.similar_to(int(library.ids[0]), k=5)) == 5
    assert library.update(RankingSettings(min_photos=10_000)).startswith("not yet")


def test_large_changes_make_the_index_job_rebuild_instead_of_catching_up(library: Lib) -> None:
    settings = RankingSettings(min_photos=50)
    library.update(settings)
    space = RankingSpace.load(library.repo, MODEL, DIM, library.raw_path, settings.space)
    assert space is not None
    before = space.generation
    with library.repo.write() as w:
        for pid in library.ids[:20].tolist():
            v = library.repo.embedding(pid, MODEL)
            w.put_embedding(pid, MODEL, v[::-1].copy())  # 20 changed vectors
    assert space.catch_up(library.repo, max_changes=10) is False and space.generation == before
    assert space.catch_up(library.repo, max_changes=100) is True
    assert space.generation == library.repo.generation()


def test_a_refit_version_replaces_the_old_index_file(library: Lib) -> None:
    settings = RankingSettings(min_photos=50)
    library.update(settings)
    first = RankingSpace.load(library.repo, MODEL, DIM, library.raw_path, settings.space)
    assert first is not None
    old_file = first.index.path
    with library.repo.write() as w:
        w.put_ranking_transform(MODEL, TRANSFORM_KIND, -1, 1, b"stale")  # forces a refit
    assert library.update(settings) == "built"
    second = RankingSpace.load(library.repo, MODEL, DIM, library.raw_path, settings.space)
    assert second is not None and second.version > first.version + 1
    assert second.index.path.exists() and not old_file.exists()


def test_a_reader_moves_to_the_space_the_index_job_refitted(library: Lib) -> None:
    settings = RankingSettings(min_photos=50)
    library.update(settings)
    indexes = SearchIndexes(library.repo, lambda _m: library.raw_path)
    searcher = library.searcher(settings, indexes)
    first = searcher.current_space()
    with library.repo.write() as w:
        w.put_ranking_transform(MODEL, TRANSFORM_KIND, -1, 1, b"stale")
    library.add_copy_of(int(library.ids[1]), "late.jpg")  # the library changes, the job refits
    library.update(settings)
    second = searcher.current_space()
    assert first is not None and second is not None and second.version > first.version


def test_scores_are_model_similarities_and_a_copy_of_the_query_comes_first(library: Lib) -> None:
    searcher = library.searcher(RankingSettings(min_photos=50))
    pid = int(library.ids[7])
    raw = library.repo.embedding(pid, MODEL)
    hits = searcher.search_vector(raw, k=10)
    assert hits[0].photo_id == pid and hits[0].score == pytest.approx(1.0, abs=1e-5)
    unit = raw / np.linalg.norm(raw)
    for h in hits:  # each photo's own plain model similarity, not capped down the list
        v = library.repo.embedding(h.photo_id, MODEL)
        assert h.score == pytest.approx(float(v @ unit / np.linalg.norm(v)), abs=1e-4)


def test_embedding_chunks_cover_every_vector_once(library: Lib) -> None:
    repo, ids = library.repo, library.ids
    chunks = list(repo.embedding_chunks(MODEL, chunk=70))
    assert [len(c[0]) for c in chunks] == [70, 70, 70, 30]
    got_ids = np.concatenate([c[0] for c in chunks])
    assert np.array_equal(got_ids, ids)
    _, all_vectors = repo.embeddings_for(MODEL, DIM)
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), all_vectors)


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
    assert current_revision(engine) == head_revision() == "0005"
    repo = Repository(engine)
    assert repo.ranking_transform(MODEL, TRANSFORM_KIND) is None
    with repo.write() as w:
        v1 = w.put_ranking_transform(MODEL, TRANSFORM_KIND, 1, 10, b"a")
        v2 = w.put_ranking_transform(MODEL, TRANSFORM_KIND, 1, 20, b"b")
        v3 = w.put_ranking_transform(MODEL, TRANSFORM_KIND, 1, 40, b"c")
    assert v1 < v2 < v3 and repo.ranking_transform(MODEL, TRANSFORM_KIND) == (v3, 1, 40, b"c")
    with engine.connect() as conn:  # only the newest two are kept
        assert conn.exec_driver_sql("select count(*) from ranking_transforms").scalar() == 2
    engine.dispose()


def test_a_library_with_a_ranking_space_never_opens_the_model_index(library: Lib) -> None:
    opened = []

    class Spy(SearchIndexes):
        def model_index(self, model_id: str, dim: int):  # type: ignore[no-untyped-def]
            opened.append(model_id)
            return super().model_index(model_id, dim)

    indexes = Spy(library.repo, lambda _m: library.raw_path)
    searcher = library.searcher(RankingSettings(min_photos=50), indexes)
    assert searcher.current_space() is not None
    assert _precision(searcher, library.ids, library.labels) > 0.9
    pid = int(library.ids[0])
    assert searcher.search_vector(library.repo.embedding(pid, MODEL), k=3)[0].photo_id == pid
    assert opened == []  # the 1280-d index of a large library stays on disk
    plain = library.searcher(RankingSettings.plain(), indexes)
    assert len(plain.similar_to(pid, k=5)) == 5 and opened == [MODEL]


def test_a_space_fitted_on_fewer_photos_than_its_dimensions_is_reused(tmp_path: Path) -> None:
    """240 photos give a 239-d PCA; it must still count as the stored space (no refit per run)."""
    engine = open_database(tmp_path / "lib.db", tmp_path / "backups")
    repo = Repository(engine)
    rng = np.random.default_rng(3)
    with repo.write() as w:
        folder = w.add_folder(str(tmp_path / "photos"))
        for i, v in enumerate(rng.normal(size=(240, 300)).astype(np.float32)):
            pid = w.upsert_photo(folder_id=folder, path=str(tmp_path / f"{i}.jpg"), size=1, mtime_ns=1,
                                 fingerprint=None, status=STATUS_OK)
            w.put_embedding(pid, "wide:v1", v)
    spec = RankingSettings(min_photos=200).space
    raw = tmp_path / "index" / "w.hnsw"
    assert update_ranking_space(repo, "wide:v1", 300, raw, spec) == "built"
    assert update_ranking_space(repo, "wide:v1", 300, raw, spec) == "up to date"
    space = RankingSpace.load(repo, "wide:v1", 300, raw, spec)
    assert space is not None and space.transform is not None and space.transform.dim_out == 239
    engine.dispose()


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // 20, dim))
    x = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_dba_in_chunks_on_every_core_gives_the_single_threaded_space() -> None:
    """augment_all gathers neighbours chunk by chunk (never N x k x dim at once) and builds its
    neighbour graph on several threads for big sets: on a small set, where HNSW finds the true
    neighbours whatever the insertion order, the vectors are those of the one-thread build."""
    from photofind.core.search.ranking import augment_all

    x = _clustered(3000, 32, 0)
    one = augment_all(x, 3, 3.0, threads=1)
    # exact DBA, for reference: the true 3 nearest (itself excluded)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    nn = np.argsort(-sims, axis=1)[:, :3]
    w = np.maximum(np.take_along_axis(sims, nn, axis=1), 0) ** 3.0
    exact = x + np.einsum("nk,nkd->nd", w, x[nn])
    exact /= np.linalg.norm(exact, axis=1, keepdims=True)
    assert np.mean(np.abs(one - exact).max(axis=1) < 1e-5) > 0.99
    chunked = augment_all(x, 3, 3.0, threads=1, chunk=7)
    np.testing.assert_array_equal(chunked, one)
    parallel = augment_all(x, 3, 3.0, threads=2, chunk=500)
    same = np.abs(parallel - one).max(axis=1) < 1e-5
    assert same.mean() > 0.99, same.mean()
