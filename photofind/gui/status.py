"""Status-bar pieces: the indexing progress (bar, rate, ETA, pause, cancel) and a notice bar.

``IndexStatus`` shows what the index worker reports; ``NoticeBar`` is the non-modal way errors
reach the user (a dismissable line above the results), next to the status-bar message.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QStyle,
    QToolButton,
    QWidget,
)

from photofind.core.indexing.indexer import Progress


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def describe(progress: Progress) -> str:
    """One line for the status bar."""
    if progress.phase == "scanning":
        where = f": {os.path.basename(progress.path)}" if progress.path else ""
        return f"Scanning folders {progress.done}/{progress.total}{where}"
    if progress.phase == "embedding":
        parts = [f"Indexing {progress.done:,}/{progress.total:,} photos"]
        if progress.rate:
            parts.append(f"{progress.rate:.1f} photos/s")
        if progress.eta_s is not None and progress.done < progress.total:
            parts.append(f"{format_eta(progress.eta_s)} left")
        return " · ".join(parts)
    if progress.phase == "saving":
        return "Saving the search index…"
    return "Up to date"


class IndexStatus(QWidget):
    """Progress bar with pause/resume and cancel; hidden while nothing is being indexed."""

    pause_toggled = Signal(bool)
    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(True)
        self.pause = QToolButton()
        self.pause.setCheckable(True)
        self.pause.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.pause.setToolTip("Pause indexing")
        self.pause.toggled.connect(self._paused)
        self.cancel = QToolButton()
        self.cancel.setIcon(
            style.standardIcon(QStyle.StandardPixmap.SP_DialogCancelButton)
        )
        self.cancel.setToolTip("Stop indexing (what is done so far is kept)")
        self.cancel.clicked.connect(self.cancel_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.pause)
        layout.addWidget(self.cancel)
        self.setVisible(False)

    def show_progress(self, progress: Progress) -> None:
        self.setVisible(True)
        if progress.phase == "embedding" and progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(progress.done)
            self.bar.setFormat("%v / %m")
        else:
            self.bar.setRange(0, 0)  # busy indicator
        text = describe(progress)
        if self.pause.isChecked():
            text = "Paused · " + text
        self.label.setText(text)

    def finish(self) -> None:
        self.pause.blockSignals(True)
        self.pause.setChecked(False)
        self.pause.blockSignals(False)
        self._paused(False, emit=False)
        self.setVisible(False)

    def _paused(self, paused: bool, emit: bool = True) -> None:
        style = self.style()
        icon = (
            QStyle.StandardPixmap.SP_MediaPlay
            if paused
            else QStyle.StandardPixmap.SP_MediaPause
        )
        self.pause.setIcon(style.standardIcon(icon))
        self.pause.setToolTip("Resume indexing" if paused else "Pause indexing")
        if paused and not self.label.text().startswith("Paused"):
            self.label.setText("Paused · " + self.label.text())
        elif not paused and self.label.text().startswith("Paused · "):
            self.label.setText(self.label.text()[len("Paused · ") :])
        if emit:
            self.pause_toggled.emit(paused)


class NoticeBar(QFrame):
    """A dismissable one-line notice above the results (non-modal; hides itself after a while)."""

    def __init__(self, parent: QWidget | None = None, timeout_ms: int = 15_000) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(self.backgroundRole().ToolTipBase)
        self.setForegroundRole(self.foregroundRole().ToolTipText)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        close = QToolButton()
        close.setAutoRaise(True)
        close.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton)
        )
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, message: str, warning: bool = True) -> None:
        kind = (
            QStyle.StandardPixmap.SP_MessageBoxWarning
            if warning
            else QStyle.StandardPixmap.SP_MessageBoxInformation
        )
        self.icon.setPixmap(self.style().standardIcon(kind).pixmap(16, 16))
        self.text.setText(message)
        self.show()
        self._timer.start()
