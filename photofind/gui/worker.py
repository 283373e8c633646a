"""The index worker: a QObject on its own QThread that is the app's single library writer.

Index runs, folder additions and removals all run here, one at a time, under the library's
cross-process writer lock (``Library.writing``). Requests may come from any thread (the GUI,
the folder watcher's thread): they are recorded under a lock and a queued signal wakes the
worker, which folds everything pending into one run. The core's plain callbacks (progress) and
``threading.Event`` tokens (cancel, pause) are turned into Qt signals here; the core never
sees Qt.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from photofind.core.indexing.indexer import IndexReport, Progress
from photofind.core.library import FolderError, Library, LibraryBusy

logger = logging.getLogger(__name__)

ALL = None  # "every library folder" in an index request

_load_lock = threading.Lock()


def ensure_loaded(library: Library) -> None:
    """Create the library's model session and vector index once, whichever thread asks first.

    ``functools.cached_property`` is not locked on every Python version, and both workers want
    these objects; building them twice would waste seconds and memory.
    """
    with _load_lock:
        library.embedder  # noqa: B018 - builds the ONNX session
        if library.needs_model_index():
            # Small libraries are searched in the model's own index (no ranking space yet);
            # large ones never need it in memory (``Library.indexer``).
            library.vector_index  # noqa: B018 - opens (or rebuilds) the HNSW file


@dataclass
class _Pending:
    """Work asked for but not started: folder operations first, then one index run."""

    ops: deque[tuple[str, str]] = field(
        default_factory=deque
    )  # ("add" | "remove", path)
    index_all: bool = False
    index_paths: set[str] = field(default_factory=set)

    def has_index(self) -> bool:
        return self.index_all or bool(self.index_paths)

    def __bool__(self) -> bool:
        return bool(self.ops) or self.has_index()


class IndexWorker(QObject):
    """Runs index jobs on its thread; create it, ``moveToThread``, start the thread.

    Thread-safe entry points: ``request_index``, ``add_folder``, ``remove_folder``, ``cancel``,
    ``set_paused``. Everything else happens on the worker thread.
    """

    progress = Signal(object)  # Progress
    started_run = Signal(list)  # folder paths being indexed ([] means all)
    upgrading = Signal(int)  # photos still to re-embed for a new model variant (core/indexing/upgrade.py)
    finished_run = Signal(object)  # IndexReport
    folder_added = Signal(str)  # normalised path
    folder_removed = Signal(str, int)  # path, photos forgotten
    queue_changed = Signal(list)  # folder paths waiting for an index run
    library_changed = Signal()  # rows changed: refresh folder list / browse view
    error = Signal(str)  # message for the user
    idle = Signal()  # nothing running and nothing pending
    _wake = Signal()

    def __init__(
        self,
        library: Library,
        *,
        busy_timeout_s: float = 2.0,
        busy_retry_s: float = 30.0,
    ) -> None:
        super().__init__()
        self.library = library
        self.busy_timeout_s = busy_timeout_s
        self.busy_retry_ms = int(busy_retry_s * 1000)
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._cancel = threading.Event()
        self._pause = threading.Event()
        self._running_paths: set[str] | None = None  # None: not running; empty set: all
        self._interrupted_for: str | None = (
            None  # a removal that cancelled the current run
        )
        self._busy = False
        self._wake.connect(self._drain)

    # ------------------------------------------------------------------ any thread
    def request_index(self, paths: set[str] | list[str] | None = ALL) -> None:
        """Index these library folders (None: all of them) as soon as the worker is free."""
        with self._lock:
            if paths is ALL:
                self._pending.index_all = True
            else:
                self._pending.index_paths.update(os.path.abspath(p) for p in paths)
            waiting = self._waiting_paths()
        self.queue_changed.emit(waiting)
        self._wake.emit()

    def add_folder(self, path: str) -> None:
        """Add a folder to the library, then index it."""
        with self._lock:
            self._pending.ops.append(("add", path))
        self._wake.emit()

    def remove_folder(self, path: str) -> None:
        """Forget a folder's photos (files untouched); interrupts a run that is indexing it."""
        norm = os.path.abspath(path)
        with self._lock:
            self._pending.ops.append(("remove", norm))
            self._pending.index_paths.discard(norm)
            running = self._running_paths
            if running is not None and (not running or norm in running):
                self._interrupted_for = norm
                self._cancel.set()
        self._wake.emit()

    def cancel(self) -> None:
        """Stop the current run after the batch in flight and drop queued index requests."""
        with self._lock:
            self._pending.index_all = False
            self._pending.index_paths.clear()
            self._interrupted_for = None
            self._cancel.set()
            self._pause.clear()
        self.queue_changed.emit([])

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._pause.set()
        else:
            self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def is_busy(self) -> bool:
        with self._lock:
            return self._busy or bool(self._pending)

    # ------------------------------------------------------------------ worker thread
    @Slot()
    def _drain(self) -> None:
        """Do everything pending, one job at a time (re-entered by queued wake-ups)."""
        with self._lock:
            if self._busy:
                return
            self._busy = True
        try:
            # Load the index before any write: it checks itself against the library generation,
            # and a write first would make it look out of step (a needless rebuild).
            try:
                ensure_loaded(self.library)
            except Exception as exc:
                logger.exception("Loading the model or the index failed")
                self.error.emit(
                    f"The model could not be loaded, so nothing can be indexed: {exc}"
                )
                return
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    ops, self._pending.ops = list(self._pending.ops), deque()
                    index_all, index_paths = (
                        self._pending.index_all,
                        set(self._pending.index_paths),
                    )
                    if not ops:
                        self._pending.index_all = False
                        self._pending.index_paths.clear()
                if ops:
                    if not self._locked(partial(self._run_ops, ops)):
                        with self._lock:  # busy: keep the ops for the retry
                            self._pending.ops.extendleft(reversed(ops))
                        break
                    continue  # ops may have queued index work; look again
                if not self._locked(
                    partial(self._run_index, None if index_all else index_paths)
                ):
                    with (
                        self._lock
                    ):  # busy: keep the request for the retry (no wake-up spin)
                        self._pending.index_all |= index_all
                        self._pending.index_paths |= index_paths
                    break
        finally:
            with self._lock:
                self._busy = False
                still = bool(self._pending)
            if not still:
                self.idle.emit()

    def _locked(self, job) -> bool:  # type: ignore[no-untyped-def]
        """Run ``job`` under the library's writer lock; False (and a retry later) when busy."""
        try:
            with self.library.writing(timeout=self.busy_timeout_s):
                job()
            return True
        except LibraryBusy as exc:
            self.error.emit(f"{exc} Retrying in {self.busy_retry_ms // 1000} s.")
            QTimer.singleShot(self.busy_retry_ms, self, self._drain)
            return False
        except Exception as exc:  # never let a worker exception escape into Qt
            logger.exception("Background job failed")
            self.error.emit(f"Indexing failed: {exc}")
            return True

    def _run_ops(self, ops: list[tuple[str, str]]) -> None:
        for op, path in ops:
            try:
                if op == "add":
                    row = self.library.add_folder(path)
                    self.folder_added.emit(row.path)
                    self.library_changed.emit()
                    with self._lock:
                        self._pending.index_paths.add(row.path)
                else:
                    n = self.library.remove_folder(path)
                    self.folder_removed.emit(path, n)
                    self.library_changed.emit()
            except FolderError as exc:
                self.error.emit(str(exc))
        with self._lock:
            waiting = self._waiting_paths()
        self.queue_changed.emit(waiting)

    def _run_index(self, paths: set[str] | None) -> None:
        ensure_loaded(self.library)
        rows = self.library.repo.folders()
        if paths is not None:
            rows = [r for r in rows if os.path.abspath(r.path) in paths]
            if not rows:
                return
        elif not rows:
            return
        with self._lock:
            self._cancel = threading.Event()
            cancel = self._cancel
            self._running_paths = {r.path for r in rows} if paths is not None else set()
            self._interrupted_for = None
            waiting = self._waiting_paths()
        self.queue_changed.emit(waiting)
        self.started_run.emit([r.path for r in rows] if paths is not None else [])
        upgrade = self.library.upgrade_state()  # a few queries: here, not on the GUI thread
        if upgrade.in_progress:
            self.upgrading.emit(upgrade.backlog)
        try:
            report: IndexReport = self.library.indexer().run(
                rows, on_progress=self.progress.emit, cancel=cancel, pause=self._pause
            )
            if not report.cancelled:
                self.library.retire_previous_models()
        finally:
            with self._lock:
                interrupted = self._interrupted_for
                running = self._running_paths
                self._running_paths = None
                self._interrupted_for = None
        if interrupted is not None and report.cancelled:
            # Cancelled only to let a removal through: the other folders still need their run.
            rest = {r.path for r in rows if r.path != interrupted} if running else None
            with self._lock:
                if rest is None:
                    self._pending.index_all = True
                else:
                    self._pending.index_paths.update(rest)
            report.cancelled = False
        self.finished_run.emit(report)
        self.library_changed.emit()

    def _waiting_paths(self) -> list[str]:
        """Caller holds ``_lock``. Folders with a pending run (["*"] for all)."""
        if self._pending.index_all:
            return ["*"]
        return sorted(self._pending.index_paths)


def lower_thread_priority(nice: int = 10) -> None:
    """Make the calling thread yield the CPU to the GUI thread.

    On Linux ``nice`` is per thread and inherited by the threads it starts, so the core's decode
    pool and onnxruntime's threads (created from the workers) are lowered too. Elsewhere Qt's
    thread priority does the job.
    """
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            return
        except OSError as exc:  # not permitted in some sandboxes; harmless
            logger.debug("cannot lower thread priority: %s", exc)
    thread = QThread.currentThread()
    if thread is not None:
        thread.setPriority(QThread.Priority.LowPriority)


class WorkerThread(QThread):
    """A QThread that owns one worker object, runs at low priority and stops cleanly."""

    def __init__(self, worker: QObject, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.worker = worker
        worker.moveToThread(self)

    def run(self) -> None:
        lower_thread_priority()
        self.exec()

    def stop(self, timeout_ms: int = 30_000) -> None:
        self.quit()
        if not self.wait(timeout_ms):
            logger.warning("%s did not stop in time", self.objectName())


__all__ = ["ALL", "IndexWorker", "Progress", "WorkerThread", "ensure_loaded"]
