"""Library > Find duplicates: the near-duplicate groups of the library, the photo to keep of each
marked, and moving the others to the desktop's trash after a confirmation that lists them.

Finding runs on the job runner's ``query`` queue (read-only, with progress); the trash move on
the ``index`` queue, the library's writer (``Library.trash_duplicates``: ``send2trash``, then the
library forgets the moved photos). Groups are shown a page at a time (about ``PAGE_ROWS`` photos, thumbnails
only for those), so the view stays quick on a 100k library. The user changes a group's keeper
by ticking another photo; Open and Reveal act on the selected photo.

The session's filter (``filters.FilterState``, shared with the results pane) applies: only photos
that pass it are grouped; the view shows the same filter bar, and a change looks again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photofind.core.library import Library
from photofind.core.search.duplicates import DuplicateGroup, DuplicatePhoto
from photofind.gui import photo_actions
from photofind.gui.filters import FilterBar, FilterState
from photofind.gui.jobs import JobRunner
from photofind.gui.results.thumbs import ThumbnailLoader, placeholder

logger = logging.getLogger(__name__)

#: A page of groups holds about this many photos (at least one group): each row is a widget item
#: with a thumbnail, so a page of 100 groups of 100 burst shots (10,000 rows) froze the window
#: for 6 s in bench/gui_duplicates.py on a 100k library; 200 rows take a fraction of a second.
PAGE_ROWS = 200
ICON = 96
_PHOTO = Qt.ItemDataRole.UserRole
COLUMNS = ("Keep", "Photo", "Resolution", "Size", "Taken", "Similarity", "Folder")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _taken(p: DuplicatePhoto) -> str:
    return "" if p.taken is None else dt.datetime.fromtimestamp(p.taken).strftime("%Y-%m-%d %H:%M")


class DuplicatesView(QDialog):
    """The duplicates window (see module docstring); ``library_changed`` after a trash move."""

    library_changed = Signal()

    def __init__(
        self, library: Library, jobs: JobRunner, parent: QWidget | None = None,
        filters: FilterState | None = None,
    ) -> None:
        super().__init__(parent)
        self.filters = filters if filters is not None else FilterState(library, jobs, self)
        self.filter_bar = FilterBar(self.filters)
        self.filter_bar.notice.connect(lambda text: self.status.setText(text))
        self.filters.changed.connect(self._filter_changed)
        self.setWindowTitle("Duplicates — photofind")
        self.resize(1000, 700)
        self.library = library
        self.jobs = jobs
        self.groups: list[DuplicateGroup] = []
        self.keepers: dict[int, int] = {}  # group index -> photo id to keep
        self.shown = 0
        self.thumbs = ThumbnailLoader(jobs, library.paths.thumbnails_dir, ICON)
        self.thumbs.ready.connect(self._thumb_ready)
        self._items_by_path: dict[str, QTreeWidgetItem] = {}

        self.status = QLabel("Looking for duplicates…")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setIconSize(QSize(ICON, ICON))
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._open(item))
        self.more = QPushButton("Show more groups")
        self.more.clicked.connect(self._show_page)
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(lambda: self._open(self.tree.currentItem()))
        self.reveal_button = QPushButton("Reveal in folder")
        self.reveal_button.clicked.connect(self._reveal)
        self.trash_button = QPushButton("Move others to trash…")
        self.trash_button.clicked.connect(self.confirm_trash)
        self.again_button = QPushButton("Find again")
        self.again_button.clicked.connect(self.find)

        buttons = QHBoxLayout()
        for b in (self.open_button, self.reveal_button, self.more):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.again_button)
        buttons.addWidget(self.trash_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        #: Tests replace these to answer the confirmation and see the report.
        self.ask: Callable[[str, str], bool] = self._ask
        self.tell: Callable[[str, str], None] = self._tell

    # ------------------------------------------------------------------ finding
    def find(self) -> None:
        self.status.setText("Looking for duplicates…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self._set_busy(True)
        library, only = self.library, self.filters.photo_filter
        self.jobs.run(
            "query",
            lambda cancel, progress: library.find_duplicates(
                photo_filter=only if only.active else None,
                progress=lambda d, t: progress((d, t)), cancel=cancel,
            ),
            self._found, self._failed, self._progress, key="duplicates",
        )

    def _filter_changed(self, _photo_filter: object) -> None:
        if self.isVisible():
            self.find()  # latest wins: the search for the old filter never answers

    def _progress(self, value: tuple[int, int]) -> None:
        done, total = value
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _failed(self, exc: BaseException) -> None:
        logger.error("Finding duplicates failed", exc_info=exc)
        self.progress.hide()
        self._set_busy(False)
        self.status.setText(f"Finding duplicates failed: {exc}")

    def _found(self, groups: list[DuplicateGroup]) -> None:
        self.progress.hide()
        self._set_busy(False)
        self.groups = groups
        self.keepers = {i: g.keep.photo_id for i, g in enumerate(groups)}
        self.shown = 0
        self.tree.clear()
        self._items_by_path.clear()
        self._show_page()
        self._update_status()

    def _update_status(self) -> None:
        described = self.filters.describe() if self.filters.active else ""
        among = f" among the photos that pass the filters ({described})" if described else ""
        if not self.groups:
            self.status.setText(
                f"No duplicates found{among}."
                + (" Clear filters to look in the whole library." if described else "")
            )
            return
        others = sum(len(g.others) for g in self.groups)
        spare = sum(p.size for g in self.groups for p in g.others)
        self.status.setText(
            f"{len(self.groups)} groups{among}; {others} photos ({_size(spare)}) could go to the "
            "trash, keeping the ticked photo of each group. Nothing changes until you move them."
        )

    def _show_page(self) -> None:
        self.tree.blockSignals(True)
        first_page = self.shown == 0
        end, rows = self.shown, 0
        while end < len(self.groups) and (rows == 0 or rows + len(self.groups[end].photos) <= PAGE_ROWS):
            rows += len(self.groups[end].photos)
            end += 1
        for i in range(self.shown, end):
            g = self.groups[i]
            top = QTreeWidgetItem([f"Group {i + 1}", f"{len(g.photos)} photos"])
            top.setFirstColumnSpanned(False)
            self.tree.addTopLevelItem(top)
            for p in g.photos:
                top.addChild(self._photo_item(i, p))
            top.setExpanded(True)
        self.shown = end
        self.tree.blockSignals(False)
        self.more.setVisible(self.shown < len(self.groups))
        if first_page:  # sizing columns reads every row: once, not again for each page
            for c in range(len(COLUMNS)):
                self.tree.resizeColumnToContents(c)

    def _photo_item(self, group: int, p: DuplicatePhoto) -> QTreeWidgetItem:
        item = QTreeWidgetItem([
            "", os.path.basename(p.path), f"{p.width or '?'} × {p.height or '?'}", _size(p.size),
            _taken(p), f"{p.similarity:.3f}", os.path.dirname(p.path),
        ])
        item.setData(0, _PHOTO, (group, p.photo_id, p.path))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        keep = self.keepers[group] == p.photo_id
        item.setCheckState(0, Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)
        pixmap = self.thumbs.pixmap(p.path)
        item.setIcon(1, pixmap if pixmap is not None else placeholder(ICON))
        self._items_by_path[p.path] = item
        return item

    def _thumb_ready(self, path: str) -> None:
        item = self._items_by_path.get(path)
        if item is not None:
            pixmap = self.thumbs.pixmap(path)
            item.setIcon(1, pixmap if pixmap is not None else placeholder(ICON, broken=True))

    # ------------------------------------------------------------------ the keeper
    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        data = item.data(0, _PHOTO)
        if column != 0 or data is None:
            return
        group, photo_id, _ = data
        if item.checkState(0) == Qt.CheckState.Checked:
            self.set_keeper(group, photo_id)
        elif self.keepers.get(group) == photo_id:  # one photo of each group is always kept
            self.tree.blockSignals(True)
            item.setCheckState(0, Qt.CheckState.Checked)
            self.tree.blockSignals(False)

    def set_keeper(self, group: int, photo_id: int) -> None:
        """Keep ``photo_id`` of group ``group`` (index in ``groups``) instead."""
        self.keepers[group] = photo_id
        top = self.tree.topLevelItem(group)
        if top is None:
            return
        self.tree.blockSignals(True)
        for j in range(top.childCount()):
            child = top.child(j)
            keep = child.data(0, _PHOTO)[1] == photo_id
            child.setCheckState(0, Qt.CheckState.Checked if keep else Qt.CheckState.Unchecked)
        self.tree.blockSignals(False)

    def chosen_groups(self) -> list[DuplicateGroup]:
        return [g.with_keeper(self.keepers[i]) for i, g in enumerate(self.groups)]

    # ------------------------------------------------------------------ actions
    def _selected_path(self, item: QTreeWidgetItem | None) -> str | None:
        data = None if item is None else item.data(0, _PHOTO)
        return None if data is None else data[2]

    def _open(self, item: QTreeWidgetItem | None) -> None:
        path = self._selected_path(item)
        if path is not None:
            photo_actions.open_photo(path)

    def _reveal(self) -> None:
        path = self._selected_path(self.tree.currentItem())
        if path is not None:
            photo_actions.reveal_in_folder(path)

    def confirm_trash(self) -> None:
        groups = self.chosen_groups()
        others = [p for g in groups for p in g.others]
        if not others:
            return
        listing = "\n".join(p.path for p in others)
        question = (
            f"Move {len(others)} photos ({_size(sum(p.size for p in others))}) to the trash? "
            f"The ticked photo of each of the {len(groups)} groups stays. You can restore them "
            "from the trash."
        )
        if not self.ask(question, listing):
            return
        if self.library.read_only:
            self.tell("Cannot move photos", "The library can only be read.")
            return
        self._set_busy(True)
        self.status.setText(f"Moving {len(others)} photos to the trash…")
        library = self.library
        self.jobs.run(
            "index", lambda _c, _p: library.trash_duplicates(groups, lock_timeout=30),
            self._trashed, self._failed,
        )

    def _trashed(self, report) -> None:  # type: ignore[no-untyped-def]
        self._set_busy(False)
        self.library_changed.emit()
        text = f"Moved {len(report.moved)} photos ({_size(report.bytes_moved)}) to the trash."
        if report.failed:
            text += f"\n\n{len(report.failed)} photos stay where they are:\n" + "\n".join(
                f"{path}: {reason}" for path, reason in report.failed[:20]
            )
        self.tell("Duplicates", text)
        self.find()

    def _set_busy(self, busy: bool) -> None:
        for b in (self.trash_button, self.again_button):
            b.setEnabled(not busy)

    def _ask(self, question: str, listing: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Move to trash", question,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDetailedText(listing)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _tell(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)
