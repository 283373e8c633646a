"""The index job in a child process (what the app runs), with the real model and real processes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from photofind.config import get_paths
from photofind.core.indexing import child
from photofind.core.indexing.child import IndexChildFailed
from photofind.core.indexing.indexer import Progress
from photofind.core.library import Library, LibraryBusy
from tests.synthetic_photos import write_photos

pytestmark = pytest.mark.slow

N_PHOTOS = 40


@pytest.fixture()
def library(tmp_path: Path) -> Library:
    write_photos(tmp_path / "photos", range(N_PHOTOS), width=160, height=120)
    lib = Library(get_paths(tmp_path / "data"), device="cpu")
    lib.add_folder(tmp_path / "photos")
    yield lib
    lib.close()


def test_a_child_run_indexes_reports_progress_and_the_parent_can_search(library: Library, tmp_path: Path) -> None:
    events: list[Progress] = []
    report = library.run_index_in_child(progress=events.append)
    assert (report.added, report.embedded, report.cancelled, report.skipped) == (N_PHOTOS, N_PHOTOS, False, [])
    phases = [e.phase for e in events]
    assert phases[0] == "scanning" and "embedding" in phases and phases[-1] == "done"
    assert library.repo.embedding_count(library.model_info.model_id) == N_PHOTOS
    query = tmp_path / "photos" / "7.jpg"
    assert library.searcher().search_image(query, k=1)[0].path == str(query)
    again = library.run_index_in_child()
    assert (again.unchanged, again.embedded) == (N_PHOTOS, 0)


def test_pause_then_cancel_reach_the_child(library: Library) -> None:
    pause, cancel = threading.Event(), threading.Event()
    pause.set()  # sent before the child starts: it holds after its first batch

    def on_progress(p: Progress) -> None:
        if p.phase == "embedding" and p.done > 0:
            cancel.set()

    report = library.run_index_in_child(progress=on_progress, pause=pause, cancel=cancel)
    assert report.cancelled and 0 < report.embedded < N_PHOTOS
    assert library.repo.embedding_count(library.model_info.model_id) == report.embedded


def test_a_busy_library_raises_library_busy(library: Library) -> None:
    other = Library(library.paths)
    with other.writing():
        with pytest.raises(LibraryBusy, match="busy"):
            library.run_index_in_child()
    other.close()


def test_a_child_that_dies_is_reported_and_the_parent_carries_on(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setattr(child, "index_command", lambda _d, _e=(): [sys.executable, "-c", "import os; os.abort()"])
    with pytest.raises(IndexChildFailed, match="stopped unexpectedly"):
        library.run_index_in_child()
    assert library.repo.folders()  # the parent's library is fine


def test_indexing_on_a_cpu_runs_batches_side_by_side_on_its_own_session(library: Library) -> None:
    """The index job's session runs one batch per core (``Library.indexing_embedder``), and
    what it stores is what the search session computes for the same photo."""
    from photofind.core.models.embedder import usable_cores

    embedder, lanes = library.indexing_embedder()
    if usable_cores() >= 2:
        assert lanes >= 2 and embedder is not library.embedder and embedder.threads * lanes <= usable_cores()
    report = library.run_index()
    assert (report.added, report.skipped) == (N_PHOTOS, [])
    photo = library.repo.photo_by_path(str(Path(library.repo.folders()[0].path) / "3.jpg"))
    stored = library.repo.embedding(photo.id, library.model_info.model_id)
    query = library.searcher().query_vector(photo.path)
    assert float(stored @ query) / float(np.linalg.norm(stored) * np.linalg.norm(query)) > 0.999
    pinned = Library(library.paths, device="cpu", threads=2)
    try:
        assert pinned.indexing_embedder() == (pinned.embedder, 1)  # a threads option: one session
    finally:
        pinned.close()
