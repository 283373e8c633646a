"""Backfill of the perceptual hash for photos indexed before photofind computed it (migration
0004).

Run by the index job after its run: photos whose ``phash`` is still NULL are decoded once more
at a reduced scale (a JPEG's DCT draft keeps the shorter side >= ``MIN_SIDE`` px, 1/8 of a
camera photo: a few ms each) and hashed (``core/images/phash.py``); nothing is embedded, and the
photo files are only read. A batch per transaction, so a killed or cancelled run resumes with
the photos not done yet. Photos of offline folders wait until their folder is back. A photo
that is no longer a decodable image gets ``NO_HASH`` (it keeps the model-only duplicate rule);
one the OS failed to read (permissions, a flaky drive) stays NULL and is tried by the next run.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

from photofind.core.images.decode import ImageDecodeError, decode_image
from photofind.core.images.phash import NO_HASH, perceptual_hash
from photofind.core.indexing.backfill import Backfill, run_backfill
from photofind.core.indexing.indexer import ProgressCallback
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK, folders, photos

BATCH = 200
#: Shorter side (px) the decode keeps at least: the hash looks at 32 x 32.
MIN_SIDE = 64


def _waiting() -> ColumnElement[bool]:
    return and_(photos.c.phash.is_(None), photos.c.status == STATUS_OK, folders.c.online.is_(True))


def count_pending(repo: Repository) -> int:
    """How many photos of online folders still wait for their hash."""
    query = select(func.count()).select_from(photos.join(folders, folders.c.id == photos.c.folder_id)).where(_waiting())
    with repo.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def pending(repo: Repository, limit: int, after_id: int = 0) -> list[tuple[int, str]]:
    """``(id, path)`` of up to ``limit`` photos with an id above ``after_id`` still without a hash."""
    query = (
        select(photos.c.id, photos.c.path)
        .select_from(photos.join(folders, folders.c.id == photos.c.folder_id))
        .where(_waiting(), photos.c.id > after_id)
        .order_by(photos.c.id)
        .limit(limit)
    )
    with repo.engine.connect() as conn:
        return [(int(r.id), r.path) for r in conn.execute(query)]


def hash_file(path: str) -> int | None:
    """The perceptual hash of the photo at ``path``; ``NO_HASH`` when it is not a decodable
    image, None when the OS could not read it (try again later)."""
    try:
        return perceptual_hash(decode_image(path, min_side=MIN_SIDE))
    except ImageDecodeError as exc:
        return None if exc.io_error else NO_HASH


def _fill(repo: Repository, rows: Sequence[tuple[Any, ...]]) -> int:
    values = [(photo_id, h) for photo_id, path in rows if (h := hash_file(path)) is not None]
    if values:
        with repo.write() as w:
            w.set_phashes(values)
    return len(values)


PHASH_BACKFILL = Backfill(
    phase="hashes", count=count_pending, pending=pending, fill=_fill, done_message="perceptual hash computed",
)


def backfill_phash(
    repo: Repository,
    cancel: threading.Event | None = None,
    batch: int = BATCH,
    progress: ProgressCallback | None = None,
) -> int:
    """Compute the hash of every photo that lacks it; returns how many were stored."""
    return run_backfill(repo, PHASH_BACKFILL, batch, cancel, progress)
