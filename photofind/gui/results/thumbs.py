"""Thumbnails for the results grid, made off the GUI thread and cached on disk.

``ThumbnailLoader.pixmap`` asks the job runner's ``thumbs`` queue for a photo's thumbnail: the
job gets the thumbnail file from the core's ``ThumbnailCache`` (decoding the photo the first
time) and reads it into a ``QImage`` at icon size (``QImage`` is safe off the GUI thread,
``QPixmap`` is not). The GUI thread only turns finished images into pixmaps and keeps the most
recent ones in memory.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from photofind.core.images.thumbnails import ThumbnailCache
from photofind.gui.jobs import JobRunner

logger = logging.getLogger(__name__)

QUEUE = "thumbs"


def load_thumbnail(cache: ThumbnailCache, path: str, fingerprint: str | None, size: int) -> QImage:
    """The thumbnail of ``path`` fitting ``size`` (null when the photo cannot be read)."""
    file = cache.get_or_create(path, fingerprint)
    if file is None:
        return QImage()
    image = QImage(str(file))
    if not image.isNull() and (image.width() > size or image.height() > size):
        image = image.scaled(
            size, size, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    return image


class ThumbnailLoader(QObject):
    """Lazy, cached thumbnails keyed by photo path (see module docstring)."""

    ready = Signal(str)  # path whose thumbnail is now available (or known to be missing)

    def __init__(
        self, jobs: JobRunner, cache_dir: Path, icon_size: int = 160, memory_items: int = 2000
    ) -> None:
        super().__init__()
        self.icon_size = icon_size
        self.cache = ThumbnailCache(cache_dir, 256)
        self._jobs = jobs
        self._pixmaps: OrderedDict[str, QPixmap | None] = OrderedDict()
        self._pending: set[str] = set()
        self._memory_items = memory_items

    def pixmap(self, path: str, fingerprint: str | None = None) -> QPixmap | None:
        """The thumbnail if ready; otherwise None and (once) a request to make it."""
        if path in self._pixmaps:
            self._pixmaps.move_to_end(path)
            return self._pixmaps[path]
        if path not in self._pending:
            self._pending.add(path)
            cache, size = self.cache, self.icon_size
            self._jobs.run(
                QUEUE,
                lambda _cancel, _progress: load_thumbnail(cache, path, fingerprint, size),
                lambda image: self._loaded(path, image),
                lambda exc: self._failed(path, exc),
            )
        return None

    def set_icon_size(self, size: int) -> bool:
        """Thumbnails for ``size``-pixel cells (at most the disk thumbnails' 256 px): a bigger
        size drops the smaller pictures in memory so they load again sharp. True if it changed."""
        size = min(max(self.icon_size, size), self.cache.size)
        if size == self.icon_size:
            return False
        self.icon_size = size
        self._pixmaps.clear()
        self.cancel_pending()
        return True

    def failed(self, path: str) -> bool:
        return path in self._pixmaps and self._pixmaps[path] is None

    def cancel_pending(self) -> None:
        """Forget queued requests (the grid shows other photos now); a running one finishes."""
        self._jobs.clear(QUEUE)
        self._pending.clear()

    def _failed(self, path: str, exc: BaseException) -> None:
        logger.warning("Thumbnail of %s failed: %s", path, exc)  # never takes the app down
        self._loaded(path, QImage())

    def _loaded(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image) if not image.isNull() else None
        while len(self._pixmaps) > self._memory_items:
            self._pixmaps.popitem(last=False)
        self.ready.emit(path)


def placeholder(size: int, broken: bool = False) -> QPixmap:
    """A neutral tile in the palette's colours while a thumbnail loads (or when it cannot)."""
    pixmap = QPixmap(QSize(size, size))
    pixmap.fill(Qt.GlobalColor.transparent)
    palette = QApplication.palette()
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = QColor(palette.color(QPalette.ColorRole.Mid))
    fill.setAlpha(60)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(8, 8, size - 16, size - 16, 10, 10)
    if broken:
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "cannot\nread")
    painter.end()
    return pixmap
