"""``photofind duplicates``: list near-duplicate groups; with ``--trash``, move all but each
group's keeper to the desktop's trash after a confirmation. Also the filter flags shared with
``search`` (``add_filter_arguments``, ``photo_filter``)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from photofind.cli_commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, open_library, print_json

if TYPE_CHECKING:
    from photofind.core.search.duplicates import DuplicateGroup, DuplicatePhoto
    from photofind.store.photo_filter import PhotoFilter


def add_filter_arguments(p: argparse.ArgumentParser) -> None:
    """The filter flags of ``search`` and ``duplicates``."""
    p.add_argument("--folder", help="only photos in this folder or its subfolders")
    p.add_argument("--taken-after", metavar="YYYY-MM-DD", help="only photos taken on or after this day")
    p.add_argument("--taken-before", metavar="YYYY-MM-DD", help="only photos taken before this day")
    p.add_argument("--min-pixels", type=int, metavar="N", help="only photos of at least N pixels (width x height)")
    p.add_argument("--type", metavar="jpeg,heic,...", help="only these file types")


def _day(text: str | None, flag: str) -> float | None:
    if text is None:
        return None
    try:
        day = dt.datetime.strptime(text, "%Y-%m-%d")
    except ValueError as exc:
        raise ValueError(f"{flag} wants a date like 2024-07-31, not {text!r}") from exc
    return day.timestamp()  # local midnight, as the dates shown are local times


def photo_filter(args: argparse.Namespace) -> PhotoFilter | None:
    """The ``PhotoFilter`` the flags ask for (None without any); raises ValueError for bad input."""
    from photofind.store.photo_filter import PhotoFilter, parse_types

    f = PhotoFilter.for_folder(
        getattr(args, "folder", None),
        taken_after=_day(getattr(args, "taken_after", None), "--taken-after"),
        taken_before=_day(getattr(args, "taken_before", None), "--taken-before"),
        min_pixels=getattr(args, "min_pixels", None),
        types=parse_types(getattr(args, "type", None) or ""),
    )
    return f if f.active else None


def cmd_duplicates(args: argparse.Namespace) -> int:
    try:
        filt = photo_filter(args)
    except ValueError as exc:
        error(str(exc))
        return EXIT_USAGE
    threshold = args.threshold
    if threshold is not None and not 0.0 < threshold <= 1.0:
        error("--threshold is a similarity between 0 and 1 (e.g. 0.9)")
        return EXIT_USAGE
    from photofind.core.search.duplicates import DEFAULT_THRESHOLD, trash_candidates

    lib = open_library(args)
    groups = lib.find_duplicates(threshold=threshold or DEFAULT_THRESHOLD, photo_filter=filt)
    if args.json:
        print_json({"groups": [_group_json(g) for g in groups]})
    else:
        _print_groups(groups)
    if not args.trash or not groups:
        return EXIT_OK
    others = trash_candidates(groups)
    total = sum(p.size for p in others)
    if not args.yes:
        prompt = f"Move {len(others)} photos ({_mb(total)}) to the trash, keeping one of each group? [y/N] "
        if not _confirm(prompt):
            print("Nothing was moved.", file=sys.stderr)
            return EXIT_OK
    report = lib.trash_duplicates(groups, lock_timeout=30)
    out = sys.stderr if args.json else sys.stdout
    print(f"Moved {len(report.moved)} photos ({_mb(report.bytes_moved)}) to the trash.", file=out)
    for path, reason in report.failed:
        print(f"  not moved: {path}: {reason}", file=out)
    return EXIT_OK if not report.failed else EXIT_FAILED


def _confirm(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _group_json(group: DuplicateGroup) -> dict[str, object]:
    return {"keep": group.keep.path, "photos": [_photo_json(p) for p in group.photos]}


def _photo_json(p: DuplicatePhoto) -> dict[str, object]:
    return {
        "path": p.path, "width": p.width, "height": p.height, "size": p.size,
        "taken": iso_time(p.taken), "similarity": round(p.similarity, 4),
    }


def iso_time(taken: float | None) -> str | None:
    if taken is None:
        return None
    return dt.datetime.fromtimestamp(taken).isoformat(timespec="seconds")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _print_groups(groups: list[DuplicateGroup]) -> None:
    if not groups:
        print("No duplicates found.")
        return
    spare = 0
    for n, g in enumerate(groups, 1):
        print(f"Group {n}: {len(g.photos)} photos")
        for p in g.photos:
            mark = "keep" if p is g.keep else "    "
            size = f"{p.width or '?'}x{p.height or '?'}"
            taken = iso_time(p.taken) or "-"
            print(f"  {mark}  {p.similarity:.4f}  {size:>11}  {_mb(p.size):>9}  {taken:19}  {p.path}")
        spare += sum(p.size for p in g.others)
    n_others = sum(len(g.others) for g in groups)
    print(
        f"{len(groups)} groups; {n_others} photos ({_mb(spare)}) could go to the trash. Nothing was "
        "changed: --trash moves them to the desktop's trash (restorable)."
    )
