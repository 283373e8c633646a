"""The main window's menus: the menu bar, a photo's right-click menu, and the About box.

Only construction lives here; every action calls a method of the window (``open_images``,
``paste``, ``browse``, ``rescan``, ``find_similar`` …), which does the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from photofind import __version__
from photofind.gui import photo_actions
from photofind.gui.help_menu import add_log_folder_action
from photofind.gui.ranking_menu import build_ranking_menu
from photofind.gui.results_model import PathRole, PhotoIdRole

if TYPE_CHECKING:
    from photofind.gui.main_window import MainWindow


def build_menu_bar(window: MainWindow) -> None:
    """File, Library and Help menus, with the platform's standard shortcuts."""
    file_menu = window.menuBar().addMenu("&File")
    _action(
        window, file_menu, "&Open image…", window.open_images, QKeySequence.StandardKey.Open
    )
    _action(
        window, file_menu, "&Paste image", window.paste, QKeySequence.StandardKey.Paste
    )
    file_menu.addSeparator()
    _action(window, file_menu, "&Add folder…", window.folder_panel.choose_folder)
    file_menu.addSeparator()
    _action(window, file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    lib_menu = window.menuBar().addMenu("&Library")
    _action(window, lib_menu, "Show &library", window.browse, QKeySequence("Esc"))
    _action(
        window, lib_menu, "&Rescan folders", window.rescan, QKeySequence.StandardKey.Refresh
    )
    _action(window, lib_menu, "&Skipped files…", window.show_skipped)
    build_ranking_menu(window, window.menuBar().addMenu("&Search"))
    help_menu = window.menuBar().addMenu("&Help")
    add_log_folder_action(help_menu, window.library.paths.logs_dir, window)
    _action(window, help_menu, "&About photofind", lambda: show_about(window))


def _action(window: MainWindow, menu: QMenu, text: str, slot, shortcut=None) -> QAction:  # type: ignore[no-untyped-def]
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(shortcut)
    action.triggered.connect(lambda _checked=False: slot())
    menu.addAction(action)
    return action


def show_photo_menu(window: MainWindow, pos: QPoint) -> None:
    """The right-click menu of the photo at ``pos`` in the results view (if there is one)."""
    index = window.view.indexAt(pos)
    if not index.isValid():
        return
    path, photo_id = index.data(PathRole), index.data(PhotoIdRole)
    selected = [
        i.data(PathRole) for i in window.view.selectionModel().selectedIndexes()
    ] or [path]
    menu = QMenu(window)
    menu.addAction("Open", lambda: window.open_photo(path))
    menu.addAction("Reveal in folder", lambda: photo_actions.reveal_in_folder(path))
    menu.addAction(
        "Copy path" if len(selected) == 1 else f"Copy {len(selected)} paths",
        lambda: photo_actions.copy_path(selected if path in selected else [path]),
    )
    menu.addSeparator()
    menu.addAction("Find similar", lambda: window.find_similar(photo_id, path))
    menu.exec(window.view.viewport().mapToGlobal(pos))


def show_about(window: MainWindow) -> None:
    QMessageBox.about(
        window,
        "About photofind",
        f"<b>photofind {__version__}</b><p>Find photos in your own collection by example.</p>"
        f"<p>Library: {window.library.paths.data_dir}</p>",
    )
