"""Thumbnails for the results grid, made off the GUI thread and cached on disk.

``ThumbnailLoader.request`` queues a ``QRunnable`` on a private ``QThreadPool``; the runnable
asks the core's ``ThumbnailCache`` for the thumbnail file (decoding the photo the first time),
reads it into a ``QImage`` at icon size (``QImage`` is safe off the GUI thread, ``QPixmap`` is
not) and hands it back through a queued signal. The GUI thread only turns finished images into
pixmaps and keeps the most recent ones in memory.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from photofind.gui.worker import lower_thread_priority

logger = logging.getLogger(__name__)

try:  # lands with the core's thumbnail cache; without it the grid shows placeholders only
    from photofind.core.images.thumbnails import ThumbnailCache
except ImportError:  # pragma: no cover - only while the core module is missing
    ThumbnailCache = None  # type: ignore[assignment,misc]


_thread_state = threading.local()


class _Emitter(QObject):
    loaded = Signal(str, QImage)  # path, image (null when the photo cannot be read)


class _ThumbJob(QRunnable):
    def __init__(
        self, loader: ThumbnailLoader, path: str, fingerprint: str | None
    ) -> None:
        super().__init__()
        self.loader = loader
        self.path = path
        self.fingerprint = fingerprint

    def run(self) -> None:
        if not getattr(_thread_state, "lowered", False):
            lower_thread_priority()
            _thread_state.lowered = True
        image = QImage()
        try:
            cache = self.loader.cache
            file = (
                cache.get_or_create(self.path, self.fingerprint)
                if cache is not None
                else None
            )
            if file is not None:
                image = QImage(str(file))
                size = self.loader.icon_size
                if not image.isNull() and (
                    image.width() > size or image.height() > size
                ):
                    image = image.scaled(
                        size,
                        size,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
        except Exception:  # a thumbnail must never take the app down
            logger.exception("Thumbnail of %s failed", self.path)
        self.loader._emitter.loaded.emit(self.path, image)


class ThumbnailLoader(QObject):
    """Lazy, cached thumbnails keyed by photo path (see module docstring)."""

    ready = Signal(
        str
    )  # path whose thumbnail is now available (or known to be missing)

    def __init__(
        self,
        cache_dir: Path,
        icon_size: int = 160,
        memory_items: int = 2000,
        threads: int = 2,
    ) -> None:
        super().__init__()
        self.icon_size = icon_size
        self.cache = (
            ThumbnailCache(cache_dir, 256) if ThumbnailCache is not None else None
        )
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._emitter = _Emitter()
        self._emitter.loaded.connect(self._on_loaded)
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
            self._pool.start(_ThumbJob(self, path, fingerprint))
        return None

    def failed(self, path: str) -> bool:
        return path in self._pixmaps and self._pixmaps[path] is None

    def cancel_pending(self) -> None:
        """Forget queued requests (the grid shows other photos now); running ones finish."""
        self._pool.clear()
        self._pending.clear()

    def wait(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)

    def _on_loaded(self, path: str, image: QImage) -> None:
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
