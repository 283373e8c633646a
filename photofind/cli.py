"""The headless ``photofind`` command line: everything the GUI does, scriptable.

Exit codes: 0 the command did what it was asked (an index run that skipped files still
completed), 1 the command failed, 2 usage error, 3 the library is busy (another process writes).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
import threading
from collections.abc import Sequence

from typing import TYPE_CHECKING

from photofind import __version__
from photofind.config import get_paths

if TYPE_CHECKING:
    from photofind.core.library import Library

# The heavy modules (numpy, SQLAlchemy, onnxruntime, Pillow) are imported by the commands that
# need them, so --version and --help answer at once (and the packaged app starts faster).
DEFAULT_MODEL = "efficientnet-lite0"  # photofind.core.models.registry.DEFAULT_MODEL (tested)

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    # Shared options are accepted before or after the command. They default to SUPPRESS so a
    # subcommand's parser does not overwrite a value given before the command; COMMON_DEFAULTS
    # fills in whatever was not given.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--data-dir", help="library location (default: $PHOTOFIND_DATA_DIR or the user data dir)")
    common.add_argument("--model", help=f"model to use (default: {DEFAULT_MODEL})")
    common.add_argument("--device", choices=("auto", "cuda", "cpu"), help="where the model runs (default: auto)")
    common.add_argument("--threads", type=int, help="CPU threads for the model (default: all cores)")
    common.add_argument("-v", "--verbose", action="count", help="more log output (-vv for debug)")

    parser = argparse.ArgumentParser(
        prog="photofind",
        description="Find photos in your own collection by example. Without a command, opens the app.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"photofind {__version__}")
    parser.add_argument(
        "--smoke-test", action="store_true", help="open the app window, process events briefly, close it and exit 0 (for CI)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", parents=[common], help="add folders (if given) and bring the library up to date")
    p.add_argument("folders", nargs="*", help="folders to add and index (default: every library folder)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("search", parents=[common], help="rank library photos by similarity to an image")
    p.add_argument("images", nargs="+", help="query image file(s); several make one query (mean)")
    p.add_argument("-k", "--top", type=int, default=20, help="how many results (default 20)")
    p.add_argument("--json", action="store_true", help='print {"query", "model", "hits": [...]}')
    p.add_argument(
        "--ranking", choices=("default", "plain"), default="default",
        help="default: library PCA + neighbour augmentation + query expansion; plain: cosine only",
    )
    p.add_argument("--no-pca", action="store_true", help="switch off the library-learned PCA")
    p.add_argument("--no-dba", action="store_true", help="switch off neighbour augmentation (DBA)")
    p.add_argument("--no-qe", action="store_true", help="switch off query expansion")
    p.add_argument("--diffusion", action="store_true", help="add kNN-graph diffusion re-ranking")

    p = sub.add_parser("folders", parents=[common], help="list, add or remove library folders")
    p.add_argument("action", nargs="?", choices=("list", "add", "remove"), default="list")
    p.add_argument("paths", nargs="*")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("stats", parents=[common], help="what the library holds")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("skipped", parents=[common], help="files that could not be indexed, with reasons")
    p.add_argument("--json", action="store_true")

    sub.add_parser("rebuild-index", parents=[common], help="rebuild the search index from the database")
    sub.add_parser("models", parents=[common], help="list the models that can be used")

    p = sub.add_parser("watch", parents=[common], help="keep the library up to date while folders change")
    p.add_argument("--debounce", type=float, default=2.0, help="seconds of quiet before re-indexing")
    return parser


COMMON_DEFAULTS = {"data_dir": None, "model": None, "device": "auto", "threads": None, "verbose": 0}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    for key, value in COMMON_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    _safe_streams()
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    handler = COMMANDS[args.command]
    from sqlalchemy.exc import DatabaseError as SQLDatabaseError

    from photofind.core.images import ImageDecodeError
    from photofind.core.library import FolderError, LibraryBusy, LibraryReadOnly
    from photofind.core.models.registry import ModelNotAvailable
    from photofind.store.db import DatabaseError, damaged_message

    try:
        return handler(args)
    except LibraryBusy as exc:
        _error(str(exc))
        return EXIT_BUSY
    except LibraryReadOnly as exc:
        _error(str(exc))
        return EXIT_FAILED
    except SQLDatabaseError as exc:  # raised by SQLite in the middle of a command
        detail = str(getattr(exc, "orig", None) or exc)
        if "malformed" in detail or "not a database" in detail:
            paths = get_paths(args.data_dir)
            _error(damaged_message(paths.db_path, paths.backups_dir, detail))
        else:  # could not write: full disk, read-only, I/O error
            _error(_storage_message(detail, args))
        return EXIT_FAILED
    except (FolderError, ModelNotAvailable, DatabaseError, ImageDecodeError) as exc:
        reason = getattr(exc, "reason", None)
        _error(f"cannot read the query image: {reason}" if reason else str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG):
            _error(_storage_message(exc.strerror or str(exc), args))
        else:
            _error(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
        return EXIT_FAILED


def _storage_message(detail: str, args: argparse.Namespace) -> str:
    """Disk full / read-only / I/O failures of the library's own files, said plainly."""
    where = get_paths(args.data_dir).data_dir
    return (
        f"cannot write the library in {where} ({detail}). Free some disk space or make the "
        "folder writable and run the command again; nothing already indexed was lost, and "
        "search still works."
    )


def _safe_streams() -> None:
    """Never crash on printing a path that is not valid Unicode (POSIX names are bytes)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # pragma: no cover - a closed or odd stream
                pass


def _open(args: argparse.Namespace) -> Library:
    from photofind.core.library import Library

    return Library(get_paths(args.data_dir), model=args.model, device=args.device, threads=args.threads)


def _error(message: str) -> None:
    sys.stderr.write(f"photofind: {message}\n")


def _json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------- commands
def cmd_index(args: argparse.Namespace) -> int:
    lib = _open(args)
    with lib.writing():
        targets = [lib.add_folder(path) for path in args.folders] if args.folders else None
        if targets is None and not lib.repo.folders():
            _error("the library has no folders yet: photofind index FOLDER")
            return EXIT_USAGE
        cancel = threading.Event()
        from photofind.progress import ProgressBar

        progress = None if args.json else ProgressBar()
        upgrade = lib.upgrade_state()
        if upgrade.in_progress and not args.json:
            print(
                f"Upgrading the library to the improved image descriptor: {upgrade.backlog} photos "
                "to re-embed (searches use the previous one until this is done)."
            )
        try:
            report = lib.indexer(batch_size=args.batch_size).run(targets, progress, cancel)
        except KeyboardInterrupt:
            cancel.set()
            raise
        if not report.cancelled:
            lib.retire_previous_models()
        # Build (or catch up) the ranking index now, while we hold the writer lock: a CLI
        # search is a short process that could not wait for a background build.
        lib.searcher(build="never").prepare_ranking()
    if args.json:
        _json(
            {
                "added": report.added,
                "updated": report.updated,
                "moved": report.moved,
                "copied": report.copied,
                "removed": report.removed,
                "unchanged": report.unchanged,
                "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
                "offline_folders": report.offline_folders,
                "scan_errors": [{"path": p, "reason": r} for p, r in report.scan_errors],
                "cancelled": report.cancelled,
                "seconds": round(report.elapsed_s, 2),
                "photos_per_second": round(report.photos_per_second, 1),
            }
        )
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
    lib = _open(args)
    searcher = lib.searcher(ranking_settings(args))
    hits = searcher.search_image(args.images, k=args.top)
    if args.json:
        query = args.images[0] if len(args.images) == 1 else args.images
        _json({"query": query, "model": searcher.embedder.model_id, "hits": [h.to_dict() for h in hits]})
        return EXIT_OK
    if not hits:
        print("No photos in the library yet (photofind index FOLDER)."
            if lib.repo.embedding_count(searcher.embedder.model_id) == 0
            else "No matches.")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:3d}  {hit.score:.4f}  {hit.path}")
    return EXIT_OK


def ranking_settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The ``RankingSettings`` the search flags ask for."""
    from dataclasses import replace

    from photofind.core.ranking import RankingSettings

    if args.ranking == "plain":
        return RankingSettings.plain()
    return replace(
        RankingSettings(),
        pca=not args.no_pca,
        dba=not args.no_dba,
        query_expansion=not args.no_qe,
        diffusion=args.diffusion,
    )


def cmd_folders(args: argparse.Namespace) -> int:
    lib = _open(args)
    if args.action == "add":
        for path in args.paths:
            row = lib.add_folder(path)
            print(f"added {row.path} (run photofind index to index it)")
        return EXIT_OK
    if args.action == "remove":
        with lib.writing(timeout=30):
            for path in args.paths:
                n = lib.remove_folder(path)
                print(f"removed {path} from the library ({n} photos forgotten; files untouched)")
        return EXIT_OK
    rows = lib.repo.folders()
    if args.json:
        _json([{"path": r.path, "online": r.online, "photos": r.photo_count, "skipped": r.skipped_count, "error": r.last_error} for r in rows])
        return EXIT_OK
    if not rows:
        print("No folders yet: photofind folders add FOLDER, or photofind index FOLDER")
    for r in rows:
        state = "online " if r.online else "OFFLINE"
        note = f"  ({r.last_error})" if r.last_error else ""
        print(f"{state}  {r.photo_count:7d} photos  {r.path}{note}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    lib = _open(args)
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
        "index_file": str(index_file),
        "index_bytes": sum(f.stat().st_size for f in files),
        "db_bytes": lib.paths.db_path.stat().st_size,
        "searching_with": lib.search_model_id,
        "upgrade_backlog": lib.upgrade_state().backlog,
    }
    if args.json:
        _json(data)
        return EXIT_OK
    print(f"Data dir:   {data['data_dir']}")
    print(f"Folders:    {stats.folders} ({stats.folders_offline} offline)")
    print(f"Photos:     {stats.photos} ({stats.offline_photos} offline)")
    print(f"Embedded:   {stats.embedded} with {info.model_id}")
    if data["upgrade_backlog"]:
        print(
            f"Upgrading:  {data['upgrade_backlog']} photos still to re-embed (photofind index); "
            f"searching with {data['searching_with']} until then"
        )
    print(f"Skipped:    {stats.skipped}")
    for reason, n in stats.skip_reasons.items():
        print(f"  {n:6d}  {reason}")
    print(f"Index:      {data['index_bytes'] / 1e6:.1f} MB  {index_file}")
    print(f"Database:   {data['db_bytes'] / 1e6:.1f} MB  {lib.paths.db_path}")
    return EXIT_OK


def cmd_skipped(args: argparse.Namespace) -> int:
    lib = _open(args)
    rows = lib.repo.skipped()
    if args.json:
        _json([{"path": r.path, "reason": r.skip_reason} for r in rows])
        return EXIT_OK
    for r in rows:
        print(f"{r.path}: {r.skip_reason}")
    if not rows:
        print("No skipped files.")
    return EXIT_OK


def cmd_rebuild_index(args: argparse.Namespace) -> int:
    lib = _open(args)
    with lib.writing(timeout=30):
        n = lib.rebuild_index()
    print(f"Rebuilt the search index from the database: {n} photos.")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from photofind.core.models.registry import available_models

    paths = get_paths(args.data_dir).ensure()
    for name in available_models(paths.models_dir):
        print(name + ("  (default)" if name == DEFAULT_MODEL else ""))
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from photofind.core.watcher import watch_library  # watchdog is only needed here

    lib = _open(args)
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

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
