"""Small helpers shared by the GUI tests: real drag-and-drop events, waiting for results."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

TIMEOUT_MS = 20_000


def file_mime(*paths: Path | str) -> QMimeData:
    """What a file manager drags: file URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def browser_mime(image_bytes: bytes, url: str = "https://example.com/photo.jpg") -> QMimeData:
    """What a web browser drags out of a page: the image's URL and its encoded bytes."""
    mime = QMimeData()
    mime.setUrls([QUrl(url)])
    mime.setHtml(f'<img src="{url}">')
    mime.setData("image/jpeg", image_bytes)
    return mime


def drop(widget, mime: QMimeData) -> bool:  # type: ignore[no-untyped-def]
    """Drag ``mime`` over ``widget`` and drop it, as Qt delivers a drag that ends there.

    Returns whether the widget accepted the drag (a refused drag is not dropped)."""
    enter = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )
    widget.dragEnterEvent(enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )
    widget.dropEvent(event)
    return event.isAccepted()


def search_done(window) -> bool:  # type: ignore[no-untyped-def]
    results = window.results
    return results.model.mode == "search" and results.model.rowCount() > 0 and not results.searching


def photo_thread_names() -> list[str]:
    import threading

    from photofind.gui.jobs import THREAD_PREFIX

    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
