"""The library panel: the library's folders with their state, and the buttons to change them.

The panel owns the folder list: it reads it on the job runner's ``query`` queue (``reload``) and
shows what the index service reports (``set_indexing``/``set_queued``/``index_progress``). It
asks for changes through signals (``add_requested``...), so it never writes the library. The
folder selected (or the whole library) goes out as a ``FolderScope``: it is the filter bar's
folder filter, and ``show_folder`` follows a folder chosen in the bar. While a long run embeds
photos the panel re-reads the counts every few seconds and says so (``photos_arrived``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photofind.core.indexing.indexer import Progress
from photofind.core.library import Library
from photofind.gui.jobs import JobRunner
from photofind.store.repository import FolderRow

ALL_ID = -1
#: While an index run embeds, the folder counts (and the browse view) refresh this often.
LIVE_REFRESH_MS = 3000
_ID_ROLE = Qt.ItemDataRole.UserRole + 1
_PATH_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class FolderScope:
    """What the browse view shows: one folder or the whole library, and how many photos."""

    folder_id: int | None  # None: every folder
    name: str
    photos: int
    library_empty: bool
    path: str | None = None  # the folder's path (None: every folder)


class LibraryPanel(QWidget):
    """Folders (online/offline, photo count, indexing state); add, remove, rescan."""

    add_requested = Signal(str)
    remove_requested = Signal(str)
    rescan_requested = Signal()
    scope_changed = Signal(object)  # FolderScope
    folders_loaded = Signal(list)  # [FolderRow], after every reload
    photos_arrived = Signal()  # a running index run added photos (live refresh)
    failed = Signal(str)  # message for the user

    def __init__(self, library: Library, jobs: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._jobs = jobs
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_REFRESH_MS)
        self._live.timeout.connect(self._live_refresh)
        self._rows: list[FolderRow] = []
        self._indexing: set[str] | None = None  # None: idle; empty: all folders
        self._queued: set[str] = set()
        self._selected_id: int | None = None

        title = QLabel("Library")
        title.setStyleSheet("font-weight: bold;")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Folder", "Photos", "State"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._selection)

        style = self.style()
        self.add_button = QPushButton(
            style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon), "Add…"
        )
        self.add_button.setToolTip(
            "Add a folder of photos to the library (or drop a folder on the window)"
        )
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip(
            "Forget the selected folder's photos (the files are not touched)"
        )
        self.rescan_button = QPushButton(
            style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Rescan"
        )
        self.rescan_button.setToolTip(
            "Look for new, changed and removed photos in every folder"
        )
        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self.confirm_remove)
        self.rescan_button.clicked.connect(self.rescan_requested)
        self.remove_button.setEnabled(False)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.rescan_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ state in
    def reload(self) -> None:
        """Read the folder list again (on the query queue)."""
        library = self._library
        self._jobs.run(
            "query", lambda _cancel, _progress: library.repo.folders(), self.set_folders,
            self._load_failed, key="folders",
        )

    def _load_failed(self, exc: BaseException) -> None:
        self.failed.emit(f"Cannot read the library: {exc}")

    def set_folders(self, rows: list[FolderRow]) -> None:
        self._rows = list(rows)
        self._rebuild()
        self.folders_loaded.emit(self.folders)
        self.scope_changed.emit(self.scope())

    def set_indexing(self, paths: list[str] | None) -> None:
        """Folders being indexed now ([] = all of them, None = nothing running)."""
        self._indexing = None if paths is None else set(paths)
        if paths is None:
            self._live.stop()
        self._refresh_states()

    def index_progress(self, progress: Progress) -> None:
        if progress.phase == "embedding" and not self._live.isActive():
            self._live.start()

    def _live_refresh(self) -> None:
        self.reload()
        self.photos_arrived.emit()

    def set_queued(self, paths: list[str]) -> None:
        self._queued = set(paths)
        self._refresh_states()

    @property
    def folders(self) -> list[FolderRow]:
        return list(self._rows)

    def selected_folder(self) -> FolderRow | None:
        for row in self._rows:
            if row.id == self._selected_id:
                return row
        return None

    def scope(self) -> FolderScope:
        folder = self.selected_folder()
        if folder is not None:
            return FolderScope(
                folder.id, os.path.basename(folder.path) or folder.path,
                folder.photo_count - folder.skipped_count, False, folder.path,
            )
        photos = sum(r.photo_count - r.skipped_count for r in self._rows)
        return FolderScope(None, "All photos", photos, not self._rows)

    def show_folder(self, path: str | None) -> None:
        """Select the library folder that holds ``path`` (the filter bar's folder), or All
        photos; a real change of selection goes out as ``scope_changed``."""
        root = next(
            (r for r in self._rows if path is not None
             and (path == r.path or path.startswith(os.path.join(r.path, "")))),
            None,
        )
        wanted = ALL_ID if root is None else root.id
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, _ID_ROLE) == wanted:
                if self.tree.currentItem() is not item:
                    self.tree.setCurrentItem(item)
                return

    # ------------------------------------------------------------------ actions
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Add a folder of photos", os.path.expanduser("~")
        )
        if path:
            self.add_requested.emit(path)

    def confirm_remove(self) -> None:
        row = self.selected_folder()
        if row is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove folder",
            f"Remove {row.path} from the library?\n\n"
            f"Its {row.photo_count} photos leave the library. The files themselves are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_requested.emit(row.path)

    # ------------------------------------------------------------------ display
    def _rebuild(self) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        total = sum(r.photo_count - r.skipped_count for r in self._rows)
        everything = QTreeWidgetItem(["All photos", str(total), ""])
        everything.setData(0, _ID_ROLE, ALL_ID)
        everything.setIcon(
            0, self.style().standardIcon(QStyle.StandardPixmap.SP_DirHomeIcon)
        )
        self.tree.addTopLevelItem(everything)
        selected = everything
        for row in self._rows:
            item = QTreeWidgetItem(
                [
                    os.path.basename(row.path) or row.path,
                    str(row.photo_count - row.skipped_count),
                    "",
                ]
            )
            item.setData(0, _ID_ROLE, row.id)
            item.setData(0, _PATH_ROLE, row.path)
            item.setTextAlignment(
                1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
            self.tree.addTopLevelItem(item)
            if row.id == self._selected_id:
                selected = item
        everything.setTextAlignment(
            1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.tree.setCurrentItem(selected)
        self.tree.blockSignals(False)
        if selected is everything and self._selected_id is not None:
            self._selected_id = None  # the selected folder went away
        self.remove_button.setEnabled(self._selected_id is not None)
        self._refresh_states()

    def _refresh_states(self) -> None:
        by_id = {r.id: r for r in self._rows}
        style = self.style()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            row = by_id.get(item.data(0, _ID_ROLE))
            if row is None:
                item.setText(2, "indexing…" if self._indexing == set() else "")
                continue
            state, tip = self._state(row)
            item.setText(2, state)
            icon = (
                QStyle.StandardPixmap.SP_DirIcon
                if row.online
                else QStyle.StandardPixmap.SP_DriveNetIcon
            )
            item.setIcon(0, style.standardIcon(icon))
            item.setToolTip(0, row.path + tip)
            item.setToolTip(2, tip.strip() or state)
            item.setDisabled(False)
            item.setForeground(
                0,
                self.palette().brush(
                    self.palette().ColorRole.PlaceholderText
                    if not row.online
                    else self.palette().ColorRole.Text
                ),
            )

    def _state(self, row: FolderRow) -> tuple[str, str]:
        tip = ""
        if row.skipped_count:
            tip += f"\n{row.skipped_count} files skipped (Library → Skipped files)"
        if row.last_scan_at:
            tip += f"\nlast scanned {time.strftime('%Y-%m-%d %H:%M', time.localtime(row.last_scan_at))}"
        if self._indexing is not None and (
            not self._indexing or row.path in self._indexing
        ):
            return "indexing…", tip
        if "*" in self._queued or row.path in self._queued:
            return "queued", tip
        if not row.online:
            return (
                "offline",
                f"\n{row.last_error or 'folder not reachable'}; its photos are kept"
                + tip,
            )
        if row.last_scan_at is None:
            return "not indexed", tip
        return "online", tip

    def _selection(self) -> None:
        items = self.tree.selectedItems()
        folder_id = items[0].data(0, _ID_ROLE) if items else ALL_ID
        new = None if folder_id in (ALL_ID, None) else int(folder_id)
        self.remove_button.setEnabled(new is not None)
        if new != self._selected_id:
            self._selected_id = new
            self.scope_changed.emit(self.scope())
