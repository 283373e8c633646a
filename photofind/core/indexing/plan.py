"""Comparing the folders on disk with the library: what to embed, move, remove or leave alone.

Change detection is mark-and-sweep: every file found is matched to its row by path; equal size
and mtime means unchanged. Rows whose file was not found are candidates for removal, but first
each new file of the same size is fingerprinted, and a fingerprint match means the photo was
moved or renamed: its row is re-pointed and its embeddings kept.

Nothing is removed where the scan could not see: a missing or unreadable folder, a folder that
vanished during the walk, a folder that is suddenly empty (the bare mount point of an unplugged
drive) or a sub-folder that could not be listed keep their photos, marked offline.

A file whose name is not valid UTF-8 (possible on Linux: names are bytes) can't be stored as
SQLite TEXT or shown by the GUI, so it is not decoded; it gets a skipped row under a readable
stand-in path (``scanner.storable_path``) telling the user to rename it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from photofind.core.indexing.scanner import (
    FileStat,
    FolderUnavailable,
    fingerprint,
    storable_path,
    walk_folder,
)
from photofind.store.repository import FolderRow, PhotoRow, Repository
from photofind.store.schema import STATUS_OK

logger = logging.getLogger(__name__)

BAD_NAME_REASON = "the file name is not valid UTF-8; rename the file to index it"


@dataclass(frozen=True)
class PlannedFile:
    """A file to decode and embed; ``photo_id`` is None for a file new to the library."""

    folder_id: int
    stat: FileStat
    photo_id: int | None = None
    content_changed: bool = False


@dataclass(frozen=True)
class PlannedMove:
    photo_id: int
    folder_id: int
    stat: FileStat


@dataclass
class IndexPlan:
    to_embed: list[PlannedFile] = field(default_factory=list)
    moves: list[PlannedMove] = field(default_factory=list)
    removed_ids: list[int] = field(default_factory=list)
    unchanged: int = 0
    folder_states: list[tuple[int, bool, str | None]] = field(default_factory=list)
    offline_folders: list[str] = field(default_factory=list)
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    #: Files whose name can't be stored; ``stat.path`` is the stand-in path recorded instead.
    bad_names: list[PlannedFile] = field(default_factory=list)


def build_plan(
    repo: Repository,
    folders: Sequence[FolderRow],
    model_id: str,
    *,
    cancel: threading.Event | None = None,
    on_folder: Callable[[int, str], None] | None = None,
) -> IndexPlan:
    """Walk ``folders`` and decide what the index run has to do (the DB is only read here)."""
    plan = IndexPlan()
    new_files: list[tuple[int, FileStat]] = []
    vanished: list[PhotoRow] = []
    for done, folder in enumerate(folders):
        if cancel is not None and cancel.is_set():
            break
        if on_folder is not None:
            on_folder(done, folder.path)
        _plan_folder(repo, folder, model_id, plan, new_files, vanished)
    _match_moves(new_files, vanished, plan)
    return plan


def _plan_folder(
    repo: Repository,
    folder: FolderRow,
    model_id: str,
    plan: IndexPlan,
    new_files: list[tuple[int, FileStat]],
    vanished: list[PhotoRow],
) -> None:
    errors: list[tuple[str, str]] = []
    try:
        stats = list(walk_folder(folder.path, on_error=lambda p, r: errors.append((p, r))))
    except FolderUnavailable as exc:
        _mark_offline(folder, plan, str(exc))
        return
    rows = repo.photos_in_folder(folder.id, model_id)
    if not os.path.isdir(folder.path):
        _mark_offline(folder, plan, "the folder disappeared while it was being scanned")
        return
    if not stats and rows:
        _mark_offline(folder, plan, "the folder is empty now (an unplugged drive?); photos kept")
        return
    plan.scan_errors.extend(errors)
    plan.folder_states.append((folder.id, True, None))

    seen: set[str] = set()
    for stat in stats:
        key = storable_path(stat.path)
        if key != stat.path:
            seen.add(key)
            row = rows.get(key)
            if row is not None and (row.size, row.mtime_ns) == (stat.size, stat.mtime_ns):
                plan.unchanged += 1
            else:
                stand_in = FileStat(key, stat.size, stat.mtime_ns)
                plan.bad_names.append(PlannedFile(folder.id, stand_in, row.id if row else None))
            continue
        row = rows.get(stat.path)
        if row is None:
            new_files.append((folder.id, stat))
            continue
        seen.add(stat.path)
        if row.size == stat.size and row.mtime_ns == stat.mtime_ns:
            if row.status == STATUS_OK and not row.embedded:
                plan.to_embed.append(PlannedFile(folder.id, stat, row.id, content_changed=False))
            else:
                plan.unchanged += 1
        else:
            plan.to_embed.append(PlannedFile(folder.id, stat, row.id, content_changed=True))

    unseen_dirs = tuple(os.path.join(path, "") for path, _reason in errors)
    for path, row in rows.items():
        if path in seen:
            continue
        if unseen_dirs and path.startswith(unseen_dirs):
            plan.unchanged += 1  # under a sub-folder we could not list: keep it
            continue
        vanished.append(row)


def _mark_offline(folder: FolderRow, plan: IndexPlan, reason: str) -> None:
    logger.warning("Folder %s is offline: %s", folder.path, reason)
    plan.folder_states.append((folder.id, False, reason))
    plan.offline_folders.append(folder.path)


def _match_moves(
    new_files: list[tuple[int, FileStat]], vanished: list[PhotoRow], plan: IndexPlan
) -> None:
    """Pair new files with vanished rows of the same size and content fingerprint."""
    by_key: dict[tuple[int, str], list[PhotoRow]] = {}
    sizes: set[int] = set()
    for row in vanished:
        if row.fingerprint:
            by_key.setdefault((row.size, row.fingerprint), []).append(row)
            sizes.add(row.size)
    moved_ids: set[int] = set()
    for folder_id, stat in new_files:
        if stat.size in sizes:
            try:
                fp = fingerprint(stat.path, stat.size)
            except OSError:
                fp = None
            candidates = by_key.get((stat.size, fp)) if fp else None
            if candidates:
                row = candidates.pop()
                moved_ids.add(row.id)
                plan.moves.append(PlannedMove(row.id, folder_id, stat))
                continue
        plan.to_embed.append(PlannedFile(folder_id, stat))
    plan.removed_ids.extend(row.id for row in vanished if row.id not in moved_ids)
