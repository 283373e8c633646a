"""Backfill of the date taken for photos indexed before photofind recorded it (migration 0003).

Run by the index job after its run: photos whose ``taken_source`` is still NULL get their date
read from the file's header only (``core/images/taken.py``: no decode, no embedding), a batch per
transaction, so a killed or cancelled run resumes with the photos not done yet. Photos of
offline folders wait until their folder is back; a file that cannot be read keeps the file time
of its row.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from photofind.core.images.taken import read_taken
from photofind.core.indexing.backfill import Backfill, run_backfill
from photofind.core.indexing.indexer import ProgressCallback
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK, TAKEN_FILE, folders, photos

BATCH = 500


def _waiting() -> ColumnElement[bool]:
    return and_(photos.c.taken_source.is_(None), photos.c.status == STATUS_OK, folders.c.online.is_(True))


def count_pending(repo: Repository) -> int:
    """How many photos of online folders still wait for their date taken."""
    query = select(func.count()).select_from(photos.join(folders, folders.c.id == photos.c.folder_id)).where(_waiting())
    with repo.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def pending(repo: Repository, limit: int, after_id: int = 0) -> list[tuple[int, str, int]]:
    """``(id, path, mtime_ns)`` of up to ``limit`` photos with an id above ``after_id`` still
    without a date taken."""
    query = (
        select(photos.c.id, photos.c.path, photos.c.mtime_ns)
        .select_from(photos.join(folders, folders.c.id == photos.c.folder_id))
        .where(_waiting(), photos.c.id > after_id)
        .order_by(photos.c.id)
        .limit(limit)
    )
    with repo.engine.connect() as conn:
        return [(int(r.id), r.path, int(r.mtime_ns)) for r in conn.execute(query)]


def _fill(repo: Repository, rows: Sequence[tuple[Any, ...]]) -> int:
    values = []
    for photo_id, path, mtime_ns in rows:
        taken, source = read_taken(path, mtime_ns)
        values.append((photo_id, taken if taken is not None else mtime_ns / 1e9, source or TAKEN_FILE))
    with repo.write() as w:
        w.set_taken(values)
    return len(values)


TAKEN_BACKFILL = Backfill(
    phase="dates", count=count_pending, pending=pending, fill=_fill, done_message="date taken read",
)


def backfill_taken(
    repo: Repository,
    cancel: threading.Event | None = None,
    batch: int = BATCH,
    progress: ProgressCallback | None = None,
) -> int:
    """Fill in the date taken of every photo that lacks it; returns how many were filled."""
    return run_backfill(repo, TAKEN_BACKFILL, batch, cancel, progress)
