"""The filter bar above the results: folder (the library panel's selection or a subfolder), date
taken, file type and Clear filters, on browsing, searches and Find duplicates, driven as a user
would on real Corel photos indexed with the real model."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QDate, Qt

from photofind.core.library import Library
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done

# Photos taken (file time; Corel JPEGs carry no EXIF date) on these days, local time.
DAY_2019 = dt.datetime(2019, 6, 15, 12, 0)
DAY_2021 = dt.datetime(2021, 3, 10, 12, 0)


@pytest.fixture
def trips(library: Library, tmp_path: Path, corel_dir: Path, spare_names: list[str]) -> Path:
    """A second library folder ``trips`` with two subfolders: ``2019`` (5 JPEGs taken in June
    2019) and ``2021`` (5 PNG conversions taken in March 2021), indexed before the window opens."""
    root = (tmp_path / "trips").resolve()
    (root / "2019").mkdir(parents=True)
    (root / "2021").mkdir()
    for i, name in enumerate(spare_names[:5]):
        target = root / "2019" / name
        shutil.copy2(corel_dir / "images" / name, target)
        stamp = DAY_2019.timestamp() + i * 60
        os.utime(target, (stamp, stamp))
    for i, name in enumerate(spare_names[5:10]):
        target = root / "2021" / (Path(name).stem + ".png")
        with Image.open(corel_dir / "images" / name) as im:
            im.save(target)
        stamp = DAY_2021.timestamp() + i * 60
        os.utime(target, (stamp, stamp))
    library.add_folder(root)
    assert library.run_index().embedded == 10
    return root


def _paths(window) -> set[Path]:  # type: ignore[no-untyped-def]
    return {Path(i.path) for i in window.results.model.items()}


def _browsed(window, n: int) -> bool:  # type: ignore[no-untyped-def]
    results = window.results
    return (
        results.model.mode == "browse" and results.model.rowCount() == n
        and results._job is not None and results._job.finished
    )


def _menu_action(menu, prefix: str):  # type: ignore[no-untyped-def]
    menu.aboutToShow.emit()  # what opening the menu does: fill it
    return next(a for a in menu.actions() if a.text().startswith(prefix))


def test_type_and_folder_filters_narrow_browsing_and_searches(
    make_window, qtbot, trips: Path, photo_dir: Path
) -> None:
    window = make_window()
    bar, results = window.results.filter_bar, window.results
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)
    assert not bar.clear_button.isEnabled()
    qtbot.waitUntil(lambda: window.filters.type_counts == {"jpeg": 105, "png": 5}, timeout=TIMEOUT_MS)

    # File type: only the PNGs, in the browse view...
    _menu_action(bar.type_menu, "PNG (5)").trigger()
    pngs = {trips / "2021" / p for p in os.listdir(trips / "2021")}
    qtbot.waitUntil(lambda: _browsed(window, 5), timeout=TIMEOUT_MS)
    assert _paths(window) == pngs
    assert results.heading.text() == "All photos · newest first · 5 photos · filtered"
    assert "Filtered: PNG" in results.heading.toolTip()
    assert bar.type_button.text() == "Type: PNG" and bar.clear_button.isEnabled()

    # ... and in a search by a dropped JPEG: every result passes; all 5 of the 50 asked for.
    assert drop(window.query_panel, file_mime(photo_dir / "705.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    assert _paths(window) == pngs
    assert results.heading.text() == "5 photos most like 705.jpg · all that pass the filters"

    # A subfolder: types cleared, folder trips/2019 chosen in the bar; the search runs again.
    _menu_action(bar.type_menu, "All types").trigger()
    bar.choose_directory = lambda start: str(trips / "2019")  # type: ignore[method-assign]
    _menu_action(bar.folder_menu, "Choose a subfolder").trigger()
    jpegs_2019 = {trips / "2019" / p for p in os.listdir(trips / "2019")}
    qtbot.waitUntil(lambda: search_done(window) and _paths(window) == jpegs_2019, timeout=TIMEOUT_MS)
    assert bar.folder_button.text() == "Folder: trips/2019"
    assert "Filtered: in trips/2019" in results.heading.toolTip()
    # the library panel shows the library folder that holds it
    assert window.library_panel.selected_folder().path == str(trips)

    # The filter stays for a new search.
    assert drop(window.query_panel, file_mime(photo_dir / "305.jpg"))
    qtbot.waitUntil(lambda: search_done(window) and "305.jpg" in results.heading.text(), timeout=TIMEOUT_MS)
    assert _paths(window) == jpegs_2019

    # Back to the library: still filtered to the subfolder.
    results.browse()
    qtbot.waitUntil(lambda: _browsed(window, 5), timeout=TIMEOUT_MS)
    assert _paths(window) == jpegs_2019
    assert results.heading.text().startswith("trips/2019 · newest first · 5 photos · filtered")


def test_library_panel_selection_is_the_folder_filter(make_window, qtbot, trips: Path, photo_dir: Path) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)
    tree = window.library_panel.tree
    row = next(i for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).text(0) == "trips")
    tree.setCurrentItem(tree.topLevelItem(row))
    assert window.filters.photo_filter.folder == str(trips)
    assert window.results.filter_bar.folder_button.text() == "Folder: trips"
    qtbot.waitUntil(lambda: _browsed(window, 10), timeout=TIMEOUT_MS)
    assert all(trips in p.parents for p in _paths(window))
    assert "filtered" not in window.results.heading.text()  # browsing a library folder, as before

    # A search while a folder is selected looks in that folder only.
    assert drop(window.query_panel, file_mime(photo_dir / "705.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    assert len(_paths(window)) == 10 and all(trips in p.parents for p in _paths(window))
    assert window.results.heading.text() == "10 photos most like 705.jpg · all that pass the filters"
    assert "Filtered: in trips" in window.results.heading.toolTip()

    # All folders from the bar's menu: the panel follows, the search looks everywhere again.
    _menu_action(window.results.filter_bar.folder_menu, "All folders").trigger()
    assert tree.currentItem().text(0) == "All photos"
    qtbot.waitUntil(lambda: search_done(window) and window.results.model.rowCount() == 50, timeout=TIMEOUT_MS)
    assert Path(window.results.model.item(0).path) == photo_dir / "705.jpg"


def test_date_range_uses_the_photos_dates_taken(make_window, qtbot, library: Library, trips: Path) -> None:
    window = make_window()
    bar = window.results.filter_bar
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)
    taken = {Path(r.path): r.taken for r in library.repo.recent_photos(1000)}
    assert all(t is not None for t in taken.values())
    start = dt.datetime(2019, 6, 1).timestamp()
    end = dt.datetime(2019, 7, 1).timestamp()
    expected = {p for p, t in taken.items() if start <= t < end}
    assert expected == {trips / "2019" / p for p in os.listdir(trips / "2019")}  # the real values

    # Unticked, the date boxes offer the library's own range of dates taken.
    first, last = (dt.date.fromtimestamp(f(taken.values())) for f in (min, max))
    qtbot.waitUntil(lambda: window.filters.taken_range is not None, timeout=TIMEOUT_MS)
    assert bar.from_edit.date() == QDate(first.year, first.month, first.day)
    assert bar.to_edit.date() == QDate(last.year, last.month, last.day)
    assert not bar.from_edit.isEnabled() and not window.filters.active

    bar.from_check.setChecked(True)
    bar.from_edit.setDate(QDate(2019, 6, 1))
    bar.to_check.setChecked(True)
    bar.to_edit.setDate(QDate(2019, 6, 30))  # applies after a short pause, as when typing
    qtbot.waitUntil(lambda: _browsed(window, len(expected)) and _paths(window) == expected, timeout=TIMEOUT_MS)
    assert "taken 2019-06-01 to 2019-06-30" in window.results.heading.toolTip()

    # Only an upper bound: everything taken up to the end of 2019-06-30.
    bar.from_check.setChecked(False)
    upto = {p for p, t in taken.items() if t < end}
    qtbot.waitUntil(lambda: _browsed(window, len(upto)) and _paths(window) == upto, timeout=TIMEOUT_MS)
    assert "taken up to 2019-06-30" in window.results.heading.toolTip()


def test_nothing_passes_then_clear_restores_everything(make_window, qtbot, trips: Path, photo_dir: Path) -> None:
    window = make_window()
    bar, results = window.results.filter_bar, window.results
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: bool(window.filters.type_counts), timeout=TIMEOUT_MS)
    _menu_action(bar.type_menu, "PNG").trigger()
    bar.to_check.setChecked(True)
    bar.to_edit.setDate(QDate(2020, 1, 1))  # the PNGs were taken in 2021
    qtbot.waitUntil(lambda: _browsed(window, 0) and results._passing == 0, timeout=TIMEOUT_MS)
    empty = results.view._empty_text
    assert empty.startswith("No photos match these filters.") and "Clear filters" in empty
    assert "no photos · filtered" in results.heading.text()

    # A search that no photo passes says the same.
    assert drop(window.query_panel, file_mime(photo_dir / "705.jpg"))
    qtbot.waitUntil(lambda: results.model.mode == "search" and not results.searching, timeout=TIMEOUT_MS)
    assert results.model.rowCount() == 0
    assert results.view._empty_text.startswith("No photos match these filters.")

    # One click clears every filter: the search runs again over the whole library.
    qtbot.mouseClick(bar.clear_button, Qt.MouseButton.LeftButton)
    assert not window.filters.active and not bar.to_check.isChecked() and bar.type_button.text() == "Type: All"
    qtbot.waitUntil(lambda: search_done(window) and results.model.rowCount() == 50, timeout=TIMEOUT_MS)
    assert "filtered" not in results.heading.text()
    results.browse()
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)


def test_find_similar_and_a_new_result_count_keep_the_filter(make_window, qtbot, trips: Path, photo_dir: Path) -> None:
    window = make_window()
    results = window.results
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)
    results.filter_bar.toggle_type("png", True)
    qtbot.waitUntil(lambda: _browsed(window, 5), timeout=TIMEOUT_MS)
    query = window.library.repo.photo_by_path(str(photo_dir / "705.jpg"))
    results.find_similar(query.id, query.path)
    pngs = {trips / "2021" / p for p in os.listdir(trips / "2021")}
    qtbot.waitUntil(lambda: search_done(window) and _paths(window) == pngs, timeout=TIMEOUT_MS)
    results.count.setValue(3)  # the search runs again with the new count, still filtered
    qtbot.waitUntil(lambda: search_done(window) and results.model.rowCount() == 3, timeout=TIMEOUT_MS)
    assert _paths(window) < pngs
    assert results.heading.text() == "3 photos most like 705.jpg · filtered"


def test_escape_in_the_bar_and_ctrl_l_clear_and_tab_reaches_every_widget(make_window, qtbot, trips: Path) -> None:
    window = make_window()
    bar = window.results.filter_bar
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)
    bar.toggle_type("png", True)
    qtbot.waitUntil(lambda: _browsed(window, 5), timeout=TIMEOUT_MS)
    qtbot.keyClick(bar.type_button, Qt.Key.Key_Escape)
    assert not window.filters.active
    qtbot.waitUntil(lambda: _browsed(window, 110), timeout=TIMEOUT_MS)

    bar.toggle_type("png", True)
    window.menu_actions["Clear filters"].trigger()
    assert not window.filters.active

    chain, w = [], bar.folder_button
    for _ in range(12):
        chain.append(w)
        w = w.nextInFocusChain()
    for widget in (bar.folder_button, bar.from_check, bar.to_check, bar.type_button, bar.clear_button):
        assert widget in chain and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        assert widget.accessibleName() or widget.text()
        assert widget.toolTip()


def test_find_duplicates_honours_the_filter(make_window, qtbot, library: Library, tmp_path: Path, corel_dir: Path) -> None:
    folder = (tmp_path / "dups").resolve()
    for sub, name in (("a", "750.jpg"), ("b", "150.jpg")):
        (folder / sub).mkdir(parents=True)
        shutil.copy2(corel_dir / "images" / name, folder / sub / name)
        with Image.open(folder / sub / name) as im:
            im.save(folder / sub / f"copy_{name}", quality=80)  # recompressed
    library.add_folder(folder)
    library.run_index()

    window = make_window()
    window.filters.set_folder(str(folder / "b"))
    window.menu_actions["Find duplicates"].trigger()
    view = window.duplicates_view
    qtbot.waitUntil(lambda: view.progress.isHidden(), timeout=TIMEOUT_MS)
    assert [{Path(p.path) for p in g.photos} for g in view.groups] == [
        {folder / "b" / "150.jpg", folder / "b" / "copy_150.jpg"}
    ]
    assert "among the photos that pass the filters (in dups/b)" in view.status.text()
    assert view.filter_bar.folder_button.text() == "Folder: dups/b"

    # Cleared from the duplicates view's own bar: it looks again in the whole library.
    view.filter_bar.clear_button.click()
    qtbot.waitUntil(
        lambda: view.progress.isHidden() and sum(Path(g.keep.path).is_relative_to(folder) for g in view.groups) == 2,
        timeout=TIMEOUT_MS,
    )
    assert "pass the filters" not in view.status.text()
    assert not window.results.filter_bar.clear_button.isEnabled()  # one filter, both bars
