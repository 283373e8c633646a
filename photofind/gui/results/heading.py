"""What the results pane says above the grid, and in the grid when it is empty.

A plain function of the pane's state (the browse scope, the query, how many photos are shown or
pass the filter), so the words live in one place: the heading names the folder and says
"filtered" with what is set when a filter narrows the view; an empty grid says why and how to get
photos back ("No photos match these filters" with the way to clear them).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy

from photofind.gui.filters import FilterState

EMPTY_LIBRARY = (
    "Your library is empty.\n\nAdd a folder of photos with Add… (or drop a folder here). "
    "photofind indexes it in the background; then drop or paste a photo to find similar ones."
)
NOTHING_EMBEDDED = (
    "No indexed photos to compare with yet: indexing may still be running (see the status bar). "
    "Results appear when it has embedded some photos."
)
NO_MATCH = "No photos match these filters."
CLEAR_HINT = "Click Clear filters above the photos (or press Ctrl+L) to see {what} again."


@dataclass(frozen=True)
class Words:
    heading: str
    empty: str  # "" leaves the empty grid blank
    detail: str = ""  # the heading's tooltip: what the filter lets through


class HeadingLabel(QLabel):
    """A one-line label that elides a text too long for its width instead of widening the
    window (the full text is in its tooltip)."""

    def __init__(self) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._full = ""

    def set_words(self, words: Words) -> None:
        self._full = words.heading
        self.setToolTip(words.heading + (f"\n{words.detail}" if words.detail else ""))
        self._elide()

    def text(self) -> str:  # type: ignore[override]
        """The whole heading (what is painted may be elided)."""
        return self._full

    def setText(self, text: str) -> None:  # type: ignore[override]
        self._full = text
        self._elide()

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(20, self.width())))


def browse_words(
    filters: FilterState, scope_name: str, scope_photos: int, library_empty: bool,
    passing: int | None, offline_text: str | None,
) -> Words:
    """Browsing: ``passing`` is how many photos pass an active filter (None: not counted yet)."""
    f = filters.photo_filter
    name = filters.folder_name(f.folder) if f.folder else "All photos"
    photos = scope_photos if passing is None or not f.active else passing
    narrowing = filters.narrowing
    if f.active and passing is None:  # counting
        heading = f"{name} · newest first"
    elif photos:
        heading = f"{name} · newest first · {photos:,} photos"
    else:
        heading = f"{name} · no photos" + ("" if narrowing else " yet")
    if narrowing:
        heading += " · filtered"
    if library_empty:
        empty = EMPTY_LIBRARY
    elif offline_text:
        empty = offline_text
    elif narrowing and passing == 0:
        empty = f"{NO_MATCH}\n\n" + CLEAR_HINT.format(what="all your photos")
    elif not photos and not (f.active and passing is None):
        empty = "No photos here yet. New photos appear while indexing runs."
    else:
        empty = ""
    return Words(heading, empty, _detail(filters))


def search_words(
    filters: FilterState, caption: str, shown: int, k: int, regions: bool, searching: bool,
    no_library_text: str,
) -> Words:
    """A query's answer (``shown`` photos of the ``k`` asked for)."""
    filtered = filters.active
    suffix = " · filtered" if filtered else ""
    detail = _detail(filters)
    if searching:
        return Words(f"Searching for photos like {caption}{suffix}…", "", detail)
    part = " (the part you selected)" if regions else ""
    if shown:
        if filtered and shown < k:
            return Words(f"{shown} photos most like {caption}{part} · all that pass the filters", "", detail)
        return Words(f"{shown} photos most like {caption}{part}{suffix}", "", detail)
    if filtered:
        return Words(
            f"No photos like {caption}{suffix}",
            f"{NO_MATCH}\n\n" + CLEAR_HINT.format(what="the best matches in your whole library"),
            detail,
        )
    return Words(f"No photos like {caption}", no_library_text)


def _detail(filters: FilterState) -> str:
    described = filters.describe() if filters.active else ""
    return f"Filtered: {described}" if described else ""
