"""``FilterBar``: one row of filter widgets that shows and edits a ``FilterState``.

Folder (a menu of the library's folders, "All folders" and "Choose a subfolder…"), date taken from
and to (each optional: a tick box enables a ``QDateEdit`` with a calendar popup), file type (a
menu of the types the library holds, each checkable) and "Clear filters". Escape inside the bar
clears the filters. Every widget is reachable with Tab and has an accessible name and a tooltip.
A date being typed applies after a short pause (``DATE_DELAY_MS``); the rest applies at once.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from PySide6.QtCore import QDate, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QWidget,
)

from photofind.gui.filters.state import TYPE_NAMES, FilterState, day_of, within
from photofind.store.photo_filter import FILE_TYPES

DATE_DELAY_MS = 400
TOOLTIP = (
    "Filters narrow the library view, every search (the best photos that pass) and Find "
    "duplicates. They stay while the app is open; Clear filters (or Escape here, Ctrl+L) shows "
    "every photo again."
)


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> dt.date:
    return dt.date(day.year(), day.month(), day.day())


class FilterBar(QWidget):
    """The filter row (see module docstring); ``notice`` says why a choice was refused."""

    notice = Signal(str)

    def __init__(self, state: FilterState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setToolTip(TOOLTIP)
        self.setAccessibleName("Filters")
        #: Asks for a folder (tests replace it); returns "" when cancelled.
        self.choose_directory: Callable[[str], str] = lambda start: QFileDialog.getExistingDirectory(
            self, "Show photos of this folder (with its subfolders)", start
        )
        self._date_timer = QTimer(self)
        self._date_timer.setSingleShot(True)
        self._date_timer.setInterval(DATE_DELAY_MS)
        self._date_timer.timeout.connect(self._apply_dates)

        self.title = QLabel("Filter:")
        self.folder_button = QPushButton()  # a push button with a menu: the arrow has room
        self.folder_button.setAccessibleName("Folder filter")
        self.folder_button.setToolTip(
            "Only photos of this folder and its subfolders (the folder selected in the Library list)"
        )
        self.folder_menu = QMenu(self.folder_button)
        self.folder_menu.aboutToShow.connect(self._fill_folder_menu)
        self.folder_button.setMenu(self.folder_menu)

        self.from_check = QCheckBox("Taken from")
        self.from_check.setToolTip("Only photos taken on or after this day")
        self.from_edit = self._date_edit("Taken from date")
        self.to_check = QCheckBox("to")
        self.to_check.setAccessibleName("Taken up to")
        self.to_check.setToolTip("Only photos taken on or before this day")
        self.to_edit = self._date_edit("Taken up to date")
        for check in (self.from_check, self.to_check):
            check.toggled.connect(self._date_toggled)

        self.type_button = QPushButton()
        self.type_button.setAccessibleName("File type filter")
        self.type_button.setToolTip("Only photos of the ticked file types")
        self.type_menu = QMenu(self.type_button)
        self.type_menu.aboutToShow.connect(self._fill_type_menu)
        self.type_button.setMenu(self.type_menu)

        self.clear_button = QPushButton("Clear filters")
        self.clear_button.setToolTip("Show every photo again: all folders, any date, any type (Ctrl+L)")
        self.clear_button.clicked.connect(state.clear)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.folder_button)
        layout.addSpacing(8)
        for w in (self.from_check, self.from_edit, self.to_check, self.to_edit):
            layout.addWidget(w)
        layout.addSpacing(8)
        layout.addWidget(self.type_button)
        layout.addStretch(1)
        layout.addWidget(self.clear_button)

        state.changed.connect(self.show_state)
        state.choices_changed.connect(self.show_state)
        self.show_state()

    def _date_edit(self, name: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setAccessibleName(name)
        edit.setToolTip("Type a day or pick it from the calendar")
        edit.setEnabled(False)
        edit.dateChanged.connect(lambda _d: self._date_timer.start())
        edit.editingFinished.connect(self._apply_dates_now)
        return edit

    # ------------------------------------------------------------------ state -> widgets
    def show_state(self, *_args: object) -> None:
        state, f = self.state, self.state.photo_filter
        self.folder_button.setText(
            "Folder: " + (state.folder_name(f.folder) if f.folder else "All folders")
        )
        self.type_button.setText(
            "Type: " + (", ".join(TYPE_NAMES[t] for t in sorted(f.types)) if f.types else "All")
        )
        first, last = state.dates()
        widgets = (self.from_check, self.from_edit, self.to_check, self.to_edit)
        for w in widgets:
            w.blockSignals(True)
        for check, edit, day, default in (
            (self.from_check, self.from_edit, first, 0), (self.to_check, self.to_edit, last, 1),
        ):
            if check.isChecked() and self._date_timer.isActive():
                continue  # a date being typed: it applies in a moment
            check.setChecked(day is not None)
            edit.setEnabled(day is not None)
            if day is not None:
                edit.setDate(_qdate(day))
            elif state.taken_range is not None:  # ready for the tick: the library's own range
                edit.setDate(_qdate(day_of(state.taken_range[default])))
        for w in widgets:
            w.blockSignals(False)
        self.clear_button.setEnabled(state.active)
        described = state.describe()
        self.setToolTip(TOOLTIP + (f"\n\nNow: {described}" if described else ""))

    # ------------------------------------------------------------------ widgets -> state
    def _date_toggled(self, _on: bool) -> None:
        self.from_edit.setEnabled(self.from_check.isChecked())
        self.to_edit.setEnabled(self.to_check.isChecked())
        self._apply_dates_now()

    def _apply_dates_now(self) -> None:
        self._date_timer.stop()
        self._apply_dates()

    def _apply_dates(self) -> None:
        first = _pydate(self.from_edit.date()) if self.from_check.isChecked() else None
        last = _pydate(self.to_edit.date()) if self.to_check.isChecked() else None
        self.state.set_dates(first, last)

    def _fill_folder_menu(self) -> None:
        menu, current = self.folder_menu, self.state.photo_filter.folder
        menu.clear()
        group = QActionGroup(menu)
        entries: list[tuple[str, str | None]] = [("All folders", None)]
        for root in self.state.library_folders:
            entries.append((os.path.basename(root) or root, root))
            entries += [("      " + os.path.basename(p), p) for p in self.state.subfolders.get(root, [])]
        if current and current not in {p for _t, p in entries}:
            entries.append((self.state.folder_name(current), current))
        for text, path in entries:
            action = QAction(text, menu)
            action.setCheckable(True)
            action.setChecked(path == current)
            if path:
                action.setToolTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.state.set_folder(p))
            group.addAction(action)
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction("Choose a subfolder…", self.choose_subfolder)

    def choose_subfolder(self) -> None:
        """A folder inside one of the library's folders (with its subfolders)."""
        roots = self.state.library_folders
        start = self.state.photo_filter.folder or (roots[0] if roots else os.path.expanduser("~"))
        path = self.choose_directory(start)
        if not path:
            return
        path = os.path.realpath(path)
        if not any(within(path, root) for root in roots):
            self.notice.emit(f"{path} is not in your library: choose a folder inside one of its folders.")
            return
        self.state.set_folder(path)

    def _fill_type_menu(self) -> None:
        menu, chosen, counts = self.type_menu, self.state.photo_filter.types, self.state.type_counts
        menu.clear()
        every = menu.addAction("All types")
        every.setCheckable(True)
        every.setChecked(not chosen)
        every.triggered.connect(lambda _c=False: self.state.set_types(frozenset()))
        menu.addSeparator()
        names = [t for t in FILE_TYPES if t in counts or t in chosen] or list(FILE_TYPES)
        for name in names:
            n = counts.get(name)
            action = menu.addAction(TYPE_NAMES[name] + (f" ({n:,})" if n else ""))
            action.setCheckable(True)
            action.setChecked(name in chosen)
            action.toggled.connect(lambda on, t=name: self.toggle_type(t, on))

    def toggle_type(self, name: str, on: bool) -> None:
        types = set(self.state.photo_filter.types)
        (types.add if on else types.discard)(name)
        self.state.set_types(frozenset(types))

    # ------------------------------------------------------------------ Escape clears
    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and self.state.active
        ):
            event.accept()  # the window's Esc shortcut (Show library) waits: clear first
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.state.active:
            self.state.clear()
            event.accept()
            return
        super().keyPressEvent(event)
