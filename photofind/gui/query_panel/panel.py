"""The query panel: where a query comes in (drop, paste, File → Open) and the picture of it.

The panel turns what the user hands over into requests: images to search by
(``images_chosen``), folders to add (``folders_dropped``), or a notice saying why nothing can
be used (``notice``). It shows the query while it runs (``show_pending``, ``show_image``), a
failure (``show_failed``), or the hint when there is no query (``show_hint``). It owns no
search state; the results pane does.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QFileDialog, QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from photofind.gui.query_panel.mime import accepts, parse_mime, remote_message

IMAGE_FILTER = (
    "Images (*.jpg *.jpeg *.png *.webp *.gif *.bmp *.tif *.tiff *.heic *.heif);;All files (*)"
)


def caption_for(sources: list[str | bytes | QImage]) -> str:
    names = [os.path.basename(s) if isinstance(s, str) else "pasted image" for s in sources]
    return ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")


class QueryPanel(QFrame):
    """The query image beside the results, or a hint to drop/paste one. Accepts drops itself."""

    images_chosen = Signal(list, str)  # [path | bytes | QImage], caption
    folders_dropped = Signal(list)  # [folder path]
    notice = Signal(str)  # message for the user

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
        self.image = QLabel(self.HINT)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setWordWrap(True)
        self.image.setMinimumSize(QSize(200, 180))
        self.image.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.title)
        layout.addWidget(self.image)
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

    # ---------------------------------------------------------------- what it shows
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

    def show_failed(self, message: str) -> None:
        self.show_hint()
        self.caption.setText(message)
