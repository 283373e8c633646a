"""The main window: library panel | query panel | results pane, with indexing in the status bar.

The window composes its parts and connects their signals; each part owns its state:

- ``library_panel`` (``library_panel.LibraryPanel``): the folder list and the folder selected;
- ``query_panel`` (``query_panel.QueryPanel``): drops, pastes, File → Open, the query's picture;
- ``results`` (``results.ResultsPane``): the current query or browse scope, the filter bar, the grid;
- ``filters`` (``filters.FilterState``): the session's photo filter, shared by the results pane and
  the duplicates view; its folder is the library panel's selection (``show_folder`` follows it);
- ``status`` (``status.StatusBar``): indexing progress with pause/cancel, messages;
- ``index`` (``index_service.IndexService``): the one library writer (index runs, folders);
- ``watch`` (``library_panel.FolderWatch``): folder changes on disk -> index requests.

All background work goes through one ``jobs.JobRunner`` (queues ``index``, ``query``,
``thumbs``); the GUI thread never decodes, embeds, saves an index or reads many rows.
``shutdown`` stops the watcher, cancels the writer and joins every job thread, so nothing
touches the library after it (the caller closes the library).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from photofind.core.library import Library
from photofind.core.search.ranking import RankingSettings
from photofind.gui.filters import FilterState
from photofind.gui.index_service import READ_ONLY_NOTICE, IndexService
from photofind.gui.jobs import JobRunner
from photofind.gui.library_panel import FolderWatch, LibraryPanel, SkippedDialog
from photofind.gui.menus import build_menu_bar
from photofind.gui.query_panel import QueryPanel, accepts
from photofind.gui.query_panel.panel import caption_for
from photofind.gui.results.pane import ResultsPane
from photofind.gui.status import StatusBar

logger = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(
        self,
        library: Library,
        settings: QSettings,
        *,
        watch: bool = True,
        rescan_on_start: bool = True,
        watch_debounce_s: float = 2.0,
        index_in_child: bool = False,
        defer_start: bool = False,
    ) -> None:
        """``index_in_child``: index runs in a child process (the app; see ``IndexService``).
        ``defer_start``: the model's warm-up and the start-up rescan wait for ``start_background``
        (the app calls it once the window has painted: they would compete with the first
        window for the two cores and the GIL)."""
        super().__init__()
        self.library = library
        self.settings = settings
        self.setWindowTitle("photofind")
        self.setAcceptDrops(True)
        self._closing = False
        self.skipped_dialog: SkippedDialog | None = None

        self.jobs = JobRunner(self)
        self.index = IndexService(library, self.jobs, in_child=index_in_child)
        self.watch = FolderWatch(
            self.index.request_index,  # thread-safe; called on the watcher's thread
            enabled=watch and not library.read_only,
            debounce_s=watch_debounce_s,
            ignore=[library.paths.data_dir],
        )
        self.library_panel = LibraryPanel(library, self.jobs)
        self.query_panel = QueryPanel()
        self.filters = FilterState(library, self.jobs, self)
        self.results = ResultsPane(library, self.jobs, filters=self.filters)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self._layout()
        self._connect()
        build_menu_bar(self)
        self._restore_settings()

        self.library_panel.reload()
        self.results.browse()
        self._rescan_on_start = rescan_on_start
        if library.read_only:
            self.show_error(READ_ONLY_NOTICE)
        if not defer_start:
            self.start_background()

    def start_background(self) -> None:
        """Load the model and search indexes on the query worker (the first search is then
        quick) and, if asked, rescan the folders for what changed while the app was closed."""
        library = self.library
        self.jobs.run("query", lambda _c, _p: library.warm_up(), on_error=self._warm_up_failed)
        if self._rescan_on_start and not library.read_only:
            self._rescan_on_start = False
            self.index.request_index()

    # ------------------------------------------------------------------ construction
    def _layout(self) -> None:
        self.side = QSplitter(Qt.Orientation.Vertical)
        self.side.addWidget(self.library_panel)
        self.side.addWidget(self.query_panel)
        self.side.setSizes([260, 480])
        self.side.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.side)
        self.splitter.addWidget(self.results)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 980])
        self.splitter.setChildrenCollapsible(False)
        container = QWidget()
        layout = QVBoxLayout(container)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.splitter)
        self.setCentralWidget(container)

    def escape(self) -> None:
        """Esc: first back to the whole query photo when a region is selected, then the library."""
        if self.query_panel.image.has_region():
            self.query_panel.image.reset()
        else:
            self.results.browse()

    def _connect(self) -> None:
        # Every connection is to a bound method of a GUI-thread object (a lambda has no thread
        # affinity); the index service and the job runner emit on the GUI thread anyway.
        index, panel, query, results, status = (
            self.index, self.library_panel, self.query_panel, self.results, self.status,
        )
        panel.add_requested.connect(index.add_folder)
        panel.remove_requested.connect(index.remove_folder)
        panel.rescan_requested.connect(self.rescan)
        panel.scope_changed.connect(results.set_scope)
        panel.folders_loaded.connect(status.folders_loaded)
        panel.folders_loaded.connect(results.folders_loaded)
        panel.folders_loaded.connect(self.filters.set_library_folders)
        panel.folders_loaded.connect(self._folders_loaded)
        self.filters.changed.connect(self._filter_changed)
        panel.folders_loaded.connect(self.watch.sync)
        panel.photos_arrived.connect(results.refresh)
        panel.failed.connect(self.show_error)

        query.images_chosen.connect(results.search)
        query.regions_changed.connect(results.set_regions)
        query.folders_dropped.connect(self._add_folders)
        query.notice.connect(self.show_error)

        results.query_started.connect(query.show_pending)
        results.preview.connect(query.show_image)
        results.query_failed.connect(query.show_failed)
        results.query_cleared.connect(query.show_hint)
        results.notice.connect(self.show_error)

        index.started.connect(panel.set_indexing)
        index.queue_changed.connect(panel.set_queued)
        index.progress.connect(panel.index_progress)
        index.progress.connect(status.run_progress)
        index.stopped.connect(self._run_stopped)
        index.finished.connect(status.run_finished)
        index.upgrading.connect(status.upgrading)
        index.folder_added.connect(status.folder_added)
        index.folder_removed.connect(status.folder_removed)
        index.library_changed.connect(self._library_changed)
        index.error.connect(self.show_error)
        status.index_status.pause_toggled.connect(index.set_paused)
        status.index_status.cancel_clicked.connect(self.cancel_indexing)

    # ------------------------------------------------------------------ actions
    def rescan(self) -> None:
        if self.index.rescan():
            self.status.say("Rescanning the library folders…", 5000)

    def cancel_indexing(self) -> None:
        self.index.cancel()
        self.status.say("Stopping after the current batch; indexed photos are kept.", 8000)

    def show_skipped(self) -> None:
        if self.skipped_dialog is None:
            self.skipped_dialog = SkippedDialog(self.library, self.jobs, self)
        self.skipped_dialog.show()
        self.skipped_dialog.raise_()
        self.skipped_dialog.refresh()

    def set_ranking(self, ranking: RankingSettings) -> None:
        """Search > Ranking changed: index runs and the results pane use the new stages."""
        self.library.ranking = ranking
        self.results.set_ranking(ranking)

    def show_error(self, message: str) -> None:
        logger.info("Notice: %s", message)
        self.status.showMessage(message, 15_000)
        self.results.notice_bar.show_message(message)

    def open_request(self, request) -> None:  # type: ignore[no-untyped-def]  # single_instance.OpenRequest
        """``photofind IMAGE...`` / ``photofind FOLDER`` (this launch or a later one): search by
        the images, offer to add the folders, and come to the front."""
        logger.info("open: images %s, folders %s", request.images, request.folders)
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()
        if request.images:
            self.query_panel.images_chosen.emit(list(request.images), caption_for(list(request.images)))
        known = {f.path for f in self.library_panel.folders}
        new = [f for f in request.folders if f not in known]
        if new:
            names = "\n".join(new[:5]) + ("\n…" if len(new) > 5 else "")
            box = QMessageBox(QMessageBox.Icon.Question, "Add to the library?",
                              f"Add {'this folder' if len(new) == 1 else f'these {len(new)} folders'} to "
                              f"your photofind library and index it?\n\n{names}", parent=self)
            add = box.addButton("Add", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
            box.buttonClicked.connect(lambda button: self._add_folders(new) if button is add else None)
            self.folder_offer = box
            box.open()
        elif request.folders:
            self.show_error("That folder is already in your library.")

    def _filter_changed(self, photo_filter) -> None:  # type: ignore[no-untyped-def]
        self.library_panel.show_folder(photo_filter.folder)

    def _folders_loaded(self, _rows: list) -> None:  # type: ignore[type-arg]
        self.library_panel.show_folder(self.filters.photo_filter.folder)  # a folder set before

    def _add_folders(self, paths: list[str]) -> None:
        for path in paths:
            self.index.add_folder(path)

    def _run_stopped(self) -> None:
        self.status.run_stopped()
        self.library_panel.set_indexing(None)

    def _library_changed(self) -> None:
        self.library_panel.reload()
        if not self.index.is_busy():
            self.results.reload()

    def _warm_up_failed(self, exc: BaseException) -> None:
        logger.error("Loading the model failed", exc_info=exc)
        self.show_error(f"The model could not be loaded: {exc}")

    # ------------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        for key, splitter in (("window/splitter", self.splitter), ("window/side", self.side)):
            state = self.settings.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                splitter.restoreState(state)
        try:
            self.results.count.setValue(int(self.settings.value("results/count", 50)))
            self.results.zoom.setValue(int(self.settings.value("results/zoom", self.results.zoom.value())))
        except (TypeError, ValueError):
            pass

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("window/side", self.side.saveState())
        self.settings.setValue("results/count", self.results.count.value())
        self.settings.setValue("results/zoom", self.results.zoom.value())
        self.settings.sync()

    # ------------------------------------------------------------------ drops & close
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accepts(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.query_panel.handle_mime(event.mimeData())
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop watching and indexing (the batch in flight is kept) and join every job thread."""
        if self._closing:
            return
        self._closing = True
        self._save_settings()
        self.watch.stop()
        self.index.stop()
        self.jobs.shutdown()
