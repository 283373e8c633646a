"""The main window: library panel | query panel | results grid, with indexing in the status bar.

The window owns two worker threads: the index worker (the one library writer: index runs,
adding and removing folders) and the query worker (searches, browsing, folder and skipped-file
lists). The GUI thread only sends requests and shows what comes back; it never decodes, embeds,
saves the index or reads many rows. Folder changes on disk reach the index worker through the
core's ``FolderWatcher``.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QByteArray, QMimeData, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from photofind import __version__
from photofind.core.library import Library
from photofind.gui import photo_actions
from photofind.gui.drop_zone import QueryPanel, accepts, parse_mime, remote_message
from photofind.gui.folders import FolderPanel
from photofind.gui.library_actions import LibraryActions, watching_available, READ_ONLY_NOTICE
from photofind.gui.query_worker import BROWSE_PAGE, QueryWorker
from photofind.gui.results_model import PathRole, PhotoIdRole, ResultItem, ResultsModel
from photofind.gui.results_view import make_results_view
from photofind.gui.skipped_dialog import SkippedDialog
from photofind.gui.status import IndexStatus, NoticeBar
from photofind.gui.thumbs import ThumbnailLoader
from photofind.gui.worker import ALL, IndexWorker, WorkerThread

logger = logging.getLogger(__name__)

ICON_SIZE = 160
IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.gif *.bmp *.tif *.tiff *.heic *.heif);;All files (*)"


class MainWindow(LibraryActions, QMainWindow):
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
        self._build_menus()
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

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(
            file_menu, "&Open image…", self.open_images, QKeySequence.StandardKey.Open
        )
        self._action(
            file_menu, "&Paste image", self.paste, QKeySequence.StandardKey.Paste
        )
        file_menu.addSeparator()
        self._action(file_menu, "&Add folder…", self.folder_panel.choose_folder)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        lib_menu = self.menuBar().addMenu("&Library")
        self._action(lib_menu, "Show &library", self.browse, QKeySequence("Esc"))
        self._action(
            lib_menu, "&Rescan folders", self.rescan, QKeySequence.StandardKey.Refresh
        )
        self._action(lib_menu, "&Skipped files…", self.show_skipped)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About photofind", self._about)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

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

    # ------------------------------------------------------------------ queries
    def handle_mime(self, mime: QMimeData) -> None:
        """A drop or a paste: add dropped folders, search by dropped images."""
        payload = parse_mime(mime)
        for folder in payload.folders:
            self.add_folder(folder)
        if payload.images:
            names = [
                os.path.basename(s) if isinstance(s, str) else "pasted image"
                for s in payload.images
            ]
            self.search(
                payload.images,
                ", ".join(names[:3])
                + (f" +{len(names) - 3}" if len(names) > 3 else ""),
            )
        elif payload.remote_urls:
            self.show_error(remote_message(payload.remote_urls))
        elif not payload.folders:
            self.show_error(
                "Nothing photofind can use was dropped: drop image files, an image, or a folder."
                if payload.empty
                else f"Cannot find {payload.unsupported[0]}"
            )

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or (not mime.formats()):
            self.show_error(
                "The clipboard holds no image. Copy an image or an image file first."
            )
            return
        self.handle_mime(mime)

    def open_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Find photos like…", os.path.expanduser("~"), IMAGE_FILTER
        )
        if files:
            self.search(files, ", ".join(os.path.basename(f) for f in files[:3]))

    def search(self, sources: list[str | bytes | QImage], caption: str = "") -> None:
        """Rank the library by similarity to ``sources`` (several images: one mean query)."""
        self._query = ("images", (list(sources), caption))
        self._run_current_query()

    def find_similar(self, photo_id: int, path: str) -> None:
        self._query = ("similar", (photo_id, path))
        self._run_current_query()

    def _run_current_query(self) -> None:
        if self._query is None:
            return
        kind, arg = self._query
        self._searching = True
        self.view.set_empty_text("")
        if kind == "images":
            sources, caption = arg  # type: ignore[misc]
            self._gen = self.query_worker.search(sources, self.count.value())
            self.query_panel.show_pending(caption)
            self._set_heading(f"Searching for photos like {caption}…")
        else:
            photo_id, path = arg  # type: ignore[misc]
            self._gen = self.query_worker.similar(photo_id, path, self.count.value())
            self.query_panel.show_pending(os.path.basename(path))
            self._set_heading(f"Searching for photos like {os.path.basename(path)}…")
        self.back_button.setVisible(True)

    def browse(self) -> None:
        """No query: the results pane shows the library, newest first (selected folder only)."""
        self._query = None
        self._gen = self.query_worker.browse(self._folder_id)
        self.query_panel.show_hint()
        self.back_button.setVisible(False)
        self._update_heading()

    def _folder_selected(self, folder_id: int | None) -> None:
        self._folder_id = folder_id
        if self._query is None:
            self.browse()
        else:
            self._update_heading()

    def _results(self, gen: int, items: list[ResultItem], append: bool) -> None:
        if gen != self._gen:
            return  # superseded by a newer request
        self._searching = False
        if append:
            self.model.append_items(items)
        elif self._query is None:
            self.model.set_items(items, "browse", more=self._more, page=BROWSE_PAGE)
        else:
            self.model.set_items(items, "search")
            if items:
                self.view.setCurrentIndex(self.model.index(0))
        if not append:
            self.view.scrollToTop()
        self._update_heading()

    def _more(self, offset: int) -> None:
        self.query_worker.browse(self._folder_id, offset=offset)

    def _preview(self, gen: int, image: QImage) -> None:
        if gen == self._gen and self._query is not None:
            self.query_panel.show_image(image)

    def _query_failed(self, gen: int, message: str) -> None:
        if gen == self._gen:
            self._searching = False
        if gen in (0, self._gen):
            self.show_error(message)
            if gen == self._gen and self._query is not None:
                self.query_panel.show_hint()
                self.query_panel.caption.setText(message)

    def _set_heading(self, text: str) -> None:
        self.heading.setText(text)

    def _update_heading(self) -> None:
        n = self.model.rowCount()
        if self._query is None:
            folder = self.folder_panel.selected_folder()
            where = os.path.basename(folder.path) if folder else "All photos"
            total = (
                (folder.photo_count - folder.skipped_count)
                if folder
                else sum(
                    r.photo_count - r.skipped_count for r in self.folder_panel.folders
                )
            )
            text = (
                f"{where} · newest first · {total:,} photos"
                if total
                else f"{where} · no photos yet"
            )
            if not self.folder_panel.folders:
                self.view.set_empty_text(
                    "Your library is empty.\n\nAdd a folder of photos with Add… (or drop a folder here). "
                    "photofind indexes it in the background; then drop or paste a photo to find similar ones."
                )
            elif not total:
                self.view.set_empty_text(
                    "No photos here yet. New photos appear while indexing runs."
                )
            else:
                self.view.set_empty_text("")
        else:
            kind, arg = self._query
            caption = arg[1] if kind == "images" else os.path.basename(arg[1])  # type: ignore[index]
            if self._searching:
                text = f"Searching for photos like {caption}…"
            elif n:
                text = f"{n} photos most like {caption}"
            else:
                text = f"No photos like {caption}"
                self.view.set_empty_text(
                    "No indexed photos to compare with yet. Add a folder, or wait for indexing to finish."
                )
        self._set_heading(text)

    # ------------------------------------------------------------------ photos
    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        path, photo_id = index.data(PathRole), index.data(PhotoIdRole)
        selected = [
            i.data(PathRole) for i in self.view.selectionModel().selectedIndexes()
        ] or [path]
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_photo(path))
        menu.addAction("Reveal in folder", lambda: photo_actions.reveal_in_folder(path))
        menu.addAction(
            "Copy path" if len(selected) == 1 else f"Copy {len(selected)} paths",
            lambda: photo_actions.copy_path(selected if path in selected else [path]),
        )
        menu.addSeparator()
        menu.addAction("Find similar", lambda: self.find_similar(photo_id, path))
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def _activated(self, index) -> None:  # type: ignore[no-untyped-def]
        self.open_photo(index.data(PathRole))

    def open_photo(self, path: str | None) -> None:
        if path and not photo_actions.open_photo(path):
            self.show_error(f"No application could open {path}")

    def show_error(self, message: str) -> None:
        logger.info("Notice: %s", message)
        self.statusBar().showMessage(message, 15_000)
        self.notice.show_message(message)

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About photofind",
            f"<b>photofind {__version__}</b><p>Find photos in your own collection by example.</p>"
            f"<p>Library: {self.library.paths.data_dir}</p>",
        )

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
