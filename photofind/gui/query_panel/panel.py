"""The query panel: where a query comes in (drop, paste, File → Open) and the picture of it.

The panel turns what the user hands over into requests: images to search by
(``images_chosen``), folders to add (``folders_dropped``), or a notice saying why nothing can
be used (``notice``). It shows the query while it runs (``show_pending``, ``show_image``), a
failure (``show_failed``), or the hint when there is no query (``show_hint``). It owns no
search state; the results pane does.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QMimeData, QRectF, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photofind.gui.query_panel.mime import accepts, parse_mime, remote_message
from photofind.gui.query_panel.region_selector import RegionSelector

IMAGE_FILTER = (
    "Images (*.jpg *.jpeg *.jpe *.png *.webp *.avif *.heic *.heif *.gif *.bmp *.tif *.tiff);;"
    "All files (*)"
)
REGION_HINT = "Drag on the photo to search by a part of it."


def caption_for(sources: list[str | bytes | QImage]) -> str:
    names = [os.path.basename(s) if isinstance(s, str) else "pasted image" for s in sources]
    return ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")


class QueryPanel(QFrame):
    """The query image beside the results, or a hint to drop/paste one. Accepts drops itself."""

    images_chosen = Signal(list, str)  # [path | bytes | QImage], caption
    folders_dropped = Signal(list)  # [folder path]
    notice = Signal(str)  # message for the user
    regions_changed = Signal(list)  # [Region | None] per query image: search by those parts

    HINT = "Drop a photo here\n\nor paste one (Ctrl+V),\nor File → Open…\n\nDrop a folder to add it\nto the library."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queryPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAcceptDrops(True)
        self.setMinimumWidth(220)
        layout = QVBoxLayout(self)
        self.title = QLabel("Query")
        self.title.setStyleSheet("font-weight: bold;")
        self.image = RegionSelector(self.HINT)
        self.image.regions_changed.connect(self._regions_changed)
        self.region_hint = QLabel("")
        self.region_hint.setWordWrap(True)
        self.region_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.region_hint.setStyleSheet("color: palette(mid);")
        self.whole_button = QPushButton("Whole photo")
        self.whole_button.setToolTip("Search by the whole photo again (Esc)")
        self.whole_button.clicked.connect(self.image.reset)
        self.whole_button.setVisible(False)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title)
        layout.addWidget(self.image)
        layout.addWidget(self.region_hint)
        layout.addWidget(self.whole_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        layout.addStretch(1)

    # ---------------------------------------------------------------- what comes in
    def handle_mime(self, mime: QMimeData) -> None:
        """A drop or a paste: folders to add, images to search by, or a notice."""
        payload = parse_mime(mime)
        if payload.folders:
            self.folders_dropped.emit(payload.folders)
        if payload.images:
            self.images_chosen.emit(payload.images, caption_for(payload.images))
        elif payload.remote_urls:
            self.notice.emit(remote_message(payload.remote_urls))
        elif not payload.folders:
            self.notice.emit(
                "Nothing photofind can use was dropped: drop image files, an image, or a folder."
                if payload.empty
                else f"Cannot find {payload.unsupported[0]}"
            )

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not mime.formats():
            self.notice.emit("The clipboard holds no image. Copy an image or an image file first.")
            return
        self.handle_mime(mime)

    def open_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Find photos like…", os.path.expanduser("~"), IMAGE_FILTER
        )
        if files:
            self.images_chosen.emit(files, ", ".join(os.path.basename(f) for f in files[:3]))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accepts(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.handle_mime(event.mimeData())
        event.acceptProposedAction()

    def _regions_changed(self, regions: list) -> None:
        self.whole_button.setVisible(self.image.has_region())
        self.region_hint.setText("" if self.image.has_region() else REGION_HINT)
        self.regions_changed.emit(regions)

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() == Qt.Key.Key_Escape and self.image.has_region():
            self.image.reset()
            return
        super().keyPressEvent(event)

    # ---------------------------------------------------------------- what it shows
    def _no_picture(self, text: str) -> None:
        self.image.setPixmap(QPixmap())
        self.image.setText(text)
        self.whole_button.setVisible(False)
        self.region_hint.setText("")

    def show_hint(self) -> None:
        self._no_picture(self.HINT)
        self.caption.setText("")

    def show_pending(self, caption: str) -> None:
        self._no_picture("Searching…")
        self.caption.setText(caption)

    def show_image(self, preview) -> None:  # type: ignore[no-untyped-def]
        """The query's picture (a ``QueryPreview``, or a plain QImage): drag on it for a region."""
        image = getattr(preview, "image", preview)
        if image.isNull():
            self.image.setText("(no preview)")
            return
        tiles = [QRectF(*t) for t in getattr(preview, "tiles", ())] or None
        self.image.setPixmap(QPixmap.fromImage(image), tiles)
        self.region_hint.setText(REGION_HINT)

    def show_failed(self, message: str) -> None:
        self.show_hint()
        self.caption.setText(message)
