"""The results pane: what is shown (a query's ranked photos, or the library browsed newest first).

The pane owns the current query, the result count, the filter bar and the grid. What is shown
passes the session's filter (``filters.FilterState``: folder = the library panel's selection or a
subfolder, date taken, file type); a change of filter runs the current view or search again.
Searches, Find similar and browse pages run on the job runner's ``query`` queue under one key
(``"results"``), so a newer request supersedes an older one and only the newest answer is ever
shown. It tells the query panel what to show through signals (``query_started``, ``preview``,
``query_failed``, ``query_cleared``) and reports problems as ``notice``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMenu,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from photofind.core.images.decode import ImageDecodeError
from photofind.core.library import Library
from photofind.core.search.ranking import RankingSettings
from photofind.gui import photo_actions
from photofind.gui.filters import FilterBar, FilterState, within
from photofind.gui.jobs import Job, JobRunner
from photofind.gui.library_panel import FolderScope
from photofind.gui.results import queries
from photofind.gui.results.heading import (
    EMPTY_LIBRARY,
    NOTHING_EMBEDDED,
    HeadingLabel,
    browse_words,
    search_words,
)
from photofind.gui.results.model import PathRole, PhotoIdRole, ResultItem, ResultsModel
from photofind.gui.results.preview import LargePreview
from photofind.gui.results.thumbs import ThumbnailLoader
from photofind.gui.results.view import ZOOM_MAX, ZOOM_MIN, ZOOM_STEP, make_results_view
from photofind.gui.status import NoticeBar

ICON_SIZE = 160
QUEUE = "query"


@dataclass(frozen=True)
class Query:
    """Images to search by, or a library photo to find similar ones to."""

    caption: str
    sources: list = field(default_factory=list)  # [path | bytes | QImage]
    photo_id: int | None = None
    path: str | None = None
    regions: list | None = None  # [Region | None] per image; None: the whole photos


class ResultsPane(QWidget):
    """Heading, result count, notice bar and the grid (see module docstring)."""

    query_started = Signal(str)  # caption
    preview = Signal(object)  # queries.QueryPreview: picture of the running query
    query_failed = Signal(str)  # message (the current query could not run)
    query_cleared = Signal()  # back to browsing
    notice = Signal(str)  # message for the user

    def __init__(
        self,
        library: Library,
        jobs: JobRunner,
        ranking: RankingSettings | None = None,
        parent: QWidget | None = None,
        filters: FilterState | None = None,
    ) -> None:
        super().__init__(parent)
        self.filters = filters if filters is not None else FilterState(library, jobs, self)
        self.filters.changed.connect(self._filter_changed)
        self.filter_bar = FilterBar(self.filters)
        self.filter_bar.notice.connect(self.notice)
        self._passing: int | None = None  # photos that pass the filter (browsing)
        self._library = library
        self._jobs = jobs
        self.ranking = ranking or library.ranking
        self._query: Query | None = None
        self._scope = FolderScope(None, "All photos", 0, True)
        self._job: Job | None = None  # the request whose answer will be shown
        self._page_job: Job | None = None  # a further browse page

        self.thumbnails = ThumbnailLoader(jobs, library.paths.thumbnails_dir, ICON_SIZE)
        self.model = ResultsModel(self.thumbnails, self)
        self.view = make_results_view(ICON_SIZE)
        self.view.setModel(self.model)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.activated.connect(lambda index: self.open_photo(index.data(PathRole)))
        self.view.preview_requested.connect(self.preview_current)
        self.view.copy_requested.connect(lambda: photo_actions.copy_path(self.selected_paths()))
        self.large = LargePreview(jobs, queries.read_scaled, self)
        self.large.row_changed.connect(lambda row: self.view.setCurrentIndex(self.model.index(row)))
        self.large.open_requested.connect(self.open_photo)
        self._folders: list = []  # FolderRow: which are offline

        self.heading = HeadingLabel()
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
        self._rerun.timeout.connect(self._rerun_keeping_preview)
        self.count.valueChanged.connect(self._count_changed)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(ZOOM_MIN, ZOOM_MAX)
        self.zoom.setSingleStep(ZOOM_STEP // 2)
        self.zoom.setPageStep(ZOOM_STEP)
        self.zoom.setValue(ICON_SIZE)
        self.zoom.setFixedWidth(110)
        self.zoom.setToolTip("Thumbnail size (Ctrl+plus / Ctrl+minus, Ctrl+wheel)")
        self.zoom.valueChanged.connect(self.view.set_zoom)
        self.zoom.valueChanged.connect(self._zoomed)
        self.view.zoom_requested.connect(self.zoom_by)
        for keys, step in ((QKeySequence.StandardKey.ZoomIn, 1), ("Ctrl+=", 1), (QKeySequence.StandardKey.ZoomOut, -1)):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _c=False, s=step: self.zoom_by(s))
            self.addAction(action)
        bar = QHBoxLayout()
        bar.addWidget(self.heading, 1)
        bar.addWidget(self.back_button)
        bar.addWidget(self.zoom)
        bar.addWidget(self.count)
        self.notice_bar = NoticeBar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.notice_bar)
        layout.addWidget(self.view, 1)
        self.back_button.setVisible(False)
        self._update_heading()

    # ------------------------------------------------------------------ state
    @property
    def query(self) -> Query | None:
        return self._query

    @property
    def searching(self) -> bool:
        """A query's answer is still to come."""
        return self._query is not None and self._job is not None and not self._job.finished

    def preview_current(self) -> None:
        """Space: the current photo large, with previous/next."""
        index = self.view.currentIndex()
        if index.isValid():
            self.large.show_items(self.model.items(), index.row())

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return [self.model.item(r).path for r in rows]

    def folders_loaded(self, rows: list) -> None:
        """The library's folders (online or not), so empty results can say why."""
        self._folders = list(rows)
        self._update_heading()

    def _zoomed(self, size: int) -> None:
        if self.thumbnails.set_icon_size(size):  # sharper pictures for bigger cells
            self.view.viewport().update()

    def zoom_by(self, steps: int) -> None:
        """Bigger (+) or smaller (-) thumbnails, one step per call."""
        self.zoom.setValue(self.zoom.value() + steps * ZOOM_STEP)

    # ------------------------------------------------------------------ requests
    def search(self, sources: list, caption: str = "") -> None:
        """Rank the library by similarity to ``sources`` (several images: one mean query)."""
        self._query = Query(caption, list(sources))
        self.rerun()

    def find_similar(self, photo_id: int, path: str) -> None:
        self._query = Query(os.path.basename(path), photo_id=photo_id, path=path)
        self.rerun()

    def set_regions(self, regions: list) -> None:
        """Search by these parts of the query images (one per image, None = whole); the picture
        and the query stay as they are."""
        query = self._query
        if query is None:
            return
        wanted = regions if any(r is not None for r in regions) else None
        if wanted == query.regions:
            return
        self._query = dataclasses.replace(query, regions=wanted)
        self.rerun(keep_preview=True)

    def set_ranking(self, ranking: RankingSettings) -> None:
        """New ranking stages: the shown query runs again with them."""
        self.ranking = ranking
        if self._query is not None:
            self._rerun.start()

    def _rerun_keeping_preview(self) -> None:
        self.rerun(keep_preview=True)

    def rerun(self, keep_preview: bool = False) -> None:
        """Run the current query (again); ``keep_preview``: the query panel keeps its picture."""
        query = self._query
        if query is None:
            return
        library, ranking, k, regions = self._library, self.ranking, self.count.value(), query.regions
        show = None if keep_preview else self.preview.emit
        only = self.filters.photo_filter
        if query.photo_id is None or regions is not None:
            # a region of a library photo is cut from the photo itself, not its stored vector
            sources = query.sources if query.photo_id is None else [query.path or ""]
            fn = lambda _c, progress: queries.search_images(
                library, ranking, sources, k, progress if show else None, regions, only
            )
        else:
            photo_id, path = query.photo_id, query.path or ""
            fn = lambda _c, progress: queries.similar_photos(
                library, ranking, photo_id, path, k, progress if show else None, only
            )
        self.view.set_empty_text("")
        self._start_with(fn, self._answer, show)
        if not keep_preview:
            self.query_started.emit(query.caption)
        self._update_heading()
        self.back_button.setVisible(True)

    def browse(self) -> None:
        """No query: the library's photos that pass the filter, newest first."""
        was_query = self._query is not None
        self._query = None
        library, only = self._library, self.filters.photo_filter
        self._passing = None
        self._start_with(lambda _c, _p: queries.browse_start(library, only), self._browsed)
        self.back_button.setVisible(False)
        self._update_heading()
        if was_query:
            self.query_cleared.emit()

    def set_scope(self, scope: FolderScope) -> None:
        """The library panel's folder selection (or new counts): the folder filter becomes the
        folder selected, unless the filter's folder is already inside it (a subfolder chosen in
        the filter bar)."""
        changed = scope.folder_id != self._scope.folder_id
        self._scope = scope
        if changed and not within(self.filters.photo_filter.folder, scope.path):
            self.filters.set_folder(scope.path)  # -> _filter_changed runs the view again
        else:
            self._update_heading()

    def _filter_changed(self, _photo_filter: object) -> None:
        """Another filter: the current search, or the library, again (latest wins)."""
        if self._query is not None:
            self.rerun(keep_preview=True)
        else:
            self.browse()

    def reload(self) -> None:
        """The library changed: browse again unless a query is shown."""
        if self._query is None:
            self.browse()

    def refresh(self) -> None:
        """New photos arrived: browse again unless the user is searching, scrolled or selecting."""
        if (
            self._query is None
            and self.view.verticalScrollBar().value() == 0
            and not self.view.selectionModel().hasSelection()
        ):
            self.browse()

    def _start_with(self, fn, on_done, on_progress=None) -> None:  # type: ignore[no-untyped-def]
        if self._page_job is not None:
            self._page_job.discard()
            self._page_job = None
        # key "results": the request supersedes the one before, whose answer never comes
        self._job = self._jobs.run(QUEUE, fn, on_done, self._failed, on_progress, key="results")

    def _more(self, offset: int) -> None:
        library, f = self._library, self.filters.photo_filter
        only = f if f.active else None
        self._page_job = self._jobs.run(
            QUEUE,
            lambda _c, _p: queries.browse_page(library, only, offset),
            self.model.append_items,
            self._browse_failed,
        )

    # ------------------------------------------------------------------ answers
    def _browsed(self, start: queries.BrowseStart) -> None:
        self._passing = start.passing
        self._answer(start.items)

    def _answer(self, items: list[ResultItem]) -> None:
        if self._query is None:
            self.model.set_items(items, "browse", more=self._more, page=queries.BROWSE_PAGE)
        else:
            self.model.set_items(items, "search")
            if items:
                self.view.setCurrentIndex(self.model.index(0))
        self.view.scrollToTop()
        self._update_heading()

    def _failed(self, exc: BaseException) -> None:
        if self._query is None:
            self._browse_failed(exc)
            return
        if isinstance(exc, ImageDecodeError):
            message = f"Cannot read the query image: {exc.reason}"
        elif isinstance(exc, LookupError) and self._query.photo_id is not None:
            message = "This photo is not indexed yet, so there is nothing to compare it with."
        else:
            message = f"Search failed: {exc}"
        self.notice.emit(message)
        self.query_failed.emit(message)
        self.heading.setText(message)

    def _browse_failed(self, exc: BaseException) -> None:
        self.notice.emit(f"Cannot read the library: {exc}")

    def _count_changed(self, _value: int) -> None:
        if self._query is not None:
            self._rerun.start()

    # ------------------------------------------------------------------ heading
    def _update_heading(self) -> None:
        query = self._query
        offline = self._offline_text() if self._all_offline() else None
        if query is None:
            scope = self._scope
            words = browse_words(
                self.filters, scope.name, scope.photos, scope.library_empty, self._passing, offline
            )
        else:
            words = search_words(
                self.filters, query.caption, self.model.rowCount(), self.count.value(),
                bool(query.regions), self.searching,
                offline or (EMPTY_LIBRARY if not self._folders else NOTHING_EMBEDDED),
            )
        self.heading.set_words(words)
        self.view.set_empty_text(words.empty)

    def _all_offline(self) -> bool:
        return bool(self._folders) and not any(f.online for f in self._folders)

    def _offline_text(self) -> str:
        names = ", ".join(f.path for f in self._folders[:3]) + (" …" if len(self._folders) > 3 else "")
        return (
            f"All your folders are offline ({names}): reconnect the drive or mount the share, "
            "and their photos come back without re-indexing."
        )

    # ------------------------------------------------------------------ one photo
    def open_photo(self, path: str | None) -> None:
        if path and not photo_actions.open_photo(path):
            self.notice.emit(f"No application could open {path}")

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.photo_menu(pos)
        if menu is not None:
            menu.exec(self.view.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def photo_menu(self, pos: QPoint) -> QMenu | None:
        """The right-click menu of the photo at ``pos`` in the grid (None: no photo there)."""
        index = self.view.indexAt(pos)
        if not index.isValid():
            return None
        path, photo_id = index.data(PathRole), index.data(PhotoIdRole)
        selected = [i.data(PathRole) for i in self.view.selectionModel().selectedIndexes()] or [path]
        chosen = selected if path in selected else [path]
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_photo(path))
        menu.addAction("Show large (Space)", self.preview_current)
        folders = list(dict.fromkeys(os.path.dirname(p) for p in chosen))[:10]
        menu.addAction(
            "Reveal in folder" if len(chosen) == 1 else f"Reveal {len(chosen)} photos ({len(folders)} folders)",
            lambda: [photo_actions.reveal_in_folder(p) for p in ([path] if len(chosen) == 1 else
                     [next(c for c in chosen if os.path.dirname(c) == f) for f in folders])],
        )
        menu.addAction(
            "Copy path" if len(chosen) == 1 else f"Copy {len(chosen)} paths",
            lambda: photo_actions.copy_path(chosen),
        )
        menu.addSeparator()
        menu.addAction("Find similar", lambda: self.find_similar(photo_id, path))
        return menu
