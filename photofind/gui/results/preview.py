"""The large preview (Space on a result): the photo as big as the window allows, with its name,
folder and similarity; Left/Right (or the buttons) go to the previous/next result, Enter opens it
in the system viewer, Esc or Space goes back to the grid. The photo is decoded by photofind's own
decoder on the job runner's query queue, never on the GUI thread."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from photofind.gui.jobs import JobRunner
from photofind.gui.results.model import ResultItem

PREVIEW_PIXELS = 1600
QUEUE = "query"


class LargePreview(QDialog):
    row_changed = Signal(int)  # the grid's current photo follows
    open_requested = Signal(str)  # path

    def __init__(self, jobs: JobRunner, read: Callable[[str, int], QImage], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preview")
        self._jobs, self._read = jobs, read
        self._items: list[ResultItem] = []
        self._row = -1
        self._image = QImage()
        self.picture = QLabel("Loading…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(320, 240)
        self.caption = QLabel("")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.previous_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        open_button = QPushButton("Open")
        for button in (self.previous_button, self.next_button, open_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        open_button.clicked.connect(self._open)
        buttons = QHBoxLayout()
        buttons.addWidget(self.previous_button)
        buttons.addStretch(1)
        buttons.addWidget(self.caption, 3)
        buttons.addStretch(1)
        buttons.addWidget(open_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        layout.addLayout(buttons)

    @property
    def row(self) -> int:
        return self._row

    def show_items(self, items: list[ResultItem], row: int) -> None:
        self._items = list(items)
        self.show_row(row)
        if not self.isVisible():
            parent = self.parentWidget()
            if parent is not None:
                self.resize(parent.window().size() * 0.85)
            self.show()
        self.raise_()
        self.activateWindow()

    def show_row(self, row: int) -> None:
        if not 0 <= row < len(self._items):
            return
        self._row = row
        item = self._items[row]
        name, folder = os.path.basename(item.path), os.path.dirname(item.path)
        score = f"  ·  similarity {item.score:.2f}" if item.score is not None else ""
        self.caption.setText(f"{name}{score}\n{folder}")
        self.previous_button.setEnabled(row > 0)
        self.next_button.setEnabled(row < len(self._items) - 1)
        self._image = QImage()
        self.picture.setPixmap(QPixmap())
        self.picture.setText("Loading…")
        read, path = self._read, item.path
        self._jobs.run(
            QUEUE, lambda _c, _p: read(path, PREVIEW_PIXELS),
            lambda image, r=row: self._loaded(r, image), lambda exc, r=row: self._failed(r, exc), key="large-preview",
        )
        self.row_changed.emit(row)

    def step(self, delta: int) -> None:
        self.show_row(self._row + delta)

    def _loaded(self, row: int, image: QImage) -> None:
        if row != self._row:
            return
        if image.isNull():
            self._failed(row, None)
            return
        self._image = image
        self._fit()

    def _failed(self, row: int, _exc: BaseException | None) -> None:
        if row == self._row:
            self.picture.setText("This photo cannot be shown (it may have been moved or damaged).")

    def _fit(self) -> None:
        if self._image.isNull():
            return
        pixmap = QPixmap.fromImage(self._image)
        self.picture.setPixmap(
            pixmap.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _open(self) -> None:
        if 0 <= self._row < len(self._items):
            self.open_requested.emit(self._items[self._row].path)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.step(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.step(-1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._open()
        elif key in (Qt.Key.Key_Space, Qt.Key.Key_Escape):
            self.close()
        else:
            super().keyPressEvent(event)
