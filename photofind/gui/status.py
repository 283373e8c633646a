"""The status bar (indexing progress with pause and cancel, library size, messages) and a notice bar.

``StatusBar`` shows what the index service reports: ``IndexStatus`` the running run (bar, rate,
ETA, pause, cancel), messages what a run or a folder change did. ``NoticeBar`` is the non-modal
way errors reach the user (a dismissable line above the results), next to the status message.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QStatusBar,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QStyle,
    QToolButton,
    QWidget,
)

from photofind.core.indexing.backfill import BACKFILL_LABELS
from photofind.core.indexing.indexer import IndexReport, Progress
from photofind.store.repository import FolderRow


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
    if progress.phase in BACKFILL_LABELS:
        return f"{BACKFILL_LABELS[progress.phase]} {progress.done:,}/{progress.total:,} photos"
    return "Up to date"


def summary(report: IndexReport) -> str:
    """What a finished run did, in one line ("" when there is nothing to say)."""
    changed = report.added + report.updated + report.removed + report.moved + report.copied
    parts = []
    if report.cancelled:
        parts.append("Indexing stopped")
    elif changed or report.skipped:
        parts.append(
            f"Indexed: {report.added} added, {report.updated} updated, {report.removed} removed"
        )
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped (Library → Skipped files)")
    if report.offline_folders:
        parts.append(f"{len(report.offline_folders)} folder(s) offline, photos kept")
    return " · ".join(parts)


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
        if progress.phase in ("embedding", *BACKFILL_LABELS) and progress.total:
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


class StatusBar(QStatusBar):
    """The window's status bar: indexing progress, the library's size, passing messages."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index_status = IndexStatus()
        self.addPermanentWidget(self.index_status)
        self.library_label = QLabel("")
        self.addPermanentWidget(self.library_label)

    def say(self, message: str, ms: int = 8000) -> None:
        self.showMessage(message, ms)

    # ------------------------------------------------------------------ from the index service
    def run_progress(self, progress: Progress) -> None:
        self.index_status.show_progress(progress)

    def run_stopped(self) -> None:
        self.index_status.finish()

    def run_finished(self, report: IndexReport) -> None:
        text = summary(report)
        if text:
            self.showMessage(text, 10_000)

    def upgrading(self, backlog: int) -> None:
        self.showMessage(
            f"Upgrading the library to the improved image descriptor: {backlog} photos to "
            "re-embed. Searches use the previous one until it is done.",
            30_000,
        )

    def folder_added(self, path: str) -> None:
        self.showMessage(f"Added {path}; indexing it…", 8000)

    def folder_removed(self, path: str, n: int) -> None:
        self.showMessage(
            f"Removed {path} from the library ({n} photos forgotten; files untouched)", 8000
        )

    # ------------------------------------------------------------------ from the library panel
    def folders_loaded(self, rows: list[FolderRow]) -> None:
        photos = sum(r.photo_count - r.skipped_count for r in rows)
        offline = sum(1 for r in rows if not r.online)
        self.library_label.setText(
            f"{photos:,} photos in {len(rows)} folder{'s' if len(rows) != 1 else ''}"
            + (f" ({offline} offline)" if offline else "")
        )
