"""Logging for the app and the command line: the console as before, plus a log file a user can send.

``setup_logging(verbosity)`` sets up the console (stderr: warnings, ``-v`` info, ``-vv`` debug,
as photofind always did). ``add_log_file(paths)`` adds a rotating log file in
``paths.logs_dir`` (where that is: ``photofind/config.py``): photofind's INFO and above and
other libraries' warnings, with timestamp, process id and thread name; 1 MB per file,
``photofind.log`` plus 5 older ones. The app started from a menu has no terminal, so this file
is where its warnings and crashes go.

A log dir that cannot be created or written never stops photofind: one warning on stderr and
it carries on without the file. ``catch_uncaught=True`` also sends uncaught exceptions (of the
main thread and of other threads, and of Qt slots, which PySide6 hands to ``sys.excepthook``) to
the log file before Python's usual handling prints them.

Several photofind processes (the app, ``photofind watch``, a CLI run) may share one log file:
each appends whole lines, reopens the file when another one rotated it away, and they rotate
one at a time (a lock file, ``.photofind.log.lock``, next to the log).

Qt-free and cheap to import (the standard library and ``photofind.config``; ``filelock`` only
when rotating).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
from pathlib import Path
from types import TracebackType

from photofind import __version__
from photofind.config import Paths

MAX_BYTES = 1_000_000
BACKUP_COUNT = 5
CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"
FILE_LEVEL = logging.INFO

#: ``logger.error(msg, extra=FILE_ONLY)``: for the log file only (the console already said it).
FILE_ONLY = {"photofind_file_only": True}

_uncaught_logger = logging.getLogger("photofind.uncaught")


def console_level(verbosity: int) -> int:
    return logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG


def setup_logging(verbosity: int = 0) -> None:
    """The console handler on stderr (replacing one set up here before)."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _ConsoleHandler)]:
        root.removeHandler(h)
    handler = _ConsoleHandler(sys.stderr)
    handler.setLevel(console_level(verbosity))
    handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))
    root.addHandler(handler)
    _update_root_level()


def add_log_file(
    paths: Paths, *, catch_uncaught: bool = False, max_bytes: int = MAX_BYTES, backup_count: int = BACKUP_COUNT
) -> Path | None:
    """Log to ``paths.log_file`` too (replacing a log file set up here before).

    Returns the file, or None when it cannot be written (after one warning on stderr).
    """
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _LogFileHandler)]:
        root.removeHandler(h)
        h.close()
    if catch_uncaught:
        install_excepthooks()
    file = paths.log_file
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = _LogFileHandler(file, max_bytes=max_bytes, backup_count=backup_count)
    except OSError as exc:
        _warn_once(f"cannot write the log file {file} ({exc.strerror or exc}); logging to the terminal only")
        _update_root_level()
        return None
    handler.setLevel(FILE_LEVEL)
    handler.addFilter(_ours_or_warnings)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root.addHandler(handler)
    _update_root_level()
    logging.getLogger("photofind").info(
        "photofind %s, Python %s on %s, log %s", __version__, sys.version.split()[0], sys.platform, file
    )
    return file


def active_log_file() -> Path | None:
    """The file ``add_log_file`` is writing to in this process, if any."""
    for h in logging.getLogger().handlers:
        if isinstance(h, _LogFileHandler):
            return Path(h.baseFilename)
    return None


def install_excepthooks() -> None:
    """Uncaught exceptions (main thread, other threads) are logged, then handled as before."""
    if getattr(sys.excepthook, "_photofind", False):
        return
    previous_sys = sys.excepthook
    previous_thread = threading.excepthook

    def sys_hook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if not issubclass(exc_type, KeyboardInterrupt):
            _uncaught_logger.critical("Uncaught exception", exc_info=(exc_type, exc, tb), extra=FILE_ONLY)
        previous_sys(exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            name = args.thread.name if args.thread is not None else "?"
            _uncaught_logger.critical(
                "Uncaught exception in thread %s",
                name,
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
                extra=FILE_ONLY,
            )
        previous_thread(args)

    sys_hook._photofind = True  # type: ignore[attr-defined]
    sys.excepthook = sys_hook
    threading.excepthook = thread_hook


def _ours_or_warnings(record: logging.LogRecord) -> bool:
    """The file gets photofind's INFO lines but only warnings of other libraries (Alembic
    says a dozen things at INFO each time the database is opened)."""
    return record.levelno >= logging.WARNING or record.name.split(".", 1)[0] == "photofind"


def _update_root_level() -> None:
    """The root passes what the most talkative of our handlers wants (handlers filter the rest)."""
    root = logging.getLogger()
    ours = [h.level for h in root.handlers if isinstance(h, (_ConsoleHandler, _LogFileHandler))]
    if ours:
        root.setLevel(min(ours))


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    try:
        sys.stderr.write(f"photofind: warning: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # no usable stderr (a windowed app)
        pass


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The console handler set up by ``setup_logging`` (a class of its own to find it again)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "photofind_file_only", False) and bool(super().filter(record))


class _LogFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file that several processes can append to, and that never raises.

    Before each record it checks that its file is still the one at the path (another process
    may have rotated it away) and reopens it if not. Errors while writing (disk full, the
    directory deleted, Windows refusing to rotate an open file) are reported once on stderr
    instead of a traceback per record.
    """

    def __init__(self, file: Path, max_bytes: int, backup_count: int) -> None:
        super().__init__(file, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
        self._identity = self._stream_identity()
        self._lock_path = str(file.with_name(f".{file.name}.lock"))

    def _stream_identity(self) -> tuple[int, int] | None:
        try:
            st = os.fstat(self.stream.fileno()) if self.stream else None
        except (OSError, ValueError):
            return None
        return (st.st_dev, st.st_ino) if st else None

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.baseFilename)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _reopen(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]
        self.stream = self._open()
        self._identity = self._stream_identity()

    def _reopen_if_moved(self) -> None:
        if self.stream is None or self._file_identity() != self._identity:
            self._reopen()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._reopen_if_moved()
        except OSError:
            self.handleError(record)
            return
        super().emit(record)

    def doRollover(self) -> None:
        # Processes rotate one at a time (shifting .1 -> .2 ... at once loses files), and only
        # if the file is still the one this process saw grow past the limit.
        from filelock import FileLock, Timeout

        try:
            with FileLock(self._lock_path, timeout=10):
                if self._file_identity() == self._identity:
                    super().doRollover()
                else:  # another process rotated it while we waited: write to the new file
                    self._reopen()
        except (OSError, Timeout):
            # A file vanished under us, Windows refuses to rename a file another process has
            # open, the lock cannot be had: keep appending, try again with a later record.
            if self.stream is None:
                self.stream = self._open()
        self._identity = self._stream_identity()

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        detail = getattr(exc, "strerror", None) or exc
        _warn_once(f"cannot write the log file {self.baseFilename} ({detail}); some log lines are lost")
