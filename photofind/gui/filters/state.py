"""``FilterState``: the app session's one photo filter, with what the bar offers to choose from.

The filter is a ``PhotoFilter`` (folder with its subfolders, date-taken range, file types); it
lives as long as the window, so switching views and starting new searches keep it. The folder is
the library panel's folder selection (or a subfolder of one of its folders chosen in the bar):
one folder filter, shown in both places. Which file types exist and the range of dates taken are
read on the job runner's query queue (``refresh_choices``), never on the GUI thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

from PySide6.QtCore import QObject, Signal

from photofind.core.library import Library
from photofind.gui.jobs import JobRunner
from photofind.store.photo_filter import FILE_TYPES, PhotoFilter

#: How each file type is named to the user.
TYPE_NAMES = {
    "jpeg": "JPEG", "heic": "HEIC/HEIF", "png": "PNG", "webp": "WebP",
    "tiff": "TIFF", "gif": "GIF", "bmp": "BMP", "avif": "AVIF",
}
assert set(TYPE_NAMES) == set(FILE_TYPES)
#: The folder menu lists each library folder's subfolders (one level down), at most this many.
MENU_SUBFOLDERS = 30


def within(folder: str | None, root: str | None) -> bool:
    """``folder`` is ``root`` or below it (``root`` None: only ``folder`` None is)."""
    if root is None or folder is None:
        return folder == root
    return folder == root or folder.startswith(os.path.join(root, ""))


def day_start(day: dt.date) -> float:
    """Epoch seconds of local midnight at the start of ``day``."""
    return dt.datetime.combine(day, dt.time()).timestamp()


def day_of(seconds: float) -> dt.date:
    return dt.datetime.fromtimestamp(seconds).date()


class FilterState(QObject):
    """The session's filter; ``changed(PhotoFilter)`` after every change, ``choices_changed``
    when the library's file types or range of dates taken were read again."""

    changed = Signal(object)  # PhotoFilter
    choices_changed = Signal()

    def __init__(self, library: Library, jobs: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._jobs = jobs
        self._filter = PhotoFilter()
        self.library_folders: list[str] = []
        self.type_counts: dict[str, int] = {}
        self.taken_range: tuple[float, float] | None = None
        self.subfolders: dict[str, list[str]] = {}  # library folder -> its folders one level down

    # ------------------------------------------------------------------ the filter
    @property
    def photo_filter(self) -> PhotoFilter:
        return self._filter

    @property
    def active(self) -> bool:
        return self._filter.active

    @property
    def narrowing(self) -> bool:
        """More than browsing one library folder: a date, a type or a subfolder is set (what
        the heading calls "filtered")."""
        f = self._filter
        return bool(
            f.types or f.taken_after is not None or f.taken_before is not None or f.min_pixels
            or (f.folder and f.folder not in self.library_folders)
        )

    def set_filter(self, photo_filter: PhotoFilter) -> None:
        if photo_filter != self._filter:
            self._filter = photo_filter
            self.changed.emit(photo_filter)

    def set_folder(self, folder: str | None) -> None:
        self.set_filter(dataclasses.replace(self._filter, folder=folder or None))

    def set_types(self, types: frozenset[str]) -> None:
        self.set_filter(dataclasses.replace(self._filter, types=frozenset(types)))

    def set_dates(self, first: dt.date | None, last: dt.date | None) -> None:
        """Photos taken from the start of ``first`` to the end of ``last`` (each optional)."""
        self.set_filter(dataclasses.replace(
            self._filter,
            taken_after=None if first is None else day_start(first),
            taken_before=None if last is None else day_start(last + dt.timedelta(days=1)),
        ))

    def dates(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last day of the date-taken range (None: open)."""
        f = self._filter
        first = None if f.taken_after is None else day_of(f.taken_after)
        last = None if f.taken_before is None else day_of(f.taken_before) - dt.timedelta(days=1)
        return first, last

    def clear(self) -> None:
        """Every filter off (the folder too: the whole library)."""
        self.set_filter(PhotoFilter())

    def describe(self, folder: bool = True) -> str:
        """What is set, for headings and tooltips: "in Trips · JPEG, PNG · taken 2001-05-01 to …"."""
        f = self._filter
        parts = []
        if folder and f.folder:
            parts.append(f"in {self.folder_name(f.folder)}")
        if f.types:
            parts.append(", ".join(TYPE_NAMES[t] for t in sorted(f.types)))
        first, last = self.dates()
        if first and last:
            parts.append(f"taken {first:%Y-%m-%d} to {last:%Y-%m-%d}")
        elif first:
            parts.append(f"taken from {first:%Y-%m-%d}")
        elif last:
            parts.append(f"taken up to {last:%Y-%m-%d}")
        if f.min_pixels:
            parts.append(f"at least {f.min_pixels:,} pixels")
        return " · ".join(parts)

    def folder_name(self, folder: str) -> str:
        """A library folder by its name; a subfolder as ``Library-folder/sub/dir``."""
        for root in self.library_folders:
            if within(folder, root) and folder != root:
                return os.path.join(os.path.basename(root), os.path.relpath(folder, root))
        return os.path.basename(folder) or folder

    # ------------------------------------------------------------------ choices
    def set_library_folders(self, rows: list) -> None:  # type: ignore[type-arg]  # [FolderRow]
        """The library's folders were read (again): the folder menu's entries; a folder filter
        outside every folder left is dropped; the types and dates are read again."""
        self.library_folders = [r.path for r in rows]
        folder = self._filter.folder
        if folder and not any(within(folder, root) for root in self.library_folders):
            self.set_folder(None)
        self.choices_changed.emit()  # the folder menu and names
        self.refresh_choices()

    def refresh_choices(self) -> None:
        repo, roots = self._library.repo, list(self.library_folders)
        self._jobs.run(
            "query",
            lambda _c, _p: (repo.type_counts(), repo.taken_range(), {r: subfolders(r) for r in roots}),
            self._choices, lambda _exc: None, key="filter-choices",
        )

    def _choices(self, answer: tuple) -> None:  # type: ignore[type-arg]
        self.type_counts, self.taken_range, self.subfolders = answer
        self.choices_changed.emit()


def subfolders(root: str, limit: int = MENU_SUBFOLDERS) -> list[str]:
    """The folders directly inside ``root`` (not hidden), sorted by name; [] when unreadable."""
    try:
        with os.scandir(root) as entries:
            names = sorted(
                (e.name for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)),
                key=str.casefold,
            )
    except OSError:
        return []
    return [os.path.join(root, n) for n in names[:limit]]
