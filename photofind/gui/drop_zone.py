"""What a drop or a paste holds, and the query panel that shows the query image.

``parse_mime`` sorts ``QMimeData`` from a file manager, a web browser or the clipboard into
folders to add, query images (local paths, or encoded image bytes) and remote URLs that cannot
be used offline. It never decodes pixels when the encoded bytes are available: browsers and
image viewers put ``image/png`` etc. on the clipboard, and those bytes go straight to the
searcher on the query worker. Only a bare in-process ``QImage`` is passed on as one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout

# Encoded image formats a browser or viewer may offer, best first.
_IMAGE_MIME = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/heic",
)
_IMG_SRC = re.compile(r"<img[^>]+src\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


@dataclass
class DropPayload:
    """Everything useful in one drop/paste."""

    folders: list[str] = field(default_factory=list)
    images: list[str | bytes | QImage] = field(default_factory=list)
    remote_urls: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.folders or self.images or self.remote_urls or self.unsupported)


def _local_path(url: QUrl | str) -> str | None:
    if isinstance(url, QUrl):
        return url.toLocalFile() if url.isLocalFile() else None
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if not parsed.scheme and os.path.isabs(url):
        return url
    return None


def _is_remote(url: str) -> bool:
    return urlparse(url).scheme in ("http", "https", "ftp", "data")


def parse_mime(mime: QMimeData) -> DropPayload:
    """Sort a drop or paste (see module docstring). Local files are not opened here."""
    payload = DropPayload()
    seen: set[str] = set()

    def add_path(path: str) -> None:
        path = os.path.abspath(path)
        if path in seen:
            return
        seen.add(path)
        if os.path.isdir(path):
            payload.folders.append(path)
        elif os.path.exists(path):
            payload.images.append(
                path
            )  # the decoder says whether it is really an image
        else:
            payload.unsupported.append(path)

    urls: list[str] = []
    if mime.hasUrls():
        for url in mime.urls():
            local = _local_path(url)
            if local:
                add_path(local)
            elif url.isValid():
                urls.append(url.toString())
    # Encoded image bytes (a browser dragging an <img>, an image copied in a viewer).
    if not payload.images:
        for fmt in _IMAGE_MIME:
            if mime.hasFormat(fmt):
                data = bytes(mime.data(fmt).data())
                if data:
                    payload.images.append(data)
                    break
        else:
            if mime.hasImage():
                image = mime.imageData()
                if isinstance(image, QImage) and not image.isNull():
                    payload.images.append(image)
                elif isinstance(image, QPixmap) and not image.isNull():
                    payload.images.append(image.toImage())
    # Text: a path or URL typed/copied as text, or HTML with an <img src>.
    if not payload.images and not payload.folders:
        candidates: list[str] = []
        if mime.hasHtml():
            candidates += _IMG_SRC.findall(mime.html())
        if mime.hasText():
            candidates += [
                line.strip() for line in mime.text().splitlines() if line.strip()
            ]
        for text in candidates:
            local = _local_path(text)
            if local and os.path.exists(local):
                add_path(local)
            elif _is_remote(text):
                urls.append(text)
    if not payload.images and not payload.folders:
        payload.remote_urls = list(dict.fromkeys(u for u in urls if _is_remote(u)))
    return payload


def remote_message(urls: list[str]) -> str:
    host = urlparse(urls[0]).netloc or "the web"
    return (
        f"That image is on {host}, and photofind works offline, so it cannot download it. "
        "Save the image to your computer first, then drop the file here (or copy the image "
        "itself and paste it with Ctrl+V)."
    )


def accepts(event: QDragEnterEvent | QDropEvent) -> bool:
    mime = event.mimeData()
    return bool(
        mime.hasUrls()
        or mime.hasImage()
        or any(mime.hasFormat(f) for f in _IMAGE_MIME)
        or mime.hasText()
    )


class QueryPanel(QFrame):
    """The query image beside the results, or a hint to drop/paste one. Accepts drops itself."""

    dropped = Signal(QMimeData)
    cleared = Signal()

    HINT = "Drop a photo here\n\nor paste one (Ctrl+V),\nor File → Open…\n\nDrop a folder to add it\nto the library."

    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.setObjectName("queryPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAcceptDrops(True)
        self.setMinimumWidth(220)
        layout = QVBoxLayout(self)
        self.title = QLabel("Query")
        self.title.setStyleSheet("font-weight: bold;")
        self.image = QLabel(self.HINT)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setWordWrap(True)
        self.image.setMinimumSize(QSize(200, 180))
        self.image.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred
        )
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        layout.addWidget(self.title)
        layout.addWidget(self.image)
        layout.addWidget(self.caption)
        layout.addStretch(1)

    def show_hint(self) -> None:
        self.image.setPixmap(QPixmap())
        self.image.setText(self.HINT)
        self.caption.setText("")

    def show_pending(self, caption: str) -> None:
        self.image.setPixmap(QPixmap())
        self.image.setText("Searching…")
        self.caption.setText(caption)

    def show_image(self, image: QImage) -> None:
        if image.isNull():
            self.image.setText("(no preview)")
            return
        self.image.setPixmap(QPixmap.fromImage(image))

    # ---------------------------------------------------------------- drops
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accepts(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.dropped.emit(event.mimeData())
        event.acceptProposedAction()
