"""The commands of the ``photofind`` command line, one function each, and what they return.

``cli.py`` parses the arguments and turns exceptions into messages and exit codes; each command
here gets the parsed arguments and returns an exit code. The heavy modules (numpy, SQLAlchemy,
onnxruntime, Pillow) are imported inside the commands, so importing this module stays cheap and
``photofind --version`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import TYPE_CHECKING

from photofind.config import get_paths

if TYPE_CHECKING:
    from photofind.core.library import Library

DEFAULT_MODEL = "efficientnet-lite0"  # photofind.core.models.registry.DEFAULT_MODEL (tested)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def open_library(args: argparse.Namespace) -> Library:
    """The library the common options name (``--data-dir``, ``--model``, ``--device``, ...)."""
    from photofind.core.library import Library

    return Library(get_paths(args.data_dir), model=args.model, device=args.device, threads=args.threads)


def error(message: str) -> None:
    """One line on stderr, prefixed with the program name."""
    sys.stderr.write(f"photofind: {message}\n")


def print_json(data: object) -> None:
    """``data`` as indented JSON on stdout (non-ASCII paths kept as they are)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def cmd_index(args: argparse.Namespace) -> int:
    lib = open_library(args)
    with lib.writing(args.lock_timeout):  # held across adding the folders and the run
        targets = [lib.add_folder(path) for path in args.folders] if args.folders else None
        if targets is None and not lib.repo.folders():
            error("the library has no folders yet: photofind index FOLDER")
            return EXIT_USAGE
        cancel, pause = threading.Event(), threading.Event()
        from photofind.progress import ProgressBar

        if args.progress_jsonl:
            from photofind.core.indexing.child import follow_controls, progress_line

            progress = lambda p: print(progress_line(p), flush=True)  # noqa: E731
            follow_controls(sys.stdin, cancel, pause)
        else:
            progress = None if args.json else ProgressBar()
        upgrade = lib.upgrade_state()
        if upgrade.in_progress and not (args.json or args.progress_jsonl):
            print(
                f"Upgrading the library to the improved image descriptor: {upgrade.backlog} photos "
                "to re-embed (searches use the previous one until this is done)."
            )
        try:
            report = lib.run_index(targets, progress=progress, cancel=cancel, pause=pause, batch_size=args.batch_size)
        except KeyboardInterrupt:
            cancel.set()
            raise
        finally:
            if isinstance(progress, ProgressBar):
                progress.close()
    if args.progress_jsonl:
        print(json.dumps({"event": "report", **report.to_dict()}, ensure_ascii=False), flush=True)
        return EXIT_OK
    if args.json:
        print_json(report.to_dict())
        return EXIT_OK
    print(
        f"{report.added} added, {report.updated} updated, {report.moved} moved, "
        f"{report.copied} copies, {report.removed} removed, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped in {report.elapsed_s:.1f} s"
        + (f" ({report.photos_per_second:.1f} photos/s)" if report.embedded else "")
    )
    for path, reason in report.skipped[:20]:
        print(f"  skipped {path}: {reason}")
    if len(report.skipped) > 20:
        print(f"  ... and {len(report.skipped) - 20} more (photofind skipped)")
    for path, reason in report.scan_errors[:10]:
        print(f"  could not read {path}: {reason}")
    for path in report.offline_folders:
        print(f"  offline (photos kept): {path}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from photofind.cli_duplicates import iso_time, photo_filter

    regions = getattr(args, "region", None)
    if regions is not None and len(regions) != len(args.images):
        error(f"--region: give one region per query image ({len(regions)} regions, {len(args.images)} images)")
        return EXIT_USAGE
    try:
        filt = photo_filter(args)
    except ValueError as exc:
        error(str(exc))
        return EXIT_USAGE
    lib = open_library(args)
    searcher = lib.searcher(ranking_settings(args), filt)
    hits = searcher.search_image(args.images, k=args.top, regions=regions)
    if args.json:
        query = args.images[0] if len(args.images) == 1 else args.images
        out = [{**h.to_dict(), "taken": iso_time(h.taken)} for h in hits]
        data = {"query": query, "model": searcher.embedder.model_id, "hits": out}
        if regions is not None:
            data["regions"] = [r.text() for r in regions]
        print_json(data)
        return EXIT_OK
    if not hits:
        print("No photos in the library yet (photofind index FOLDER)."
            if lib.repo.embedding_count(searcher.embedder.model_id) == 0
            else "No photos match these filters." if filt is not None else "No matches.")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:3d}  {hit.score:.4f}  {hit.path}")
    return EXIT_OK


def ranking_settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The ``RankingSettings`` the search flags ask for."""
    from dataclasses import replace

    from photofind.core.search.ranking import RankingSettings

    if args.ranking == "plain":
        return RankingSettings.plain()
    return replace(
        RankingSettings(),
        pca=not args.no_pca,
        dba=not args.no_dba,
        query_expansion=not args.no_qe,
        diffusion=args.diffusion,
        rotations=not getattr(args, "no_rotations", False),
        trim_borders=not getattr(args, "no_trim", False),
        copy_first=not getattr(args, "no_copy_first", False),
        edit_copies=not (getattr(args, "no_copy_first", False) or getattr(args, "no_edited_copies", False)),
    )


def cmd_folders(args: argparse.Namespace) -> int:
    lib = open_library(args)
    if args.action == "add":
        for path in args.paths:
            row = lib.add_folder(path, lock_timeout=30)
            print(f"added {row.path} (run photofind index to index it)")
        return EXIT_OK
    if args.action == "remove":
        for path in args.paths:
            n = lib.remove_folder(path, lock_timeout=30)
            print(f"removed {path} from the library ({n} photos forgotten; files untouched)")
        return EXIT_OK
    rows = lib.repo.folders()
    if args.json:
        print_json([{"path": r.path, "online": r.online, "photos": r.photo_count, "skipped": r.skipped_count, "error": r.last_error} for r in rows])
        return EXIT_OK
    if not rows:
        print("No folders yet: photofind folders add FOLDER, or photofind index FOLDER")
    for r in rows:
        state = "online " if r.online else "OFFLINE"
        note = f"  ({r.last_error})" if r.last_error else ""
        print(f"{state}  {r.photo_count:7d} photos  {r.path}{note}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from photofind.core.models.registry import variant_of

    lib = open_library(args)
    info = lib.model_info
    stats = lib.repo.stats(info.model_id)
    # the file searches use: the newest ranking-space index, else the model's own
    files = lib.index_files(lib.search_model_id)
    ranked = [f for f in files if f != lib.index_path(lib.search_model_id)]
    index_file = ranked[0] if ranked else lib.index_path(lib.search_model_id)
    data = {
        "data_dir": str(lib.paths.data_dir),
        "folders": stats.folders,
        "folders_offline": stats.folders_offline,
        "photos": stats.photos,
        "embedded": stats.embedded,
        "skipped": stats.skipped,
        "skip_reasons": stats.skip_reasons,
        "offline_photos": stats.offline_photos,
        "model": info.model_id,
        "variant": variant_of(info.model_id),
        "index_file": str(index_file),
        "index_bytes": sum(f.stat().st_size for f in files),
        "db_bytes": lib.paths.db_path.stat().st_size,
        "searching_with": lib.search_model_id,
        "upgrade_backlog": lib.upgrade_state().backlog,
        "log_file": str(lib.paths.log_file),
        "taken": lib.repo.taken_sources(),
        "bad_exif_dates": lib.repo.photos_with_taken_source("bad-exif"),
        "perceptual_hashes": lib.repo.perceptual_hash_counts(),
    }
    if args.json:
        print_json(data)
        return EXIT_OK
    print(f"Data dir:   {data['data_dir']}")
    print(f"Folders:    {stats.folders} ({stats.folders_offline} offline)")
    print(f"Photos:     {stats.photos} ({stats.offline_photos} offline)")
    print(f"Embedded:   {stats.embedded} with {info.model_id} ({data['variant']})")
    if data["upgrade_backlog"]:
        print(
            f"Upgrading:  {data['upgrade_backlog']} photos still to re-embed (photofind index); "
            f"searching with {data['searching_with']} until then"
        )
    print(f"Skipped:    {stats.skipped}")
    for reason, n in stats.skip_reasons.items():
        print(f"  {n:6d}  {reason}")
    taken = data["taken"]
    print(
        f"Date taken: {taken.get('exif', 0)} from EXIF, {taken.get('file', 0)} file time (no EXIF date), "
        f"{taken.get('bad-exif', 0)} file time (broken or absurd EXIF date)"
        + (f", {taken['pending']} not read yet (photofind index)" if taken.get("pending") else "")
    )
    for path in data["bad_exif_dates"][:10]:
        print(f"  bad EXIF date: {path}")
    if len(data["bad_exif_dates"]) > 10:
        print(f"  ... and {len(data['bad_exif_dates']) - 10} more (photofind stats --json)")
    hashes = data["perceptual_hashes"]
    print(
        f"Hashes:     {hashes['hashed']} perceptual hashes for Find duplicates, {hashes['none']} photos too flat to hash"
        + (f", {hashes['pending']} not computed yet (photofind index)" if hashes["pending"] else "")
    )
    print(f"Index:      {data['index_bytes'] / 1e6:.1f} MB  {index_file}")
    print(f"Database:   {data['db_bytes'] / 1e6:.1f} MB  {lib.paths.db_path}")
    print(f"Log file:   {data['log_file']}")
    return EXIT_OK


def cmd_skipped(args: argparse.Namespace) -> int:
    lib = open_library(args)
    rows = lib.repo.skipped()
    if args.json:
        print_json([{"path": r.path, "reason": r.skip_reason} for r in rows])
        return EXIT_OK
    for r in rows:
        print(f"{r.path}: {r.skip_reason}")
    if not rows:
        print("No skipped files.")
    return EXIT_OK


def cmd_rebuild_index(args: argparse.Namespace) -> int:
    lib = open_library(args)
    n = lib.rebuild_index()
    print(f"Rebuilt the search index from the database: {n} photos.")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from photofind.core.models.registry import LITE0_INT8, available_models, default_model_name, variant_of

    paths = get_paths(args.data_dir).ensure()
    notes = {
        LITE0_INT8: "int8, the default on CPU",
        DEFAULT_MODEL: "float32, the default with --device cuda",
    }
    for name in available_models(paths.models_dir):
        print(name + (f"  ({notes[name]})" if name in notes else ""))
    if paths.db_path.is_file() and not args.model:
        lib = open_library(args)
        try:
            name = default_model_name(args.device, lib.repo.has_vectors_of_model)
        finally:
            lib.close()
        print(f"This library uses {name} ({variant_of(name)}) with --device {args.device}.")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from photofind.core.watcher import watch_library  # watchdog is only needed here

    lib = open_library(args)
    print("Watching the library folders; Ctrl+C stops.", file=sys.stderr)
    return watch_library(lib, debounce_s=args.debounce, on_report=lambda r: print(_summary(r), flush=True))


def _summary(report) -> str:  # type: ignore[no-untyped-def]
    return (
        f"{report.added} added, {report.updated} updated, {report.moved} moved, "
        f"{report.removed} removed, {len(report.skipped)} skipped"
    )


COMMANDS = {
    "index": cmd_index,
    "search": cmd_search,
    "folders": cmd_folders,
    "stats": cmd_stats,
    "skipped": cmd_skipped,
    "rebuild-index": cmd_rebuild_index,
    "models": cmd_models,
    "watch": cmd_watch,
}
