"""The batched loop the index job's backfills share (``taken_backfill.py``, ``phash_backfill.py``).

A backfill fills in a column for photos indexed before photofind recorded it, after the index
job's run: rows still waiting are read ``batch`` at a time in id order, each batch is computed
and written in its own transaction (a killed or cancelled run resumes with the photos not done
yet), and the loop keeps a cursor (the last id it saw), so a photo whose file could not be read
stays waiting for the next run without being read again in this one. Progress goes to the index
job's callback as ``Progress(phase, done, total)``, ``total`` counted when the loop starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from photofind.core.indexing.indexer import Progress, ProgressCallback
from photofind.store.repository import Repository

logger = logging.getLogger(__name__)

#: What the CLI's progress line and the app's status bar say during each backfill phase.
BACKFILL_LABELS = {
    "dates": "Reading dates taken",
    "hashes": "Hashing photos for Find duplicates",
}


@dataclass(frozen=True)
class Backfill:
    """One backfill: its progress ``phase`` (a key of ``BACKFILL_LABELS``), how many photos wait
    (``count``), up to ``limit`` waiting rows after an id (``pending(repo, limit, after_id)``:
    tuples, id first, in id order), and ``fill(repo, rows)``: compute and store one batch,
    returning how many rows it stored."""

    phase: str
    count: Callable[[Repository], int]
    pending: Callable[[Repository, int, int], Sequence[tuple[Any, ...]]]
    fill: Callable[[Repository, Sequence[tuple[Any, ...]]], int]
    done_message: str  #: logged as "<done_message> for N photos in S s"


def run_backfill(
    repo: Repository,
    backfill: Backfill,
    batch: int,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Run ``backfill`` until nothing waits (or ``cancel``); returns how many rows it stored."""
    started = time.perf_counter()
    total = backfill.count(repo) if progress is not None else 0
    if progress is not None and total:
        progress(Progress(backfill.phase, 0, total))
    stored = seen = after = 0
    while cancel is None or not cancel.is_set():
        rows = backfill.pending(repo, batch, after)
        if not rows:
            break
        after = int(rows[-1][0])
        stored += backfill.fill(repo, rows)
        seen += len(rows)
        if progress is not None:
            progress(Progress(backfill.phase, min(seen, total), max(total, seen)))
    if stored:
        logger.info("%s for %d photos in %.1f s", backfill.done_message, stored, time.perf_counter() - started)
    return stored
