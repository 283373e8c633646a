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
