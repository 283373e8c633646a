"""The query worker: every library read the GUI needs, on its own QThread.

Searches embed the query (decode + model), browsing reads pages of rows, the folder list and the
skipped-files list are queries too: none of that may run on the GUI thread. Requests are queued
signals; results come back as signals tagged with the request's generation. A newer search or
browse request supersedes older ones: a request that is already stale when the worker gets to it
is skipped, and the window ignores results whose generation is not the latest.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QObject,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage, QImageReader, QPainter

from photofind.core.images.decode import ImageDecodeError
from photofind.core.library import Library
from photofind.gui.results_model import ResultItem
from photofind.gui.worker import ensure_loaded

logger = logging.getLogger(__name__)

PREVIEW_SIZE = 256
BROWSE_PAGE = 200


class QueryWorker(QObject):
    """Runs library reads off the GUI thread (see module docstring)."""

    results = Signal(
        int, list, bool
    )  # generation, [ResultItem], append (a further browse page)
    preview = Signal(int, QImage)  # generation, picture of the query
    failed = Signal(int, str)  # generation, message for the user
    folders_loaded = Signal(list)  # [FolderRow]
    skipped_loaded = Signal(list)  # [PhotoRow]
    ready = Signal()  # model and index loaded: searches are fast from now on

    _search = Signal(int, list, int)
    _similar = Signal(int, int, str, int)
    _browse = Signal(int, object, int, int)
    _folders = Signal()
    _skipped = Signal()
    _warm = Signal()

    def __init__(self, library: Library) -> None:
        super().__init__()
        self.library = library
        self._latest = 0
        self._gen_lock = threading.Lock()
        self._search.connect(self._do_search)
        self._similar.connect(self._do_similar)
        self._browse.connect(self._do_browse)
        self._folders.connect(self._do_folders)
        self._skipped.connect(self._do_skipped)
        self._warm.connect(self._do_warm)

    # ------------------------------------------------------------------ GUI thread
    def _next_generation(self) -> int:
        with self._gen_lock:
            self._latest += 1
            return self._latest

    @property
    def latest(self) -> int:
        return self._latest

    def search(self, sources: Sequence[str | bytes | QImage], k: int) -> int:
        """Rank the library by similarity to one or more images (mean of their embeddings)."""
        gen = self._next_generation()
        self._search.emit(gen, list(sources), int(k))
        return gen

    def similar(self, photo_id: int, path: str, k: int) -> int:
        """Photos like a library photo, from its stored vector (no decoding of the photo)."""
        gen = self._next_generation()
        self._similar.emit(gen, int(photo_id), path, int(k))
        return gen

    def browse(
        self, folder_id: int | None, offset: int = 0, limit: int = BROWSE_PAGE
    ) -> int:
        """Newest photos (of one folder, or all); ``offset > 0`` fetches a further page."""
        gen = self._latest if offset > 0 else self._next_generation()
        self._browse.emit(gen, folder_id, int(offset), int(limit))
        return gen

    def load_folders(self) -> None:
        self._folders.emit()

    def load_skipped(self) -> None:
        self._skipped.emit()

    def warm_up(self) -> None:
        self._warm.emit()

    # ------------------------------------------------------------------ worker thread
    def _stale(self, gen: int) -> bool:
        return gen != self._latest

    @Slot()
    def _do_warm(self) -> None:
        try:
            ensure_loaded(self.library)
            self.ready.emit()
        except Exception as exc:
            logger.exception("Loading the model failed")
            self.failed.emit(0, f"The model could not be loaded: {exc}")

    @Slot(int, list, int)
    def _do_search(self, gen: int, sources: list, k: int) -> None:
        if self._stale(gen):
            return
        try:
            data = [_as_source(s) for s in sources]
            self.preview.emit(gen, compose_preview(data))
            ensure_loaded(self.library)
            if self._stale(gen):
                return
            hits = self.library.searcher().search_image(data, k=k)
            self.results.emit(gen, self._items(hits), False)
        except ImageDecodeError as exc:
            self.failed.emit(gen, f"Cannot read the query image: {exc.reason}")
        except Exception as exc:
            logger.exception("Search failed")
            self.failed.emit(gen, f"Search failed: {exc}")

    @Slot(int, int, str, int)
    def _do_similar(self, gen: int, photo_id: int, path: str, k: int) -> None:
        if self._stale(gen):
            return
        try:
            ensure_loaded(self.library)
            hits = self.library.searcher().similar_to(photo_id, k=k)
            self.results.emit(gen, self._items(hits), False)
            self.preview.emit(gen, compose_preview([path]))
        except LookupError:
            self.failed.emit(
                gen,
                "This photo is not indexed yet, so there is nothing to compare it with.",
            )
        except Exception as exc:
            logger.exception("Find similar failed")
            self.failed.emit(gen, f"Search failed: {exc}")

    @Slot(int, object, int, int)
    def _do_browse(
        self, gen: int, folder_id: int | None, offset: int, limit: int
    ) -> None:
        if self._stale(gen):
            return
        try:
            rows = self.library.repo.recent_photos(limit, offset, folder_id)
            items = [ResultItem(r.id, r.path, None, r.fingerprint) for r in rows]
            self.results.emit(gen, items, offset > 0)
        except Exception as exc:
            logger.exception("Browsing failed")
            self.failed.emit(gen, f"Cannot read the library: {exc}")

    @Slot()
    def _do_folders(self) -> None:
        try:
            self.folders_loaded.emit(self.library.repo.folders())
        except Exception as exc:
            logger.exception("Listing folders failed")
            self.failed.emit(0, f"Cannot read the library: {exc}")

    @Slot()
    def _do_skipped(self) -> None:
        try:
            self.skipped_loaded.emit(self.library.repo.skipped())
        except Exception as exc:
            logger.exception("Listing skipped files failed")
            self.failed.emit(0, f"Cannot read the library: {exc}")

    def _items(self, hits: list) -> list[ResultItem]:  # type: ignore[type-arg]
        rows = self.library.repo.photos_by_ids([h.photo_id for h in hits])
        return [
            ResultItem(
                h.photo_id,
                h.path,
                h.score,
                rows[h.photo_id].fingerprint if h.photo_id in rows else None,
            )
            for h in hits
        ]


def _as_source(source: str | bytes | QImage) -> str | bytes:
    """What the core's searcher takes: a path or encoded image bytes (a QImage is PNG-encoded)."""
    if isinstance(source, QImage):
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        source.save(buf, "PNG")
        buf.close()
        return bytes(data.data())
    return (
        os.fspath(source)
        if not isinstance(source, (bytes, bytearray))
        else bytes(source)
    )


def read_scaled(source: str | bytes, size: int) -> QImage:
    """A picture of ``source`` fitting ``size``x``size`` (upright, decoded at reduced size)."""
    if isinstance(source, bytes):
        buf = QBuffer()
        buf.setData(QByteArray(source))
        buf.open(QIODevice.OpenModeFlag.ReadOnly)
        reader = QImageReader(buf)
    else:
        reader = QImageReader(source)
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid() and (original.width() > size or original.height() > size):
        reader.setScaledSize(
            original.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio)
        )
    image = reader.read()
    if image.isNull():
        return QImage()
    if image.width() > size or image.height() > size:
        image = image.scaled(
            size,
            size,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    return image


def compose_preview(sources: Sequence[str | bytes], size: int = PREVIEW_SIZE) -> QImage:
    """One picture of the query: the image itself, or up to four images tiled 2x2."""
    if len(sources) == 1:
        return read_scaled(sources[0], size)
    tile = size // 2
    canvas = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    for i, source in enumerate(sources[:4]):
        image = read_scaled(source, tile - 4)
        if image.isNull():
            continue
        x = (i % 2) * tile + (tile - image.width()) // 2
        y = (i // 2) * tile + (tile - image.height()) // 2
        painter.drawImage(x, y, image)
    painter.end()
    return canvas
