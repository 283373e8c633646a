"""The headless ``photofind`` command line: everything the GUI does, scriptable.

This module parses the arguments and maps failures to messages and exit codes; the commands
themselves are in ``cli_commands.py``.

Exit codes: 0 the command did what it was asked (an index run that skipped files still
completed), 1 the command failed, 2 usage error, 3 the library is busy (another process writes).
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
from collections.abc import Sequence

from photofind import __version__

# The heavy modules (numpy, SQLAlchemy, onnxruntime, Pillow) are imported by the commands that
# need them, so --version and --help answer at once (and the packaged app starts faster).
from photofind.cli_commands import (
    COMMANDS,
    DEFAULT_MODEL,
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ranking_settings,
)
from photofind.cli_commands import error as _error
from photofind.cli_duplicates import add_filter_arguments, cmd_duplicates
from photofind.config import get_paths
from photofind.logs import FILE_ONLY, add_log_file
from photofind.logs import setup_logging as _setup_console_logging

__all__ = [
    "COMMANDS",
    "COMMON_DEFAULTS",
    "DEFAULT_MODEL",
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "parse_args",
    "ranking_settings",
    "setup_logging",
]

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    # Shared options are accepted before or after the command. They default to SUPPRESS so a
    # subcommand's parser does not overwrite a value given before the command; COMMON_DEFAULTS
    # fills in whatever was not given.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--data-dir", help="library location (default: $PHOTOFIND_DATA_DIR or the user data dir)")
    common.add_argument(
        "--model",
        help=f"model to use (default: the int8 variant of {DEFAULT_MODEL} on a CPU; on CUDA the "
        "float32 one, unless the library already has int8 vectors; see photofind models)",
    )
    common.add_argument("--device", choices=("auto", "cuda", "cpu"), help="where the model runs (default: auto)")
    common.add_argument(
        "--threads", type=int,
        help="CPU threads per model run (default: all cores for a search; indexing runs one batch per core)",
    )
    common.add_argument("-v", "--verbose", action="count", help="more log output (-vv for debug)")

    parser = argparse.ArgumentParser(
        prog="photofind",
        description="Find photos in your own collection by example. Without a command, opens the app; "
        "photofind IMAGE... opens it searching by those images, photofind FOLDER offers to add it.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"photofind {__version__}")
    parser.add_argument(
        "--smoke-test", action="store_true", help="open the app window, process events briefly, close it and exit 0 (for CI)"
    )
    parser.add_argument(
        "--install-desktop-entry", action="store_true",
        help="add photofind to your applications menu and to file managers' \"Open with\" for images "
        "(for a pip install; the .deb does this itself)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", parents=[common], help="add folders (if given) and bring the library up to date")
    p.add_argument("folders", nargs="*", help="folders to add and index (default: every library folder)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--lock-timeout", type=float, default=0.0, metavar="S",
                   help="wait up to S seconds for another photofind writing the library (default: 0)")
    p.add_argument(
        "--progress-jsonl", action="store_true",
        help="for programs (the app): progress as one JSON object a line on stdout, then the report; "
        "reads 'pause', 'resume', 'cancel' lines on stdin (end of input cancels)",
    )

    p = sub.add_parser("search", parents=[common], help="rank library photos by similarity to an image")
    p.add_argument("images", nargs="+", help="query image file(s); several make one query (mean)")
    p.add_argument("-k", "--top", type=int, default=20, help="how many results (default 20)")
    p.add_argument(
        "--region", action="append", type=_region_arg, metavar="X,Y,W,H",
        help="search by this part of the query photo only: pixels of the upright photo, or "
        "fractions when all four are <= 1 (0,0,0.5,1 = left half); with several images, give "
        "one --region per image in order",
    )
    p.add_argument("--json", action="store_true", help='print {"query", "model", "hits": [...]}')
    p.add_argument(
        "--ranking", choices=("default", "plain"), default="default",
        help="default: library PCA + neighbour augmentation + query expansion; plain: cosine only",
    )
    p.add_argument("--no-pca", action="store_true", help="switch off the library-learned PCA")
    p.add_argument("--no-dba", action="store_true", help="switch off neighbour augmentation (DBA)")
    p.add_argument("--no-qe", action="store_true", help="switch off query expansion")
    p.add_argument("--diffusion", action="store_true", help="add kNN-graph diffusion re-ranking")
    p.add_argument(
        "--no-rotations", action="store_true",
        help="search only with the query upright as given (by default a copy turned sideways "
        "without an EXIF tag is also tried at 90, 180 and 270 degrees)",
    )
    p.add_argument(
        "--no-edited-copies", action="store_true",
        help="do not look for the original of an edited copy (by default the photo a cropped, shrunk, "
        "grey or recoloured query image was made from is looked for by its pixels and perceptual hash "
        "and listed first)",
    )
    p.add_argument("--no-trim", action="store_true", help="do not try the query without uniform bars around it")
    p.add_argument(
        "--no-copy-first", action="store_true",
        help="list only near-exact copies (similarity >= 0.98) first, not an edited copy that stands out "
        "(by the model's similarity, in grey for a grey query, or by its pixels)",
    )
    add_filter_arguments(p)

    p = sub.add_parser("duplicates", parents=[common], help="near-duplicate photos, with the one to keep")
    p.add_argument("--threshold", type=float, help="model similarity from which photos are duplicates (default 0.90, measured in bench/duplicates.py; photos whose perceptual hashes differ in <= 4 bits count from 0.70)")
    p.add_argument("--json", action="store_true", help='print {"groups": [{"keep", "photos": [...]}]}')
    p.add_argument("--trash", action="store_true", help="move every photo but each group's keeper to the desktop's trash (asks first)")
    p.add_argument("--yes", action="store_true", help="with --trash: do not ask")
    add_filter_arguments(p)

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


def _region_arg(text: str):  # type: ignore[no-untyped-def]
    from photofind.core.images.region import RegionError, parse_region

    try:
        return parse_region(text)
    except RegionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


COMMON_DEFAULTS = {"data_dir": None, "model": None, "device": "auto", "threads": None, "verbose": 0}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    for key, value in COMMON_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def setup_logging(verbosity: int) -> None:
    """Console logging on stderr (the log file is added by ``photofind.logs.add_log_file``)."""
    _setup_console_logging(verbosity)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    _safe_streams()
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    add_log_file(get_paths(args.data_dir), catch_uncaught=True)
    logger.info("photofind %s: %s", __version__, " ".join(sys.argv[1:] if argv is None else argv))
    handler = {**COMMANDS, "duplicates": cmd_duplicates}[args.command]
    from sqlalchemy.exc import DatabaseError as SQLDatabaseError

    from photofind.core.images.decode import ImageDecodeError
    from photofind.core.images.region import RegionError
    from photofind.core.library import FolderError, LibraryBusy, LibraryReadOnly
    from photofind.core.models.registry import ModelNotAvailable
    from photofind.store.db import DatabaseError, damaged_message

    try:
        return handler(args)
    except LibraryBusy as exc:
        _fail(str(exc))
        return EXIT_BUSY
    except RegionError as exc:  # a region outside its photo: known only once the photo is opened
        _fail(f"--region: {exc}")
        return EXIT_USAGE
    except LibraryReadOnly as exc:
        _fail(str(exc))
        return EXIT_FAILED
    except SQLDatabaseError as exc:  # raised by SQLite in the middle of a command
        detail = str(getattr(exc, "orig", None) or exc)
        if "malformed" in detail or "not a database" in detail:
            paths = get_paths(args.data_dir)
            _fail(damaged_message(paths.db_path, paths.backups_dir, detail))
        else:  # could not write: full disk, read-only, I/O error
            _fail(_storage_message(detail, args))
        return EXIT_FAILED
    except (FolderError, ModelNotAvailable, DatabaseError, ImageDecodeError) as exc:
        reason = getattr(exc, "reason", None)
        _fail(f"cannot read the query image: {reason}" if reason else str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG):
            _fail(_storage_message(exc.strerror or str(exc), args))
        else:
            _fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
        return EXIT_FAILED


def _fail(message: str) -> None:
    """The command failed: say why on stderr, and in the log file (not twice on the console)."""
    _error(message)
    logger.error("%s", message, extra=FILE_ONLY)


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
