"""Moving duplicates to the desktop's trash: the one place photofind touches a user's photo.

Only on the user's explicit request (``photofind duplicates --trash``, the app's Find
duplicates view after a confirmation), and only with ``send2trash`` (restorable; never a
permanent delete). ``Library.trash_duplicates`` runs this under the writer lock and then lets
the index job bring the saved indexes in step. A photo whose move fails stays where it is and
in the library, with the reason; a group whose keeper is no longer on disk (or changed since
it was indexed) is left whole, so a photo is never trashed without its copy to keep.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from photofind.core.search.duplicates import DuplicateGroup, DuplicatePhoto
from photofind.store.repository import Repository

logger = logging.getLogger(__name__)

TrashFunction = Callable[[str], None]


@dataclass
class TrashReport:
    moved: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  #: (path, reason)
    bytes_moved: int = 0


def default_trash() -> TrashFunction:
    """``send2trash.send2trash`` (imported here: only this action needs it)."""
    from send2trash import send2trash

    return lambda path: send2trash(path)


def _unchanged(photo: DuplicatePhoto, repo: Repository) -> str | None:
    """Why ``photo`` must not be touched now (None when it is still what the library knows)."""
    row = repo.photo_by_path(photo.path)
    if row is None or row.id != photo.photo_id:
        return "no longer in the library"
    try:
        st = os.stat(photo.path)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if st.st_size != row.size or st.st_mtime_ns != row.mtime_ns:
        return "changed since it was indexed (run photofind index first)"
    return None


def move_to_trash(
    repo: Repository, groups: Sequence[DuplicateGroup], trash: TrashFunction
) -> tuple[TrashReport, list[int]]:
    """Trash every photo of ``groups`` but the keeper and forget the moved ones in the
    database (one transaction). Returns the report and the ids forgotten. The caller holds
    the writer lock."""
    report = TrashReport()
    moved_ids: list[int] = []
    for group in groups:
        problem = _unchanged(group.keep, repo)
        if problem is not None:
            for p in group.others:
                report.failed.append((p.path, f"kept: the photo to keep, {group.keep.path}, is {problem}"))
            continue
        for photo in group.others:
            reason = _unchanged(photo, repo)
            if reason is None:
                try:
                    trash(photo.path)
                except Exception as exc:  # noqa: BLE001 - any failure leaves the photo in place
                    reason = _reason(exc)
            if reason is not None:
                logger.warning("not moved to the trash: %s: %s", photo.path, reason)
                report.failed.append((photo.path, reason))
                continue
            logger.info("moved to the trash: %s", photo.path)
            report.moved.append(photo.path)
            report.bytes_moved += photo.size
            moved_ids.append(photo.photo_id)
    if moved_ids:
        with repo.write() as w:
            w.delete_photos(moved_ids)
    return report, moved_ids


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
