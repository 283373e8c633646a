"""The status bar's index progress: the run's phases and the backfills after it."""

from __future__ import annotations

from photofind.core.indexing.indexer import Progress
from photofind.gui.status import IndexStatus, describe


def test_the_backfills_show_what_they_do_and_how_far(qtbot) -> None:  # type: ignore[no-untyped-def]
    assert describe(Progress("dates", 250, 1000)) == "Reading dates taken 250/1,000 photos"
    assert describe(Progress("hashes", 400, 12000)) == "Hashing photos for Find duplicates 400/12,000 photos"
    status = IndexStatus()
    qtbot.addWidget(status)
    status.show_progress(Progress("hashes", 400, 12000))
    assert (status.bar.minimum(), status.bar.maximum(), status.bar.value()) == (0, 12000, 400)
    assert status.label.text() == "Hashing photos for Find duplicates 400/12,000 photos"
    status.show_progress(Progress("saving", 0, 0))
    assert status.bar.maximum() == 0  # busy indicator
