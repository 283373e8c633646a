"""Backfill of the date taken for photos indexed before photofind recorded it (migration 0003).

Run by the index job after its run: photos whose ``taken_source`` is still NULL get their date
read from the file's header only (``core/images/taken.py``: no decode, no embedding), a batch per
transaction, so a killed or cancelled run resumes with the photos not done yet. Photos of
offline folders wait until their folder is back; a file that cannot be read keeps the file time
of its row.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select

from photofind.core.images.taken import read_taken
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK, TAKEN_FILE, folders, photos

logger = logging.getLogger(__name__)

BATCH = 500


def pending(repo: Repository, limit: int) -> list[tuple[int, str, int]]:
    """``(id, path, mtime_ns)`` of up to ``limit`` photos still without a date taken."""
    query = (
        select(photos.c.id, photos.c.path, photos.c.mtime_ns)
        .select_from(photos.join(folders, folders.c.id == photos.c.folder_id))
        .where(photos.c.taken_source.is_(None), photos.c.status == STATUS_OK, folders.c.online.is_(True))
        .order_by(photos.c.id)
        .limit(limit)
    )
    with repo.engine.connect() as conn:
        return [(int(r.id), r.path, int(r.mtime_ns)) for r in conn.execute(query)]


def backfill_taken(repo: Repository, cancel: threading.Event | None = None, batch: int = BATCH) -> int:
    """Fill in the date taken of every photo that lacks it; returns how many were filled."""
    done = 0
    started = time.perf_counter()
    while cancel is None or not cancel.is_set():
        rows = pending(repo, batch)
        if not rows:
            break
        values = []
        for photo_id, path, mtime_ns in rows:
            taken, source = read_taken(path, mtime_ns)
            values.append((photo_id, taken if taken is not None else mtime_ns / 1e9, source or TAKEN_FILE))
        with repo.write() as w:
            w.set_taken(values)
        done += len(values)
    if done:
        logger.info("date taken read for %d photos in %.1f s", done, time.perf_counter() - started)
    return done
