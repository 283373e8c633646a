"""The library half of the main window: folders, index runs, the watcher, skipped files.

``LibraryActions`` is mixed into ``MainWindow``; it expects the window's ``library``,
``index_worker``, ``query_worker``, ``folder_panel``, ``index_status``, ``view`` and status
bar, and keeps the folder list, the progress display and the folder watcher in step with
what the index worker reports.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt

from photofind.core.indexing.indexer import IndexReport, Progress
from photofind.gui.skipped_dialog import SkippedDialog
from photofind.gui.worker import ALL

READ_ONLY_NOTICE = (
    "This library can only be read (its folder is read-only or the disk is full): searching "
    "works, but adding folders and indexing are off."
)

logger = logging.getLogger(__name__)

try:
    from photofind.core.watcher import FolderWatcher
except ImportError:  # pragma: no cover - only while the core watcher is missing
    FolderWatcher = None  # type: ignore[assignment,misc]


class LibraryActions:
    """Folder and indexing behaviour of the main window (see module docstring)."""

    def _connect_index_worker(self) -> None:
        iw = self.index_worker
        iw.progress.connect(self._index_progress)
        iw.started_run.connect(self.folder_panel.set_indexing)
        iw.upgrading.connect(self._announce_upgrade)
        iw.finished_run.connect(self._index_finished)
        iw.queue_changed.connect(self.folder_panel.set_queued)
        iw.library_changed.connect(self._library_changed)
        # Only bound methods of GUI-thread objects here: a lambda has no thread affinity, so Qt
        # would call it on the worker's thread.
        iw.folder_added.connect(self._folder_added)
        iw.folder_removed.connect(self._folder_removed)
        iw.error.connect(self.show_error)
        # set_paused is thread-safe and must act while the worker thread is busy indexing, so
        # it is called directly rather than queued to the (busy) worker thread.
        self.index_status.pause_toggled.connect(
            iw.set_paused, Qt.ConnectionType.DirectConnection
        )
        self.index_status.cancel_clicked.connect(self.cancel_indexing)

    def _refuse_if_read_only(self) -> bool:
        if self.library.read_only:
            self.show_error(READ_ONLY_NOTICE)
            return True
        return False

    def add_folder(self, path: str) -> None:
        if not self._refuse_if_read_only():
            self.index_worker.add_folder(path)

    def remove_folder(self, path: str) -> None:
        if not self._refuse_if_read_only():
            self.index_worker.remove_folder(path)

    def rescan(self) -> None:
        if self._refuse_if_read_only():
            return
        self.index_worker.request_index(ALL)
        self.statusBar().showMessage("Rescanning the library folders…", 5000)

    def cancel_indexing(self) -> None:
        self.index_worker.cancel()
        self.statusBar().showMessage(
            "Stopping after the current batch; indexed photos are kept.", 8000
        )

    def show_skipped(self) -> None:
        if self._skipped_dialog is None:
            self._skipped_dialog = SkippedDialog(self)
        self._skipped_dialog.show()
        self._skipped_dialog.raise_()
        self.query_worker.load_skipped()

    def _announce_upgrade(self, backlog: int) -> None:
        self.statusBar().showMessage(
            f"Upgrading the library to the improved image descriptor: {backlog} photos to "
            "re-embed. Searches use the previous one until it is done.",
            30_000,
        )

    def _folder_added(self, path: str) -> None:
        self.statusBar().showMessage(f"Added {path}; indexing it…", 8000)

    def _folder_removed(self, path: str, n: int) -> None:
        self.statusBar().showMessage(
            f"Removed {path} from the library ({n} photos forgotten; files untouched)",
            8000,
        )

    def _skipped_loaded(self, rows: list) -> None:  # type: ignore[type-arg]
        if self._skipped_dialog is not None:
            self._skipped_dialog.set_rows(rows)

    def _index_progress(self, progress: Progress) -> None:
        if progress.phase == "done":
            return
        self.index_status.show_progress(progress)
        if progress.phase == "embedding" and not self._live_refresh.isActive():
            self._live_refresh.start()

    def _refresh_during_run(self) -> None:
        """New photos show up while a long run is going (counts; the grid if not scrolled)."""
        self.query_worker.load_folders()
        if (
            self._query is None
            and self.view.verticalScrollBar().value() == 0
            and not self.view.selectionModel().hasSelection()
        ):
            self._gen = self.query_worker.browse(self._folder_id)

    def _index_finished(self, report: IndexReport) -> None:
        self._live_refresh.stop()
        self.index_status.finish()
        self.folder_panel.set_indexing(None)
        changed = (
            report.added
            + report.updated
            + report.removed
            + report.moved
            + report.copied
        )
        parts = []
        if report.cancelled:
            parts.append("Indexing stopped")
        elif changed or report.skipped:
            parts.append(
                f"Indexed: {report.added} added, {report.updated} updated, {report.removed} removed"
            )
        if report.skipped:
            parts.append(f"{len(report.skipped)} skipped (Library → Skipped files)")
        if report.offline_folders:
            parts.append(
                f"{len(report.offline_folders)} folder(s) offline, photos kept"
            )
        if parts:
            self.statusBar().showMessage(" · ".join(parts), 10_000)

    def _library_changed(self) -> None:
        self.query_worker.load_folders()
        if self._query is None and not self.index_worker.is_busy():
            self.browse()

    def _folders_loaded(self, rows: list) -> None:  # type: ignore[type-arg]
        self.folder_panel.set_folders(rows)
        photos = sum(r.photo_count - r.skipped_count for r in rows)
        offline = sum(1 for r in rows if not r.online)
        self.library_label.setText(
            f"{photos:,} photos in {len(rows)} folder{'s' if len(rows) != 1 else ''}"
            + (f" ({offline} offline)" if offline else "")
        )
        self._update_heading()
        self._sync_watcher([r.path for r in rows])

    def _sync_watcher(self, paths: list[str]) -> None:
        if not self._watch or self._closing:
            return
        if self._watcher is None:
            self._watcher = FolderWatcher(
                paths,
                self.index_worker.request_index,  # thread-safe; called on the watcher's thread
                self._watch_debounce_s,
                ignore=[self.library.paths.data_dir],
            )
            self._watcher.start()
        else:
            self._watcher.set_paths(paths)

    # ------------------------------------------------------------------ notices


def watching_available() -> bool:
    return FolderWatcher is not None
