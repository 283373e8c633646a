"""The results grid as a photo app's: readable scores with a tooltip, columns that follow the
width, zoom (slider, Ctrl+plus/minus, Ctrl+wheel) remembered, names visible, keyboard moves."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from photofind.gui.results.model import ScoreRole
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done


def test_scores_are_each_photos_own_and_the_tooltip_explains_the_order(
    make_window, qtbot, photo_dir: Path
) -> None:
    window = make_window()
    drop(window.query_panel, file_mime(photo_dir / "705.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    model = window.results.model
    scores = [model.index(r).data(ScoreRole) for r in range(model.rowCount())]
    # not capped down the list: a page of 50 does not show runs of one repeated number
    assert len({round(s, 3) for s in scores[1:]}) >= 0.7 * (len(scores) - 1)
    tip = model.index(3).data(Qt.ItemDataRole.ToolTipRole)
    assert "similarity" in tip and "order" in tip and str(photo_dir) in tip
    assert model.index(3).data(Qt.ItemDataRole.DisplayRole) == Path(model.item(3).path).name


def test_columns_follow_the_width_and_zoom_is_remembered(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    view, results = window.results.view, window.results
    qtbot.waitUntil(lambda: results.model.rowCount() == 100, timeout=TIMEOUT_MS)
    window.resize(1400, 800)
    qtbot.waitUntil(lambda: view.viewport().width() > 900)
    wide = view.columns()
    window.resize(900, 800)
    qtbot.waitUntil(lambda: view.columns() < wide)
    # the cells share the leftover width: one row of cells spans the viewport
    row_width = view.columns() * (view.itemDelegate().cell_width + 2 * view.spacing())
    assert view.viewport().width() - row_width < view.columns() + 2 * view.spacing() + 2

    before = view.zoom
    results.zoom_by(1)
    assert view.zoom == before + 32 and results.zoom.value() == view.zoom
    results.zoom_by(-2)
    assert view.zoom == before - 32
    ctrl_wheel = QWheelEvent(
        QPointF(20, 20), QPointF(view.mapToGlobal(QPoint(20, 20))), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(view.viewport(), ctrl_wheel)
    assert view.zoom == before
    results.zoom.setValue(10_000)
    assert view.zoom == 320  # clamped
    results.zoom.setValue(224)
    window.close()  # saves the settings
    again = make_window()
    assert again.results.zoom.value() == 224 and again.results.view.zoom == 224


def test_keyboard_home_end_and_arrows(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    drop(window.query_panel, file_mime(photo_dir / "405.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    view, model = window.results.view, window.results.model
    view.setFocus()
    view.setCurrentIndex(model.index(0))
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.currentIndex().row() == model.rowCount() - 1
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.currentIndex().row() == 0
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == view.columns()


def test_space_shows_the_photo_large_with_next_previous_and_esc_back(
    make_window, qtbot, photo_dir: Path, monkeypatch
) -> None:
    from photofind.gui import photo_actions

    opened: list[str] = []
    monkeypatch.setattr(photo_actions, "open_url", lambda url: opened.append(url.toLocalFile()) or True)
    window = make_window()
    drop(window.query_panel, file_mime(photo_dir / "405.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    view, model, large = window.results.view, window.results.model, window.results.large
    view.setFocus()
    view.setCurrentIndex(model.index(2))
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert large.isVisible() and large.row == 2
    qtbot.waitUntil(lambda: large.picture.pixmap() is not None and not large.picture.pixmap().isNull(), timeout=TIMEOUT_MS)
    assert Path(model.item(2).path).name in large.caption.text()
    qtbot.keyClick(large, Qt.Key.Key_Right)
    assert large.row == 3 and view.currentIndex().row() == 3  # the grid follows
    qtbot.keyClick(large, Qt.Key.Key_Left)
    qtbot.keyClick(large, Qt.Key.Key_Left)
    assert large.row == 1
    qtbot.keyClick(large, Qt.Key.Key_Return)
    assert opened == [model.item(1).path]
    qtbot.keyClick(large, Qt.Key.Key_Escape)
    assert not large.isVisible() and view.currentIndex().row() == 1


def test_multi_select_copies_paths_and_reveals_their_folders(
    make_window, qtbot, photo_dir: Path, monkeypatch
) -> None:
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtGui import QGuiApplication

    from photofind.gui import photo_actions

    revealed: list[str] = []
    monkeypatch.setattr(photo_actions, "reveal_in_folder", lambda p: revealed.append(p) or True)
    window = make_window()
    drop(window.query_panel, file_mime(photo_dir / "705.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    view, model = window.results.view, window.results.model
    view.setFocus()
    flags = QItemSelectionModel.SelectionFlag.Select
    view.selectionModel().clearSelection()
    for row in (1, 3, 4):
        view.selectionModel().select(model.index(row), flags)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    expected = [model.item(r).path for r in (1, 3, 4)]
    assert QGuiApplication.clipboard().text().splitlines() == expected
    menu = window.results.photo_menu(view.visualRect(model.index(3)).center())
    texts = [a.text() for a in menu.actions()]
    assert "Copy 3 paths" in texts
    reveal = next(a for a in menu.actions() if a.text().startswith("Reveal 3 photos"))
    reveal.trigger()
    assert len(revealed) == 1 and Path(revealed[0]).parent == photo_dir  # one folder, shown once


def test_empty_states_say_what_is_going_on(make_window, qtbot) -> None:
    from types import SimpleNamespace

    from photofind.gui.library_panel import FolderScope

    window = make_window()
    results = window.results
    results.folders_loaded([SimpleNamespace(path="/media/usb/Photos", online=False)])
    results.model.set_items([], "browse")
    results.set_scope(FolderScope(None, "All photos", 0, False))
    assert "offline" in results.view._empty_text and "/media/usb/Photos" in results.view._empty_text
    assert "reconnect" in results.view._empty_text


def test_zooming_in_loads_sharper_thumbnails(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    results = window.results
    qtbot.waitUntil(lambda: results.model.rowCount() == 100, timeout=TIMEOUT_MS)
    first = results.model.item(0).path
    qtbot.waitUntil(lambda: results.thumbnails.pixmap(first) is not None, timeout=TIMEOUT_MS)
    small = results.thumbnails.pixmap(first)
    assert max(small.width(), small.height()) <= 160
    results.zoom.setValue(288)
    qtbot.waitUntil(lambda: results.thumbnails.pixmap(first) is not None, timeout=TIMEOUT_MS)
    big = results.thumbnails.pixmap(first)
    assert max(big.width(), big.height()) == 256  # the disk thumbnail's own size, not 160 enlarged
    results.zoom.setValue(128)  # smaller: what is loaded stays (scaled down when drawn)
    assert results.thumbnails.pixmap(first) is big
