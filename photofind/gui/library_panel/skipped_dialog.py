"""The "Skipped files" dialog: files that could not be indexed, with the reason for each."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photofind.core.library import Library
from photofind.gui.jobs import JobRunner
from photofind.store.repository import PhotoRow


class SkippedDialog(QDialog):
    """Non-modal list of skipped files; ``refresh`` reads them on the job runner's query queue."""

    def __init__(self, library: Library, jobs: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._jobs = jobs
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        self.summary = QLabel("Reading…")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["File", "Reason"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch
        )
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def refresh(self) -> None:
        library = self._library
        self._jobs.run(
            "query", lambda _cancel, _progress: library.repo.skipped(), self.set_rows,
            lambda exc: self.summary.setText(f"Cannot read the library: {exc}"), key="skipped",
        )

    def set_rows(self, rows: list[PhotoRow]) -> None:
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            path = QTableWidgetItem(row.path)
            path.setToolTip(row.path)
            self.table.setItem(i, 0, path)
            self.table.setItem(i, 1, QTableWidgetItem(row.skip_reason or "unknown"))
        self.summary.setText(
            "No files were skipped."
            if not rows
            else f"{len(rows)} files could not be indexed. They stay untouched; fix or convert them and rescan."
        )
        self.table.sortItems(0, Qt.SortOrder.AscendingOrder)
