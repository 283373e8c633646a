"""The query half of the main window: what to search for, browsing, and showing the results.

``QueryActions`` is mixed into ``MainWindow``; it expects the window's ``query_worker``,
``query_panel``, ``folder_panel``, ``model``, ``view``, ``heading``, ``back_button``,
``count`` and ``show_error``. Drops, pastes and opened files become a search (dropped folders
are added to the library); with no query the results pane browses the library. Every request
gets a generation number from the query worker, and only the newest one's answers are shown.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog

from photofind.gui.drop_zone import parse_mime, remote_message
from photofind.gui.query_worker import BROWSE_PAGE
from photofind.gui.results_model import ResultItem

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.gif *.bmp *.tif *.tiff *.heic *.heif);;All files (*)"


class QueryActions:
    """Search and browse behaviour of the main window (see module docstring)."""

    # ------------------------------------------------------------------ what to search for
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

    # ------------------------------------------------------------------ requests
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

    # ------------------------------------------------------------------ answers
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

    # ------------------------------------------------------------------ heading
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
