"""What a drop or a paste holds.

``parse_mime`` sorts ``QMimeData`` from a file manager, a web browser or the clipboard into
folders to add, query images (local paths, or encoded image bytes) and remote URLs that cannot
be used offline. It never decodes pixels when the encoded bytes are available: browsers and
image viewers put ``image/png`` etc. on the clipboard, and those bytes go straight to the
searcher on the query queue. Only a bare in-process ``QImage`` is passed on as one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap

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
