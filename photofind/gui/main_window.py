"""The main window: library panel | query panel | results grid, with indexing in the status bar.

The window owns two worker threads: the index worker (the one library writer: index runs,
adding and removing folders) and the query worker (searches, browsing, folder and skipped-file
lists). The GUI thread only sends requests and shows what comes back; it never decodes, embeds,
saves the index or reads many rows. Folder changes on disk reach the index worker through the
core's ``FolderWatcher``.

This module builds the window, starts and stops the workers and keeps its settings; what the
window does is split by concern: searching and browsing in ``query_actions.QueryActions``,
folders and indexing in ``library_actions.LibraryActions`` (both mixed in), and the menus in
``menus``.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from photofind.core.library import Library
from photofind.gui import photo_actions
from photofind.gui.drop_zone import QueryPanel, accepts
from photofind.gui.folders import FolderPanel
from photofind.gui.library_actions import LibraryActions, watching_available, READ_ONLY_NOTICE
from photofind.gui.menus import build_menu_bar, show_photo_menu
from photofind.gui.query_actions import QueryActions
from photofind.gui.query_worker import QueryWorker
from photofind.gui.results_model import PathRole, ResultsModel
from photofind.gui.results_view import make_results_view
from photofind.gui.skipped_dialog import SkippedDialog
from photofind.gui.status import IndexStatus, NoticeBar
from photofind.gui.thumbs import ThumbnailLoader
from photofind.gui.worker import ALL, IndexWorker, WorkerThread

logger = logging.getLogger(__name__)

ICON_SIZE = 160


class MainWindow(QueryActions, LibraryActions, QMainWindow):
    def __init__(
        self,
        library: Library,
        settings: QSettings,
        *,
        watch: bool = True,
        rescan_on_start: bool = True,
        watch_debounce_s: float = 2.0,
    ) -> None:
        super().__init__()
        self.library = library
        self.settings = settings
        self.setWindowTitle("photofind")
        self.setAcceptDrops(True)
        self._gen = 0  # generation of the request whose results are shown
        self._query: tuple[str, object] | None = (
            None  # ("images", sources) | ("similar", (id, path))
        )
        self._searching = False
        self._folder_id: int | None = None
        self._watcher = None
        self._watch = watch and watching_available() and not library.read_only
        self._watch_debounce_s = watch_debounce_s
        self._skipped_dialog: SkippedDialog | None = None
        self._closing = False

        self.thumbnails = ThumbnailLoader(library.paths.thumbnails_dir, ICON_SIZE)
        self.model = ResultsModel(self.thumbnails, self)
        self._build_ui()
        build_menu_bar(self)
        self._start_workers()
        self._restore_settings()

        self.query_worker.load_folders()
        self.browse()
        self.query_worker.warm_up()
        if library.read_only:
            self.show_error(READ_ONLY_NOTICE)
        elif rescan_on_start:
            self.index_worker.request_index(ALL)

    # ------------------------------------------------------------------ construction
    def _build_ui(self) -> None:
        self.folder_panel = FolderPanel()
        self.folder_panel.add_requested.connect(self.add_folder)
        self.folder_panel.remove_requested.connect(self.remove_folder)
        self.folder_panel.rescan_requested.connect(self.rescan)
        self.folder_panel.selection_changed.connect(self._folder_selected)

        self.query_panel = QueryPanel()
        self.query_panel.dropped.connect(self.handle_mime)

        self.view = make_results_view(ICON_SIZE)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.setModel(self.model)
        self.view.activated.connect(self._activated)

        self.heading = QLabel("")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.back_button = QPushButton("Show library")
        self.back_button.setToolTip("Leave the search and browse the library")
        self.back_button.clicked.connect(self.browse)
        self.count = QSpinBox()
        self.count.setRange(1, 1000)
        self.count.setValue(50)
        self.count.setSuffix(" results")
        self.count.setToolTip("How many of the most similar photos to show")
        self._rerun = QTimer(self)
        self._rerun.setSingleShot(True)
        self._rerun.setInterval(300)
        self._rerun.timeout.connect(self._run_current_query)
        self.count.valueChanged.connect(
            lambda _v: self._rerun.start() if self._query else None
        )
        bar = QHBoxLayout()
        bar.addWidget(self.heading, 1)
        bar.addWidget(self.back_button)
        bar.addWidget(self.count)

        self.notice = NoticeBar()
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addLayout(bar)
        results_layout.addWidget(self.notice)
        results_layout.addWidget(self.view, 1)

        self.side = QSplitter(Qt.Orientation.Vertical)
        self.side.addWidget(self.folder_panel)
        self.side.addWidget(self.query_panel)
        self.side.setSizes([260, 480])
        self.side.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.side)
        self.splitter.addWidget(results)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 980])
        self.splitter.setChildrenCollapsible(False)
        container = QWidget()
        layout = QVBoxLayout(container)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.splitter)
        self.setCentralWidget(container)

        self._live_refresh = QTimer(self)
        self._live_refresh.setSingleShot(True)
        self._live_refresh.setInterval(3000)
        self._live_refresh.timeout.connect(self._refresh_during_run)

        self.index_status = IndexStatus()
        self.statusBar().addPermanentWidget(self.index_status)
        self.library_label = QLabel("")
        self.statusBar().addPermanentWidget(self.library_label)
        self._update_heading()

    def _start_workers(self) -> None:
        self.index_worker = IndexWorker(self.library)
        self.index_thread = WorkerThread(self.index_worker, "photofind-index")
        self.query_worker = QueryWorker(self.library)
        self.query_thread = WorkerThread(self.query_worker, "photofind-query")

        self._connect_index_worker()

        qw = self.query_worker
        qw.results.connect(self._results)
        qw.preview.connect(self._preview)
        qw.failed.connect(self._query_failed)
        qw.folders_loaded.connect(self._folders_loaded)
        qw.skipped_loaded.connect(self._skipped_loaded)
        self.index_thread.start()
        self.query_thread.start()

    # ------------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        for key, splitter in (
            ("window/splitter", self.splitter),
            ("window/side", self.side),
        ):
            state = self.settings.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                splitter.restoreState(state)
        try:
            self.count.setValue(int(self.settings.value("results/count", 50)))
        except (TypeError, ValueError):
            pass

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("window/side", self.side.saveState())
        self.settings.setValue("results/count", self.count.value())
        self.settings.sync()

    # ------------------------------------------------------------------ photos
    def _context_menu(self, pos: QPoint) -> None:
        show_photo_menu(self, pos)

    def _activated(self, index) -> None:  # type: ignore[no-untyped-def]
        self.open_photo(index.data(PathRole))

    def open_photo(self, path: str | None) -> None:
        if path and not photo_actions.open_photo(path):
            self.show_error(f"No application could open {path}")

    def show_error(self, message: str) -> None:
        logger.info("Notice: %s", message)
        self.statusBar().showMessage(message, 15_000)
        self.notice.show_message(message)

    # ------------------------------------------------------------------ drops & close
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accepts(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.handle_mime(event.mimeData())
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop watching and indexing (the batch in flight is kept), and wait for the threads."""
        if self._closing:
            return
        self._closing = True
        self._save_settings()
        if self._watcher is not None:
            self._watcher.stop()
        self.index_worker.cancel()
        self.index_worker.set_paused(False)
        self.thumbnails.cancel_pending()
        self.index_thread.stop()
        self.query_thread.stop()
        self.thumbnails.wait()
