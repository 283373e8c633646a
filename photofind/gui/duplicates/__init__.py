"""Library > Find duplicates (``view.DuplicatesView``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photofind.gui.duplicates.view import DuplicatesView
    from photofind.gui.main_window import MainWindow


def show_duplicates(window: MainWindow) -> DuplicatesView:
    """Open (or raise) the window's duplicates view and look for duplicates."""
    from photofind.gui.duplicates.view import DuplicatesView

    view = getattr(window, "duplicates_view", None)
    if view is None:
        view = DuplicatesView(window.library, window.jobs, window, filters=window.filters)
        view.library_changed.connect(window.index.library_changed)
        window.duplicates_view = view  # type: ignore[attr-defined]
    view.show()
    view.raise_()
    view.tree.setFocus()  # Escape closes the view (in its filter bar, Escape clears the filters)
    view.find()
    return view
