"""The session's photo filter (folder, date taken, file type) and the bar that edits it.

``FilterState`` owns the one ``PhotoFilter`` of the app session; ``FilterBar`` widgets (one above
the results grid, one in the duplicates view) show and change it. Whoever shows photos listens to
``FilterState.changed`` and runs its view again on the job runner's query queue.
"""

from photofind.gui.filters.bar import FilterBar
from photofind.gui.filters.state import FilterState, within

__all__ = ["FilterBar", "FilterState", "within"]
