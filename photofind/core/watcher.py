"""Folder events -> debounced change sets, and the ``photofind watch`` loop.

``FolderWatcher`` turns watchdog's stream of filesystem events into "these library folders
changed" notifications: an event for a photo file (or a directory: a moved or deleted directory
takes photos with it) below a library folder marks that folder dirty, and once the batch has been
quiet for ``debounce_s`` (or has been growing for ``max_wait_s``, so a long copy is indexed
progressively) ``on_change`` gets the set of dirty folders, on the watcher's own thread.

A folder that cannot be watched (missing, unmounted, out of inotify watches) is logged and retried
every ``retry_s``; folders that vanish are noticed by the same check. Either way the folder is
reported dirty when its state changes, so the indexer can mark its photos offline or online.

``watch_library`` is the headless loop: one initial index run, then one run per change set, all on
the calling thread (the library's single writer); the watcher only feeds a queue.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from watchdog.events import (
    EVENT_TYPE_ATTRIB,
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from photofind.core.indexing.scanner import SKIPPED_DIR_NAMES, is_supported

if TYPE_CHECKING:
    from photofind.core.indexing.indexer import IndexReport
    from photofind.core.library import Library

logger = logging.getLogger(__name__)

ChangeCallback = Callable[[set[str]], None]

#: File events that can change what a photo file holds or whether it exists. "opened" and
#: "closed_no_write" are reads (the indexer's own reads among them) and are ignored.
_FILE_EVENTS = frozenset(
    {EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_MOVED, EVENT_TYPE_DELETED,
     EVENT_TYPE_CLOSED, EVENT_TYPE_ATTRIB}
)
#: Directory events that matter: a directory's "modified" only echoes its children's events.
_DIR_EVENTS = frozenset({EVENT_TYPE_CREATED, EVENT_TYPE_MOVED, EVENT_TYPE_DELETED})


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        super().__init__()
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        self._watcher._on_event(event)


class FolderWatcher:
    """Watches library folders recursively and reports dirty ones, debounced (see module doc).

    ``ignore`` lists directories whose events never count (photofind's own data directory).
    All public methods are thread-safe; ``on_change`` runs on the watcher's thread and must not
    call ``stop()`` expecting a join (it is skipped there).
    """

    def __init__(
        self,
        paths: Sequence[str],
        on_change: ChangeCallback,
        debounce_s: float = 2.0,
        *,
        max_wait_s: float | None = None,
        retry_s: float = 30.0,
        ignore: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        self._on_change = on_change
        self.debounce_s = max(0.0, float(debounce_s))
        self.max_wait_s = max_wait_s if max_wait_s is not None else max(10.0 * self.debounce_s, 1.0)
        self.retry_s = retry_s
        self._ignore = tuple(os.path.abspath(os.fspath(p)) for p in ignore)
        self._handler = _Handler(self)

        # _lock guards the dirty batch and the stop flag (taken by the event thread, so it is
        # never held while calling watchdog). _arm_lock serialises (un)scheduling watches.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._arm_lock = threading.Lock()
        self._roots: tuple[str, ...] = self._normalise(paths)
        self._watches: dict[str, ObservedWatch] = {}  # roots being watched right now
        self._dirty: set[str] = set()
        self._dead: set[str] = set()  # roots whose own directory was deleted or moved away
        self._failed: set[str] = set()  # roots already reported as not watchable (log once)
        self._first_event = 0.0
        self._last_event = 0.0
        self._stopping = False
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ public
    @property
    def paths(self) -> tuple[str, ...]:
        return self._roots

    @property
    def watched_paths(self) -> tuple[str, ...]:
        """The folders actually being watched (the others are missing or failed; retried)."""
        with self._arm_lock:
            return tuple(sorted(self._watches))

    def start(self) -> None:
        """Start watching; folders that cannot be watched are logged and retried later."""
        with self._arm_lock:
            if self._thread is not None:
                return
            with self._lock:
                self._stopping = False
            observer = Observer()
            observer.daemon = True
            # Start first, schedule after: watchdog then starts each emitter inside schedule(),
            # so one bad folder raises there (caught) instead of failing observer.start().
            observer.start()
            self._observer = observer
            for root in self._roots:
                self._arm(root)
            self._thread = threading.Thread(target=self._run, name="photofind-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching and join the threads; a pending (not yet reported) batch is dropped."""
        with self._arm_lock:
            observer, thread = self._observer, self._thread
            self._observer, self._thread = None, None
            self._watches.clear()
        with self._cond:
            self._stopping = True
            self._dirty.clear()
            self._cond.notify_all()
        if observer is not None:
            observer.stop()
            if observer is not threading.current_thread():
                observer.join()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def set_paths(self, paths: Sequence[str]) -> None:
        """Watch exactly ``paths`` from now on; also re-arms folders that are not being watched
        (e.g. a drive that came back), reporting those as dirty."""
        roots = self._normalise(paths)
        with self._arm_lock:
            self._roots = roots
            if self._observer is None:
                return
            for root in list(self._watches):
                if root not in roots:
                    self._disarm(root)
            self._disarm_dead()
            came_back = [r for r in roots if r not in self._watches and self._arm(r)]
        self._mark(came_back)

    # ------------------------------------------------------------------ watches
    @staticmethod
    def _normalise(paths: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(os.path.abspath(os.fspath(p)) for p in paths))

    def _arm(self, root: str) -> bool:
        """Schedule a recursive watch on ``root``; caller holds ``_arm_lock``."""
        assert self._observer is not None
        reason = None
        if not os.path.isdir(root):
            reason = "not a folder that can be read"
        else:
            try:
                self._watches[root] = self._observer.schedule(self._handler, root, recursive=True)
            except Exception as exc:  # noqa: BLE001 - OSError (ENOSPC: inotify limit, EACCES), races
                reason = str(exc) or type(exc).__name__
        if reason is not None:
            level = logging.DEBUG if root in self._failed else logging.WARNING
            logger.log(level, "Cannot watch %s: %s (will retry every %.0f s)", root, reason, self.retry_s)
            self._failed.add(root)
            return False
        self._failed.discard(root)
        logger.debug("Watching %s", root)
        return True

    def _disarm(self, root: str) -> None:
        watch = self._watches.pop(root, None)
        if watch is not None and self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except Exception as exc:  # noqa: BLE001 - KeyError when watchdog already dropped it
                logger.debug("unschedule %s: %r", root, exc)

    def _disarm_dead(self) -> None:
        """Drop watches whose root was deleted: watchdog stops their emitter for good."""
        with self._lock:
            dead, self._dead = self._dead, set()
        for root in dead:
            self._disarm(root)

    def _check_roots(self) -> None:
        """Periodic health check: drop watches on folders that vanished, re-arm those back."""
        changed: list[str] = []
        with self._arm_lock:
            if self._observer is None:
                return
            self._disarm_dead()
            for root in self._roots:
                if root in self._watches:
                    if not os.path.isdir(root):
                        logger.info("Folder %s went away", root)
                        self._disarm(root)
                        changed.append(root)
                elif self._arm(root):
                    logger.info("Folder %s is back; watching it again", root)
                    changed.append(root)
        self._mark(changed)

    # ------------------------------------------------------------------ events
    def _relevant_roots(self, path: str | bytes | None, is_directory: bool) -> list[str]:
        if not path:
            return []
        path = os.path.abspath(os.fsdecode(path))
        if any(_is_within(path, d) for d in self._ignore):
            return []
        hits = []
        for root in self._roots:
            if not _is_within(path, root):
                continue
            rel = os.path.relpath(path, root)
            parts = [] if rel == "." else rel.split(os.sep)
            if any(p.startswith(".") or p in SKIPPED_DIR_NAMES for p in parts):
                continue
            if parts and not is_directory and not is_supported(parts[-1]):
                continue
            hits.append(root)
        return hits

    def _on_event(self, event: FileSystemEvent) -> None:
        """Called on watchdog's dispatcher thread for every event of every watch."""
        try:
            wanted = _DIR_EVENTS if event.is_directory else _FILE_EVENTS
            if event.event_type not in wanted:
                return
            roots = self._relevant_roots(event.src_path, event.is_directory)
            if event.event_type == EVENT_TYPE_MOVED:
                roots += self._relevant_roots(event.dest_path, event.is_directory)
            if event.is_directory and event.event_type in (EVENT_TYPE_DELETED, EVENT_TYPE_MOVED):
                src = os.path.abspath(os.fsdecode(event.src_path))
                if src in self._roots:
                    logger.info("Folder %s was %s", src, event.event_type)
                    with self._lock:
                        self._dead.add(src)
            if roots:
                logger.debug("%s %s -> dirty %s", event.event_type, event.src_path, roots)
                self._mark(roots)
        except Exception:  # never let one odd event kill watchdog's dispatcher thread
            logger.exception("Ignoring a filesystem event that could not be handled: %r", event)

    def _mark(self, roots: Iterable[str]) -> None:
        roots = list(roots)
        if not roots:
            return
        now = time.monotonic()
        with self._cond:
            if self._stopping:
                return
            if not self._dirty:
                self._first_event = now
            self._dirty.update(roots)
            self._last_event = now
            self._cond.notify_all()

    # ------------------------------------------------------------------ debounce thread
    def _run(self) -> None:
        next_check = time.monotonic() + self.retry_s
        while True:
            batch: set[str] = set()
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._dirty:
                        due = min(self._last_event + self.debounce_s, self._first_event + self.max_wait_s)
                        if now >= due:
                            batch, self._dirty = self._dirty, set()
                            break
                    else:
                        due = float("inf")
                    if now >= next_check:
                        break
                    self._cond.wait(min(due, next_check) - now)
                if self._stopping:
                    return
            if batch:
                current = set(self._roots)
                batch &= current  # folders removed by set_paths meanwhile are not reported
            if batch:
                try:
                    self._on_change(batch)
                except Exception:
                    logger.exception("on_change failed for %s", sorted(batch))
            if time.monotonic() >= next_check:
                try:
                    self._check_roots()
                except Exception:
                    logger.exception("Checking the watched folders failed")
                next_check = time.monotonic() + self.retry_s


# ---------------------------------------------------------------------- headless loop


def watch_library(
    lib: Library,
    debounce_s: float = 2.0,
    on_report: Callable[[IndexReport], None] | None = None,
    stop: threading.Event | None = None,
    *,
    busy_retry_s: float = 5.0,
    refresh_s: float = 30.0,
) -> int:
    """Keep ``lib`` indexed while its folders change, until ``stop`` is set or Ctrl+C; returns 0.

    Index runs happen on this thread under the library's writer lock; when another process holds
    it (``LibraryBusy``) the change set is kept and retried every ``busy_retry_s``. The folder
    list is re-read every ``refresh_s`` so folders added elsewhere (e.g. by the GUI) get watched.
    """
    from photofind.core.library import LibraryBusy

    stop = stop or threading.Event()
    changes: queue.Queue[set[str]] = queue.Queue()
    pending: set[str] | None = None  # None: everything (the initial run)
    retry_at = 0.0

    def run_index(wanted: set[str] | None) -> bool:
        """One index run over ``wanted`` folders (None = all); False when the library is busy."""
        rows = lib.repo.folders()
        if wanted is not None:
            rows = [r for r in rows if os.path.abspath(r.path) in wanted]
        if not rows:
            return True
        try:
            report = lib.run_index(rows, cancel=stop, lock_timeout=1.0)
        except LibraryBusy as exc:
            logger.warning("%s Retrying in %.0f s.", exc, busy_retry_s)
            return False
        if on_report is not None:
            on_report(report)
        return True

    folders = [r.path for r in lib.repo.folders()]
    if not folders:
        logger.warning("The library has no folders yet; watching nothing until one is added")
    watcher = FolderWatcher(
        folders, changes.put, debounce_s, ignore=[lib.paths.data_dir], retry_s=refresh_s
    )
    watcher.start()
    next_refresh = time.monotonic() + refresh_s
    previous_handler = _stop_on_ctrl_c(stop)
    try:
        while not stop.is_set():
            if (pending is None or pending) and time.monotonic() >= retry_at:
                if run_index(pending):
                    pending = set()
                else:
                    retry_at = time.monotonic() + busy_retry_s
            try:
                batch = changes.get(timeout=0.2)
                pending = None if pending is None else pending | batch
                while True:  # fold everything already queued into one run
                    batch = changes.get_nowait()
                    pending = None if pending is None else pending | batch
            except queue.Empty:
                pass
            if time.monotonic() >= next_refresh:
                watcher.set_paths([r.path for r in lib.repo.folders()])
                next_refresh = time.monotonic() + refresh_s
    except KeyboardInterrupt:
        logger.info("Interrupted; stopping the watcher")
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
        watcher.stop()
    if stop.is_set():
        logger.info("Stopped watching")
    return 0


def _stop_on_ctrl_c(stop: threading.Event):  # type: ignore[no-untyped-def]
    """Make Ctrl+C (SIGINT) set ``stop`` instead of raising wherever the main thread happens to
    be: an index run then cancels at its next check and leaves the library as a cancel does
    (an exception in the middle of a database write could leave it waiting on its own lock).
    A second Ctrl+C raises KeyboardInterrupt as usual. Returns the previous handler (None when
    not on the main thread, where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logger.info("Ctrl+C: stopping the watcher after the current step")
        stop.set()

    return signal.signal(signal.SIGINT, handler)
