"""The Search > Ranking menu: each ranking stage on or off, remembered across sessions.

The stages are the core's ``RankingSettings`` (``core/search/ranking.py``); the defaults are the
measured best combination, and a user can switch any stage off (or go back to plain cosine)
without a command line. The choice is stored in QSettings and applies to the shown results at
once (the current query runs again).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from photofind.core.search.ranking import RankingSettings

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

    from photofind.gui.main_window import MainWindow

#: (RankingSettings field, menu text, tip)
STAGES = (
    ("pca", "Library-learned &PCA", "Compare photos along the directions that differ most in your library"),
    ("dba", "&Neighbour augmentation (DBA)", "Each photo is described together with its closest photos"),
    ("query_expansion", "&Query expansion", "Search again with the query plus its best matches"),
    ("diffusion", "&Diffusion re-ranking (slower)", "Re-rank the top 300 along the library's clusters"),
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


def build_ranking_menu(window: MainWindow, parent: QMenu) -> QMenu:
    """Add the Ranking submenu to ``parent`` and apply the stored choice to the library."""
    menu = parent.addMenu("&Ranking")
    current = load_ranking(window.settings)
    window.library.ranking = current
    actions: dict[str, QAction] = {}

    def changed() -> None:
        chosen = dataclasses.replace(
            window.library.ranking, **{f: a.isChecked() for f, a in actions.items()}
        )
        window.library.ranking = chosen  # read by the query worker's next search
        for f in actions:
            window.settings.setValue(SETTINGS_KEY + f, getattr(chosen, f))
        rerun = getattr(window, "_rerun", None)
        if rerun is not None and getattr(window, "_query", None):
            rerun.start()

    for field, text, tip in STAGES:
        action = QAction(text, window)
        action.setCheckable(True)
        action.setChecked(getattr(current, field))
        action.setStatusTip(tip)
        action.toggled.connect(lambda _on: changed())
        menu.addAction(action)
        actions[field] = action
    menu.addSeparator()

    def set_all(settings: RankingSettings) -> None:
        for f, a in actions.items():
            a.blockSignals(True)
            a.setChecked(getattr(settings, f))
            a.blockSignals(False)
        changed()

    plain = QAction("Plain &cosine (all off)", window)
    plain.triggered.connect(lambda _c=False: set_all(RankingSettings.plain()))
    menu.addAction(plain)
    reset = QAction("&Recommended (default)", window)
    reset.triggered.connect(lambda _c=False: set_all(RankingSettings()))
    menu.addAction(reset)
    window.ranking_actions = actions  # for tests and keyboard users' discoverability
    return menu
