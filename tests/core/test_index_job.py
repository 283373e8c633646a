"""The index job is the one write path: every caller gets the same outcome.

A library made by the previous variant of the default model (as photofind 0.1 left it) is
indexed by each caller in turn, on its own copy: ``Library.run_index`` (what the app's index
service calls), the ``photofind index`` command and ``photofind watch``. Each must re-embed every
photo, retire the previous variant's vectors and files, save the ranking space and leave the
same library behind. A fake embedder keeps it fast; the photos are made by the test.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from photofind import cli, cli_commands
from photofind.config import get_paths
from photofind.core.images.thumbnails import ThumbnailCache
from photofind.core.library import Library, LibraryBusy
from photofind.core.models.registry import DEFAULT_MODEL, previous_variants
from photofind.core.models.spec import ModelInfo
from photofind.core.search.ranking import RankingSettings
from photofind.core.search.space import TRANSFORM_KIND
from photofind.core.watcher import watch_library
from tests.fakes import FAKE_SPEC, FakeEmbedder
from tests.synthetic_photos import write_photos

N_PHOTOS = RankingSettings().min_photos + 10  # the default ranking's space is on

CURRENT = ModelInfo(DEFAULT_MODEL, "efficientnet-lite0:fake:v1:current", Path("unused.onnx"), FakeEmbedder.dim, FAKE_SPEC)
(PREVIOUS,) = previous_variants(CURRENT)


class Embedder(FakeEmbedder):
    def __init__(self, info: ModelInfo) -> None:
        super().__init__()
        self.model_id = info.model_id


def open_library(data: Path, info: ModelInfo = CURRENT) -> Library:
    return Library(get_paths(data), model_info=info, embedder=Embedder(info))


@pytest.fixture(scope="module")
def old_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data dir, photo folder) of a library whose vectors are all of the previous variant."""
    root = tmp_path_factory.mktemp("old-library")
    photos = root / "photos"
    write_photos(photos, range(N_PHOTOS), width=128, height=96)
    lib = open_library(root / "data", PREVIOUS)
    report = lib.run_index([lib.add_folder(photos)])
    assert report.embedded == N_PHOTOS and report.ranking == "built"
    lib.close()
    return root / "data", photos


def outcome(data: Path) -> dict[str, object]:
    lib = open_library(data)
    try:
        return {
            "previous vectors": lib.repo.embedding_count(PREVIOUS.model_id),
            "current vectors": lib.repo.embedding_count(CURRENT.model_id),
            "previous transforms": lib.repo.ranking_transform(PREVIOUS.model_id, TRANSFORM_KIND) is not None,
            "current transform": lib.repo.ranking_transform(CURRENT.model_id, TRANSFORM_KIND) is not None,
            "index files": sorted(p.name for p in lib.paths.index_dir.iterdir()),
            "searching with": lib.search_model_id,
            "space in use": lib.indexes.space(lib.search_model_id, FakeEmbedder.dim, RankingSettings().space)
            is not None,
        }
    finally:
        lib.close()


def copy_of(old_library: tuple[Path, Path], tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(old_library[0], data)
    return data


def run_library(data: Path) -> None:
    lib = open_library(data)
    report = lib.run_index()
    assert report.retired_models == [PREVIOUS.model_id] and report.embedded == N_PHOTOS
    lib.close()


def run_cli(data: Path) -> None:
    lib = open_library(data)
    args = cli.parse_args(["index", "--json"])  # the command line's own arguments
    original = cli_commands.open_library
    cli_commands.open_library = lambda _args: lib  # type: ignore[assignment]
    try:
        assert cli_commands.cmd_index(args) == cli_commands.EXIT_OK
    finally:
        cli_commands.open_library = original  # type: ignore[assignment]
        lib.close()


def run_watch(data: Path) -> None:
    lib = open_library(data)
    stop = threading.Event()
    reports = []

    def on_report(report) -> None:  # type: ignore[no-untyped-def]
        reports.append(report)
        stop.set()

    watcher = threading.Thread(target=watch_library, args=(lib,), kwargs={"on_report": on_report, "stop": stop})
    watcher.start()
    watcher.join(timeout=300)
    assert not watcher.is_alive() and len(reports) == 1
    assert reports[0].retired_models == [PREVIOUS.model_id]
    lib.close()


def test_the_old_library_is_what_0_1_left(old_library: tuple[Path, Path]) -> None:
    before = outcome(old_library[0])
    assert before["previous vectors"] == N_PHOTOS and before["current vectors"] == 0
    assert before["searching with"] == PREVIOUS.model_id and before["space in use"]


def test_every_caller_of_the_index_job_gets_the_same_outcome(
    old_library: tuple[Path, Path], tmp_path: Path
) -> None:
    outcomes = {}
    for name, caller in (("library", run_library), ("cli index", run_cli), ("watch", run_watch)):
        data = copy_of(old_library, tmp_path / name)
        caller(data)
        outcomes[name] = outcome(data)
    expected = outcomes["library"]
    assert expected["previous vectors"] == 0 and expected["current vectors"] == N_PHOTOS
    assert not expected["previous transforms"] and expected["current transform"]
    assert expected["searching with"] == CURRENT.model_id and expected["space in use"]
    assert not any(name.startswith(PREVIOUS.model_id.replace(":", "_")) for name in expected["index files"])
    assert any(".pca" in name for name in expected["index files"])
    assert outcomes["cli index"] == expected and outcomes["watch"] == expected


def test_adding_a_folder_takes_the_writer_lock(old_library: tuple[Path, Path], tmp_path: Path) -> None:
    data = copy_of(old_library, tmp_path)
    other, lib = open_library(data), open_library(data)
    (tmp_path / "more").mkdir()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with other.writing():
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(60)
    try:
        with pytest.raises(LibraryBusy):
            lib.add_folder(tmp_path / "more")
    finally:
        release.set()
        holder.join()
    assert lib.add_folder(tmp_path / "more").path == str((tmp_path / "more").resolve())
    other.close()
    lib.close()


def test_removing_a_folder_brings_the_saved_indexes_and_thumbnails_in_step(
    old_library: tuple[Path, Path], tmp_path: Path
) -> None:
    data = copy_of(old_library, tmp_path)
    run_library(data)
    lib = open_library(data)
    cache = ThumbnailCache.for_paths(lib.paths)
    rows = list(lib.repo.photos_by_ids(range(1, 10 * N_PHOTOS)).values())[:5]
    thumbs = [cache.get_or_create(r.path, r.fingerprint) for r in rows]
    assert all(t is not None and t.is_file() for t in thumbs)
    assert lib.remove_folder(old_library[1]) == N_PHOTOS
    assert not any(t.exists() for t in thumbs if t is not None)  # the index job pruned them
    lib.close()
    after = outcome(data)
    assert after["current vectors"] == 0 and not after["space in use"]
    lib = open_library(data)  # a fresh process searches what the job saved
    for settings in (RankingSettings(), RankingSettings.plain()):
        assert lib.searcher(settings).search_vector(np.ones(FakeEmbedder.dim, np.float32), k=5) == []
    lib.close()


def test_a_first_index_keeps_the_model_index_only_while_searches_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches read the model's own index only below a ranking space's minimum size: a large
    first index stops feeding it once it holds that many photos (issue 13: CPU per photo), and
    when the library shrinks below the minimum again the index is caught up from the database."""
    from photofind.core.vectors.vector_index import VectorIndex

    minimum = RankingSettings().min_photos
    count = minimum + 40  # more than a batch past the minimum
    photos = tmp_path / "photos"
    write_photos(photos, range(count), width=128, height=96)
    lib = open_library(tmp_path / "data")
    model_index_path = lib.index_path(CURRENT.model_id)
    fed: list[int] = []
    real_add = VectorIndex.add

    def add(index: VectorIndex, ids: np.ndarray, vectors: np.ndarray) -> None:
        if index.path == model_index_path:
            fed.append(len(ids))
        real_add(index, ids, vectors)

    monkeypatch.setattr(VectorIndex, "add", add)
    report = lib.run_index([lib.add_folder(photos)])
    assert report.embedded == count and report.ranking == "built"
    assert minimum <= sum(fed) < minimum + 16  # one batch of 16 may cross the minimum
    hits = lib.searcher().similar_to(lib.repo.photo_by_path(str(photos / "3.jpg")).id, k=5)
    assert len(hits) == 5  # the ranking space serves the searches
    for seed in range(minimum - 20, count):  # the library shrinks below the minimum
        (photos / f"{seed}.jpg").unlink()
    lib.run_index()
    lib.close()
    again = open_library(tmp_path / "data")
    try:
        kept = again.repo.embedding_count(CURRENT.model_id)
        assert kept == minimum - 20
        index = again.model_index()
        assert len(index) == kept  # caught up: no photo missing, none removed left in
        seven = again.repo.photo_by_path(str(photos / "7.jpg")).id
        query = again.repo.embedding(seven, CURRENT.model_id)
        ids, _ = index.search(query / np.linalg.norm(query), 1)
        assert int(ids[0]) == seven
    finally:
        again.close()
