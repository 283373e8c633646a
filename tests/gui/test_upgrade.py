"""The app on a library of photofind 0.1 (224 px vectors): it searches at once, upgrades in the
background with a message, and searches with the new vectors afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from photofind.config import get_paths
from photofind.core.library import Library
from photofind.core.models.registry import previous_variants
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done


@pytest.fixture
def old_library(tmp_path: Path, photo_dir: Path) -> Library:
    data = tmp_path / "old-data"
    # what photofind 0.1 resolved the default model to: float32 at 224 px (the current default
    # on CPU is int8 at 288 px; its previous variants are float32 at 288, then 224)
    old = previous_variants(Library(get_paths(data), device="cpu").model_info)[-1]
    assert old.preprocess.size == 224
    old_lib = Library(get_paths(data), device="cpu", model_info=old)
    report = old_lib.run_index([old_lib.add_folder(photo_dir)])
    assert report.embedded == 100 and not report.cancelled
    old_lib.close()
    lib = Library(get_paths(data), device="cpu")
    # a real 0.1 library: every photo has a vector of the old variant (and its index file), none
    # of the current one
    assert old.model_id != lib.model_info.model_id
    assert lib.repo.embedding_count(old.model_id) == 100
    assert lib.repo.embedding_count(lib.model_info.model_id) == 0
    assert lib.index_path(old.model_id).is_file()
    yield lib
    lib.close()


def test_window_upgrades_an_old_library_without_a_search_gap(
    qtbot, old_library: Library, settings, photo_dir: Path
) -> None:
    from photofind.gui.main_window import MainWindow

    lib = old_library
    old_id = lib.search_model_id
    assert old_id != lib.model_info.model_id and lib.upgrade_state().backlog == 100
    assert lib.repo.embedding_count(old_id) == 100  # searches have the old vectors to use
    window = MainWindow(lib, settings, watch=False, rescan_on_start=False)
    qtbot.addWidget(window)
    window.show()
    query = photo_dir / "705.jpg"
    try:
        drop(window.query_panel, file_mime(query))
        qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
        assert Path(window.results.model.items()[0].path) == query  # answered from the 0.1 vectors

        with qtbot.waitSignal(window.index.finished, timeout=4 * TIMEOUT_MS):
            with qtbot.waitSignal(window.index.upgrading, timeout=TIMEOUT_MS) as upgrading:
                window.menu_actions["Rescan folders"].trigger()
            assert upgrading.args == [100]
            # the window's slot runs on the GUI thread, after the test's own signal spy
            qtbot.waitUntil(
                lambda: "Upgrading the library" in window.status.currentMessage(),
                timeout=TIMEOUT_MS,
            )
        assert not lib.upgrade_state().in_progress
        assert lib.search_model_id == lib.model_info.model_id
        assert lib.repo.embedding_count(old_id) == 0
        assert lib.repo.embedding_count(lib.model_info.model_id) == 100
        assert not lib.index_path(old_id).exists()  # the old variant retired with its files

        answers: list[str] = []
        window.results.model.modelReset.connect(lambda: answers.append("shown"))
        drop(window.query_panel, file_mime(query))
        qtbot.waitUntil(lambda: bool(answers) and search_done(window), timeout=TIMEOUT_MS)
        assert Path(window.results.model.items()[0].path) == query  # now from the new vectors
    finally:
        window.shutdown()
