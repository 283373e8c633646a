"""The index service: the app's one library writer, as far as the rest of the GUI knows.

Index runs, folder additions and removals run one at a time on the job runner's ``index``
queue; each is one call into the core (``Library.run_index``, ``add_folder``,
``remove_folder``), which takes the library's cross-process writer lock itself. Requests may
come from any thread (the folder watcher's too): index requests are folded together while one
waits for the queue, a removal interrupts a run that is indexing the folder, and when another
process holds the library, a notice is shown and the work tried again later. Every signal is
emitted on the GUI thread.

The rest of the GUI uses only this class's methods and signals. In the app, index runs go to a
child process (``in_child``: the window never shares its GIL with indexing, and a decoder that
crashes takes only the child down); folder additions and removals are short and stay here.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from photofind.core.indexing.indexer import IndexReport, Progress
from photofind.core.library import FolderError, Library, LibraryBusy, LibraryReadOnly
from photofind.gui.jobs import JobRunner

logger = logging.getLogger(__name__)

ALL = None  # "every library folder" in an index request
QUEUE = "index"

READ_ONLY_NOTICE = (
    "This library can only be read (its folder is read-only or the disk is full): searching "
    "works, but adding folders and indexing are off."
)


@dataclass
class _Busy:
    """A job found the library locked by another process."""

    message: str


@dataclass
class _Started:
    folders: list[str]  # [] means all


@dataclass
class _Upgrading:
    backlog: int


class IndexService(QObject):
    """Index runs and folder changes (see module docstring). Create it on the GUI thread."""

    progress = Signal(object)  # Progress
    started = Signal(list)  # folder paths being indexed ([] means all)
    upgrading = Signal(int)  # photos still to re-embed for a new model variant
    finished = Signal(object)  # IndexReport of a run
    stopped = Signal()  # an index run ended, whatever the outcome
    folder_added = Signal(str)  # normalised path
    folder_removed = Signal(str, int)  # path, photos forgotten
    queue_changed = Signal(list)  # folder paths waiting for an index run (["*"]: all)
    library_changed = Signal()  # rows changed: refresh the folder list / browse view
    error = Signal(str)  # message for the user
    _queue_dirty = Signal()

    def __init__(
        self,
        library: Library,
        jobs: JobRunner,
        *,
        busy_timeout_s: float = 2.0,
        busy_retry_s: float = 30.0,
        in_child: bool = False,
    ) -> None:
        """``in_child``: index runs go to a child ``photofind index`` process
        (``Library.run_index_in_child``: the app does this); else they run on the index queue's
        thread (tests hand the library a fake model, which a child process cannot use)."""
        super().__init__()
        self.library = library
        self.in_child = in_child
        self._jobs = jobs
        self.busy_timeout_s = busy_timeout_s
        self.busy_retry_s = busy_retry_s
        self._lock = threading.Lock()
        self._want_all = False
        self._want_paths: set[str] = set()
        self._index_queued = False  # an index job waits on the queue and takes the wanted set
        self._running: tuple[threading.Event, list[str] | None] | None = None
        self._interrupted: str | None = None  # a removal that cancelled the running run
        self._pause = threading.Event()
        self._queue_dirty.connect(self._emit_queue, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ any thread
    def request_index(self, paths: set[str] | list[str] | None = ALL) -> None:
        """Index these library folders (None: all of them) once the writer is free."""
        if self.library.read_only:
            return
        with self._lock:
            if paths is ALL:
                self._want_all = True
            else:
                self._want_paths.update(os.path.abspath(p) for p in paths)
            submit = not self._index_queued
            self._index_queued = True
        if submit:
            self._jobs.run(
                QUEUE, self._index_job, self._index_done, self._index_failed, self._index_progress
            )
        self._queue_dirty.emit()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._pause.set()
        else:
            self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    # ------------------------------------------------------------------ GUI thread
    def refuse_if_read_only(self) -> bool:
        if self.library.read_only:
            self.error.emit(READ_ONLY_NOTICE)
            return True
        return False

    def rescan(self) -> bool:
        """Index every folder; False (and a notice) when the library is read-only."""
        if self.refuse_if_read_only():
            return False
        self.request_index(ALL)
        return True

    def add_folder(self, path: str) -> None:
        """Add a folder to the library, then index it."""
        if self.refuse_if_read_only():
            return
        library, timeout = self.library, self.busy_timeout_s
        self._jobs.run(
            QUEUE,
            lambda _cancel, _progress: library.add_folder(path, lock_timeout=timeout),
            self._folder_added,
            partial(self._folder_failed, partial(self.add_folder, path)),
        )

    def remove_folder(self, path: str) -> None:
        """Forget a folder's photos (files untouched); interrupts a run that is indexing it."""
        if self.refuse_if_read_only():
            return
        norm = os.path.abspath(path)
        with self._lock:
            self._want_paths.discard(norm)
            if self._running is not None:
                cancel, folders = self._running
                if folders is None or norm in folders:
                    self._interrupted = norm
                    cancel.set()
        library, timeout = self.library, self.busy_timeout_s
        self._jobs.run(
            QUEUE,
            lambda _cancel, _progress: library.remove_folder(norm, lock_timeout=timeout),
            partial(self._folder_removed, norm),
            partial(self._folder_failed, partial(self.remove_folder, path)),
        )
        self._queue_dirty.emit()

    def cancel(self) -> None:
        """Stop the current run after the batch in flight and drop waiting index requests."""
        with self._lock:
            self._want_all = False
            self._want_paths.clear()
            self._interrupted = None
            if self._running is not None:
                self._running[0].set()
        self._pause.clear()
        self._queue_dirty.emit()

    def is_busy(self) -> bool:
        """A job runs or waits, or folders wait for a run."""
        with self._lock:
            wanted = self._want_all or bool(self._want_paths)
        return wanted or self._jobs.busy(QUEUE)

    def stop(self) -> None:
        """Before the runner shuts down: cancel, and let a paused run see the cancel."""
        self.cancel()
        self._pause.clear()

    # ------------------------------------------------------------------ the index job (index queue)
    def _index_job(self, cancel: threading.Event, progress) -> IndexReport | _Busy | None:  # type: ignore[no-untyped-def]
        with self._lock:
            index_all, paths = self._want_all, set(self._want_paths)
            self._want_all, self._want_paths = False, set()
            self._index_queued = False
        self._queue_dirty.emit()
        known = {r.path for r in self.library.repo.folders()}
        folders = None if index_all else sorted(p for p in paths if p in known)
        if not known or folders == []:
            return None
        upgrade = self.library.upgrade_state()  # a few queries: here, not on the GUI thread
        announced = False

        def report(p: Progress) -> None:
            nonlocal announced
            if not announced:  # the writer lock is held from here on
                announced = True
                progress(_Started(folders or []))
                if upgrade.in_progress:
                    progress(_Upgrading(upgrade.backlog))
            progress(p)

        with self._lock:
            self._running = (cancel, folders)
        try:
            run = self.library.run_index_in_child if self.in_child else self.library.run_index
            result = run(
                folders, progress=report, cancel=cancel, pause=self._pause,
                lock_timeout=self.busy_timeout_s,
            )
        except LibraryBusy as exc:
            with self._lock:  # keep the request for the retry (shown as queued)
                if folders is None:
                    self._want_all = True
                else:
                    self._want_paths.update(folders)
            self._queue_dirty.emit()
            return _Busy(str(exc))
        finally:
            self._pause.clear()  # the status bar's pause button is reset when a run ends
            with self._lock:
                self._running = None
                interrupted, self._interrupted = self._interrupted, None
        if interrupted is not None and result.cancelled:
            # Cancelled only to let a removal through: the other folders still need their run.
            rest = None if folders is None else [p for p in folders if p != interrupted]
            if rest != []:
                self.request_index(rest)
            result.cancelled = False
        return result

    def _index_progress(self, value: object) -> None:
        if isinstance(value, Progress):
            if value.phase != "done":
                self.progress.emit(value)
        elif isinstance(value, _Started):
            self.started.emit(value.folders)
        elif isinstance(value, _Upgrading):
            self.upgrading.emit(value.backlog)

    def _index_done(self, result: IndexReport | _Busy | None) -> None:
        if isinstance(result, _Busy):
            self.stopped.emit()
            self._retry_later(result.message, self._retry_index)
            return
        if result is not None:
            self.stopped.emit()
            self.finished.emit(result)
            self.library_changed.emit()
        self._emit_queue()

    def _index_failed(self, exc: BaseException) -> None:
        self.stopped.emit()
        if isinstance(exc, LibraryReadOnly):
            self.error.emit(str(exc))
        else:
            self.error.emit(f"Indexing failed: {exc}")
        self._emit_queue()

    def _retry_index(self) -> None:
        with self._lock:
            wanted = self._want_all or bool(self._want_paths)
            submit = wanted and not self._index_queued
            self._index_queued |= submit
        if submit:
            self._jobs.run(
                QUEUE, self._index_job, self._index_done, self._index_failed, self._index_progress
            )

    # ------------------------------------------------------------------ folder jobs' answers
    def _folder_added(self, row) -> None:  # type: ignore[no-untyped-def]
        self.folder_added.emit(row.path)
        self.library_changed.emit()
        self.request_index([row.path])

    def _folder_removed(self, path: str, n: int) -> None:
        self.folder_removed.emit(path, n)
        self.library_changed.emit()
        self._emit_queue()

    def _folder_failed(self, again, exc: BaseException) -> None:  # type: ignore[no-untyped-def]
        if isinstance(exc, LibraryBusy):
            self._retry_later(str(exc), again)
        elif isinstance(exc, (FolderError, LibraryReadOnly)):
            self.error.emit(str(exc))
        else:
            logger.error("Changing the library's folders failed", exc_info=exc)
            self.error.emit(f"Changing the library's folders failed: {exc}")

    def _retry_later(self, message: str, again) -> None:  # type: ignore[no-untyped-def]
        seconds = self.busy_retry_s
        shown = f"{seconds:.0f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"
        self.error.emit(f"{message} Retrying in {shown}.")
        QTimer.singleShot(int(seconds * 1000), self, again)

    @Slot()
    def _emit_queue(self) -> None:
        with self._lock:
            waiting = ["*"] if self._want_all else sorted(self._want_paths)
        self.queue_changed.emit(waiting)
