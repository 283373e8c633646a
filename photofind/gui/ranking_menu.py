"""The Search > Ranking menu: each ranking stage on or off, remembered across sessions.

The stages are the core's ``RankingSettings`` (``core/search/ranking.py``); the defaults are the
measured best combination, and a user can switch any stage off (or go back to plain cosine)
without a command line. The choice is stored in QSettings and applies to the shown results at
once (the current query runs again).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from photofind.core.search.ranking import RankingSettings

if TYPE_CHECKING:
    from photofind.gui.main_window import MainWindow

#: (RankingSettings field, menu text, tip)
STAGES = (
    ("pca", "Library-learned &PCA", "Compare photos along the directions that differ most in your library"),
    ("dba", "&Neighbour augmentation (DBA)", "Each photo is described together with its closest photos"),
    ("query_expansion", "&Query expansion", "Search again with the query plus its best matches"),
    ("diffusion", "&Diffusion re-ranking (slower)", "Re-rank the top 300 along the library's clusters"),
    ("rotations", "Find &sideways copies", "Also search with the photo turned by 90, 180 and 270 degrees"),
    (
        "edit_copies", "Find the &original of an edited copy",
        "For a photo file: list first the library photo it was cropped, shrunk, recompressed or recoloured from",
    ),
)
SETTINGS_KEY = "ranking/"


def load_ranking(settings: QSettings) -> RankingSettings:
    """The stages stored in ``settings``; missing keys take the app's defaults."""
    default = RankingSettings()
    values = {}
    for field, _text, _tip in STAGES:
        stored = settings.value(SETTINGS_KEY + field)
        values[field] = getattr(default, field) if stored is None else str(stored).lower() in ("true", "1")
    return dataclasses.replace(default, **values)


class RankingMenu(QMenu):
    """Search > Ranking: a check box per stage, plain cosine, the recommended default.

    Owns the choice: starts from ``settings``, stores every change there and emits ``changed``.
    """

    changed = Signal(object)  # RankingSettings

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__("&Ranking", parent)
        self._settings = settings
        self.current = load_ranking(settings)
        #: field -> checkable action (for tests and keyboard users' discoverability)
        self.stage_actions: dict[str, QAction] = {}
        for field, text, tip in STAGES:
            action = QAction(text, self)
            action.setCheckable(True)
            action.setChecked(getattr(self.current, field))
            action.setStatusTip(tip)
            action.toggled.connect(lambda _on: self._changed())
            self.addAction(action)
            self.stage_actions[field] = action
        self.addSeparator()
        self.plain_action = QAction("Plain &cosine (all off)", self)
        self.plain_action.triggered.connect(lambda _c=False: self._set_all(RankingSettings.plain()))
        self.addAction(self.plain_action)
        self.default_action = QAction("&Recommended (default)", self)
        self.default_action.triggered.connect(lambda _c=False: self._set_all(RankingSettings()))
        self.addAction(self.default_action)

    def _changed(self) -> None:
        chosen = dataclasses.replace(
            self.current, **{f: a.isChecked() for f, a in self.stage_actions.items()}
        )
        self.current = chosen
        for f in self.stage_actions:
            self._settings.setValue(SETTINGS_KEY + f, getattr(chosen, f))
        self.changed.emit(chosen)

    def _set_all(self, settings: RankingSettings) -> None:
        self.current = settings  # also the switches the menu has no box for (e.g. copy-first)
        for f, a in self.stage_actions.items():
            a.blockSignals(True)
            a.setChecked(getattr(settings, f))
            a.blockSignals(False)
        self._changed()


def build_ranking_menu(window: MainWindow, parent: QMenu) -> QMenu:
    """Add the Ranking submenu to ``parent``; the window follows its choice."""
    menu = RankingMenu(window.settings, window)
    parent.addMenu(menu)
    window.ranking_menu = menu
    window.set_ranking(menu.current)
    menu.changed.connect(window.set_ranking)
    return menu
