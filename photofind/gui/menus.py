"""The main window's menus: the menu bar and the About box.

Only construction lives here; every action calls a method of one of the window's parts (the
query panel's ``open_images`` and ``paste``, the results pane's ``browse`` ...) or of the window
(``rescan``, ``show_skipped``). The actions are kept in ``window.menu_actions`` by their text
(without ``&`` and ``…``), so tests and the benches trigger them as a user would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from photofind import __version__
from photofind.gui.duplicates import show_duplicates
from photofind.gui.help_menu import add_log_folder_action
from photofind.gui.ranking_menu import build_ranking_menu

if TYPE_CHECKING:
    from photofind.gui.main_window import MainWindow


def build_menu_bar(window: MainWindow) -> None:
    """File, Library and Help menus, with the platform's standard shortcuts."""
    file_menu = window.menuBar().addMenu("&File")
    window.menu_actions = {}
    _action(
        window, file_menu, "&Open image…", window.query_panel.open_images,
        QKeySequence.StandardKey.Open,
    )
    _action(
        window, file_menu, "&Paste image", window.query_panel.paste, QKeySequence.StandardKey.Paste
    )
    file_menu.addSeparator()
    _action(window, file_menu, "&Add folder…", window.library_panel.choose_folder)
    file_menu.addSeparator()
    _action(window, file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    lib_menu = window.menuBar().addMenu("&Library")
    _action(window, lib_menu, "Show &library", window.escape, QKeySequence("Esc"))
    _action(
        window, lib_menu, "&Rescan folders", window.rescan, QKeySequence.StandardKey.Refresh
    )
    _action(window, lib_menu, "&Skipped files…", window.show_skipped)
    _action(window, lib_menu, "Find &duplicates…", lambda: show_duplicates(window))
    _action(window, lib_menu, "&Clear filters", window.filters.clear, QKeySequence("Ctrl+L"))
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
    window.menu_actions[text.replace("&", "").rstrip("…")] = action
    return action


def show_about(window: MainWindow) -> None:
    QMessageBox.about(
        window,
        "About photofind",
        f"<b>photofind {__version__}</b><p>Find photos in your own collection by example.</p>"
        f"<p>Library: {window.library.paths.data_dir}</p>",
    )
