"""The library side of the window: adding, watching, cancelling, removing, skipped files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from photofind.config import get_paths
from photofind.core.indexing.indexer import IndexReport
from photofind.core.library import Library
from photofind.core.models.registry import create_embedder, resolve_model
from photofind.store.schema import STATUS_OK
from tests.fake_library import library_with
from tests.fakes import GatedEmbedder
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done


@pytest.fixture
def gate(data_dir: Path) -> GatedEmbedder:
    """The library's real model behind a gate, open until a test calls ``hold_after``."""
    gate = GatedEmbedder(create_embedder(None, get_paths(data_dir).models_dir, device="cpu"))
    gate.release()
    return gate


@pytest.fixture
def library(data_dir: Path, gate: GatedEmbedder) -> Iterator[Library]:
    """Overrides ``conftest.library``: the window of every test here embeds through ``gate``, so
    a test can hold an index run at a batch it chooses instead of hoping it is still busy."""
    paths = get_paths(data_dir)
    # the model the gate runs (the default on CPU, int8: what the library template was made with)
    lib = library_with(paths, gate, model_info=resolve_model(gate.model_id.split(":")[0], paths.models_dir), device="cpu")
    yield lib
    lib.close()


def _folder_row(window, path: Path):  # type: ignore[no-untyped-def]
    return next(
        (r for r in window.library_panel.folders if Path(r.path) == path.resolve()), None
    )


def _fill(folder: Path, corel_dir: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    return folder


def _state_text(window, path: Path) -> str:  # type: ignore[no-untyped-def]
    tree = window.library_panel.tree
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        if item.text(0) == path.name:
            return item.text(2)
    return ""


def test_add_folder_through_the_panel_indexes_it(
    make_window, qtbot, tmp_path, corel_dir, spare_names
) -> None:
    window = make_window()
    folder = _fill(tmp_path / "new photos", corel_dir, spare_names[:6])
    with qtbot.waitSignal(
        window.index.finished, timeout=TIMEOUT_MS
    ) as finished:
        window.library_panel.add_requested.emit(str(folder))
    report: IndexReport = finished.args[0]
    assert report.added == 6 and not report.cancelled
    qtbot.waitUntil(
        lambda: (
            (row := _folder_row(window, folder)) is not None and row.photo_count == 6
        ),
        timeout=TIMEOUT_MS,
    )
    assert _state_text(window, folder) == "online"
    assert window.library.repo.stats(window.library.model_info.model_id).embedded == 106
    assert "106 photos" in window.status.library_label.text()


def test_dropped_folder_is_added(
    make_window, qtbot, tmp_path, corel_dir, spare_names
) -> None:
    window = make_window()
    folder = _fill(tmp_path / "dropped", corel_dir, spare_names[10:12])
    drop(window, file_mime(folder))
    qtbot.waitUntil(
        lambda: (
            (row := _folder_row(window, folder)) is not None and row.photo_count == 2
        ),
        timeout=TIMEOUT_MS,
    )


def test_file_copied_into_watched_folder_is_indexed(
    make_window, qtbot, tmp_path, corel_dir, spare_names
) -> None:
    window = make_window(watch=True, watch_debounce_s=0.3)
    folder = _fill(tmp_path / "watched", corel_dir, spare_names[20:22])
    window.library_panel.add_requested.emit(str(folder))
    qtbot.waitUntil(
        lambda: (
            (row := _folder_row(window, folder)) is not None and row.photo_count == 2
        ),
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: str(folder.resolve()) in window.watch.watched_paths)

    shutil.copy2(
        corel_dir / "images" / spare_names[22], folder / spare_names[22]
    )  # no user action
    qtbot.waitUntil(
        lambda: (
            (row := _folder_row(window, folder)) is not None and row.photo_count == 3
        ),
        timeout=TIMEOUT_MS,
    )
    assert (
        window.library.repo.photo_by_path(
            str(folder.resolve() / spare_names[22])
        ).status
        == STATUS_OK
    )


def test_cancel_mid_run_keeps_the_batch_in_flight_and_nothing_after_it(
    make_window, gate, qtbot, tmp_path, corel_dir, spare_names
) -> None:
    window = make_window()
    folder = _fill(tmp_path / "big", corel_dir, spare_names[100:148])  # three batches of 16
    reports: list[IndexReport] = []
    window.index.finished.connect(reports.append)
    gate.hold_after(1)  # batch 1 is embedded; batch 2 waits at the gate: the run is mid-run
    window.library_panel.add_requested.emit(str(folder))
    qtbot.waitUntil(gate.entered.is_set, timeout=TIMEOUT_MS)
    status = window.status.index_status
    qtbot.waitUntil(
        lambda: status.isVisible() and "Indexing" in status.label.text() and status.bar.value() == 16,
        timeout=TIMEOUT_MS,
    )
    assert status.bar.maximum() == 48
    qtbot.mouseClick(status.cancel, Qt.MouseButton.LeftButton)
    gate.release()  # batch 2, in flight when Cancel was clicked, finishes; batch 3 never starts
    qtbot.waitUntil(lambda: bool(reports), timeout=TIMEOUT_MS)
    assert reports[0].cancelled
    assert reports[0].embedded == 32 and gate.calls == 2
    qtbot.waitUntil(lambda: not status.isVisible())

    lib = window.library
    model_id = lib.model_info.model_id
    photos = lib.repo.photos_in_folder(lib.find_folder(folder).id, model_id).values()
    assert sum(p.embedded for p in photos if p.status == STATUS_OK) == 32
    embedded = np.sort(lib.repo.embedded_ids(model_id))
    assert len(embedded) == 100 + 32
    index = lib.model_index()
    assert len(index) == len(embedded)
    ids, _ = index.search(lib.repo.embedding(int(embedded[-1]), model_id), 1)
    assert int(ids[0]) == int(embedded[-1])


def test_pause_holds_the_run_after_its_batch_until_resumed(
    make_window, gate, qtbot, tmp_path, corel_dir, spare_names
) -> None:
    window = make_window()
    folder = _fill(tmp_path / "pausable", corel_dir, spare_names[300:340])  # batches 16, 16, 8
    done: list[IndexReport] = []
    window.index.finished.connect(done.append)
    status = window.status.index_status
    qtbot.mouseClick(status.pause, Qt.MouseButton.LeftButton)  # paused before the run starts
    assert window.index.paused
    gate.hold_after(1)  # a run that went on past batch 1 would reach the gate and say so
    window.library_panel.add_requested.emit(str(folder))
    qtbot.waitUntil(
        lambda: (
            "Paused" in status.label.text() and "Indexing" in status.label.text()
            and status.bar.value() == 16
        ),
        timeout=TIMEOUT_MS,
    )
    # Batch 1 is reported, and the run waits before batch 2 (decoded already, so an ignored
    # pause would reach the gate at once).
    assert not gate.wait_entered(0.5) and gate.calls == 1
    assert not done and window.index.is_busy()
    qtbot.mouseClick(status.pause, Qt.MouseButton.LeftButton)
    assert not window.index.paused
    qtbot.waitUntil(gate.entered.is_set, timeout=TIMEOUT_MS)  # resumed: batch 2 is embedded
    gate.release()
    qtbot.waitUntil(lambda: bool(done), timeout=TIMEOUT_MS)
    assert done[0].embedded == 40 and not done[0].cancelled and gate.calls == 3


def test_remove_folder_asks_then_forgets_photos_but_keeps_files(
    make_window, qtbot, monkeypatch, photo_dir
) -> None:
    window = make_window()
    qtbot.waitUntil(
        lambda: _folder_row(window, photo_dir) is not None, timeout=TIMEOUT_MS
    )
    tree = window.library_panel.tree
    tree.setCurrentItem(tree.topLevelItem(1))
    assert window.library_panel.remove_button.isEnabled()
    asked: list[str] = []

    def answer(parent, title, text, *args):  # type: ignore[no-untyped-def]
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.library_panel.remove_button.click()
    assert asked and "not touched" in asked[0]
    qtbot.waitUntil(lambda: not window.library_panel.folders, timeout=TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: window.results.model.mode == "browse" and window.results.model.rowCount() == 0,
        timeout=TIMEOUT_MS,
    )
    assert len(list(photo_dir.iterdir())) == 100  # files untouched
    assert len(window.library.model_index()) == 0


def test_skipped_files_dialog_lists_reasons(
    make_window, qtbot, tmp_path, corel_dir, spare_names
) -> None:
    window = make_window()
    folder = _fill(tmp_path / "mixed", corel_dir, spare_names[400:401])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with qtbot.waitSignal(window.index.finished, timeout=TIMEOUT_MS):
        window.library_panel.add_requested.emit(str(folder))
    window.menu_actions["Skipped files"].trigger()
    dialog = window.skipped_dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=TIMEOUT_MS)
    assert dialog.table.item(0, 0).text().endswith("broken.jpg")
    assert dialog.table.item(0, 1).text()
    assert not dialog.isModal()


def test_busy_library_is_a_notice_and_retried(
    make_window, qtbot, tmp_path, corel_dir, spare_names
) -> None:
    window = make_window()
    window.index.busy_timeout_s = 0.1
    window.index.busy_retry_s = 0.3
    other = FileLock(
        str(window.library.paths.lock_path)
    )  # another photofind process, in effect
    other.acquire()
    try:
        window.menu_actions["Rescan folders"].trigger()
        notice = window.results.notice_bar
        qtbot.waitUntil(
            lambda: notice.isVisible() and "busy" in notice.text.text(),
            timeout=TIMEOUT_MS,
        )
    finally:
        other.release()
    with qtbot.waitSignal(
        window.index.finished, timeout=TIMEOUT_MS
    ) as finished:
        pass
    assert not finished.args[0].cancelled


def test_read_only_library_searches_but_refuses_writes(
    make_window, library, qtbot, tmp_path, corel_dir, spare_names, photo_dir
) -> None:
    # The core decides read-only (tests/reliability/test_storage.py makes a real read-only
    # data dir); here the window's reaction to it is what is checked.
    library.read_only = True
    window = make_window(watch=True)
    assert "can only be read" in window.results.notice_bar.text.text()
    folder = _fill(tmp_path / "more", corel_dir, spare_names[:2])
    window.library_panel.add_requested.emit(str(folder))
    window.menu_actions["Rescan folders"].trigger()
    qtbot.wait(300)
    assert not window.index.is_busy()
    assert _folder_row(window, folder) is None
    assert not window.watch.running
    drop(window.query_panel, file_mime(photo_dir / "705.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    assert Path(window.results.model.items()[0].path) == photo_dir / "705.jpg"


def test_removing_a_folder_interrupts_the_run_and_the_rest_is_indexed(
    make_window, qtbot, monkeypatch, library, tmp_path, corel_dir, spare_names, photo_dir
) -> None:
    folder = _fill(tmp_path / "rest", corel_dir, spare_names[700:790])
    library.add_folder(folder)  # added by the CLI: the start-up run indexes it
    reports: list[IndexReport] = []
    window = make_window(rescan_on_start=True)
    window.index.finished.connect(reports.append)
    qtbot.waitUntil(
        lambda: "Indexing" in window.status.index_status.label.text(), timeout=TIMEOUT_MS
    )
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    tree = window.library_panel.tree
    row = next(i for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).text(0) == photo_dir.name)
    tree.setCurrentItem(tree.topLevelItem(row))
    window.library_panel.remove_button.click()
    qtbot.waitUntil(
        lambda: (r := _folder_row(window, folder)) is not None
        and r.photo_count == 90 and _folder_row(window, photo_dir) is None
        and not window.index.is_busy(),
        timeout=3 * TIMEOUT_MS,
    )
    # the first run was interrupted (not reported as stopped) and a second one did the rest
    assert len(reports) == 2 and not any(r.cancelled for r in reports)
    assert 0 < reports[0].embedded < 90 and reports[0].embedded + reports[1].embedded == 90
    lib = window.library
    assert lib.repo.stats(lib.model_info.model_id).embedded == 90
