"""The GUI's one job runner: background work as plain functions, answers on the GUI thread.

``JobRunner.run(queue, fn, on_done, on_error, on_progress, key=...)`` is Picard's
``run_task(fn, callback)`` with one worker thread per named queue (one per resource: ``index``,
the library writer; ``query``, library reads and searches; ``thumbs``, thumbnails). A queue runs
its jobs one at a time, first in first out. A job submitted with a ``key`` supersedes the
queued and running jobs of the same key on that queue ("latest wins": a new search replaces the
one still waiting, and the running one's answer is never delivered).

``fn(cancel, progress)`` runs on the queue's thread: ``cancel`` is a ``threading.Event`` set when
the job is cancelled or superseded, ``progress(value)`` hands ``value`` to ``on_progress``. The
function never touches a QObject (a ``QImage`` is a value type and fine in any thread). Its
result goes to ``on_done(result)``, an exception to ``on_error(exc)`` (logged when there is no
``on_error``); all three callbacks run on the GUI thread, delivered through a queued Qt signal.

``shutdown()`` drops queued jobs, cancels running ones, joins every thread and delivers nothing
more: call it before the library closes.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

logger = logging.getLogger(__name__)

#: Prefix of every worker thread's name (tests check that none survives the window).
THREAD_PREFIX = "photofind-"

Progress = Callable[[Any], None]
JobFn = Callable[[threading.Event, Progress], Any]


class Job:
    """One submitted job: ``cancel()`` asks it to stop; ``discard()`` also drops its answers."""

    def __init__(
        self,
        queue: str,
        fn: JobFn,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        on_progress: Callable[[Any], None] | None,
        key: Hashable | None,
    ) -> None:
        self.queue = queue
        self.fn = fn
        self.on_done = on_done
        self.on_error = on_error
        self.on_progress = on_progress
        self.key = key
        self.cancel_event = threading.Event()
        self.discarded = False
        self.finished = False  # set on the GUI thread when its answer was delivered (or dropped)

    def cancel(self) -> None:
        self.cancel_event.set()

    def discard(self) -> None:
        self.discarded = True
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


class _Relay(QObject):
    """Lives on the GUI thread; its queued signal carries callbacks from the workers there."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._invoke, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _invoke(self, thunk: Callable[[], None]) -> None:
        thunk()


class _Queue:
    """One queue: a deque of jobs and the thread that runs them (started on first use)."""

    def __init__(self, name: str, deliver: Callable[..., None]) -> None:
        self.name = name
        self._deliver = deliver
        self._cond = threading.Condition()
        self._jobs: deque[Job] = deque()
        self._running: Job | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> bool:
        with self._cond:
            if self._closed:
                job.discard()
                return False
            if job.key is not None:
                for old in [j for j in self._jobs if j.key == job.key]:
                    self._jobs.remove(old)
                    old.discard()
                    self._deliver(old, None)  # marks it finished on the GUI thread
                if self._running is not None and self._running.key == job.key:
                    self._running.discard()
            self._jobs.append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name=THREAD_PREFIX + self.name, daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return True

    def clear(self) -> list[Job]:
        """Drop the jobs not started yet; returns them."""
        with self._cond:
            dropped = list(self._jobs)
            self._jobs.clear()
        for job in dropped:
            job.discard()
            self._deliver(job, None)
        return dropped

    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._jobs)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for job in self._jobs:
                job.discard()
            self._jobs.clear()
            if self._running is not None:
                self._running.discard()
            self._cond.notify_all()

    def join(self, timeout: float) -> bool:
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("%s did not stop within %.0f s", thread.name, timeout)
            return False
        return True

    def _loop(self) -> None:
        lower_thread_priority()
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._jobs.popleft()
                self._running = job
            try:
                result = job.fn(job.cancel_event, partial(self._deliver, job, "progress"))
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI
                if job.on_error is None:
                    logger.error("Background job on %s failed", self.name, exc_info=exc)
                else:
                    logger.debug("Background job on %s failed", self.name, exc_info=exc)
                self._deliver(job, "error", exc)
            else:
                self._deliver(job, "done", result)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()


class JobRunner(QObject):
    """Queues of background jobs (see module docstring). Create it on the GUI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._relay = _Relay()
        self._queues: dict[str, _Queue] = {}
        self._lock = threading.Lock()
        self._closed = False

    def run(
        self,
        queue: str,
        fn: JobFn,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        *,
        key: Hashable | None = None,
    ) -> Job:
        """Run ``fn(cancel, progress)`` on ``queue``'s thread (thread-safe; see module docstring)."""
        job = Job(queue, fn, on_done, on_error, on_progress, key)
        with self._lock:
            if self._closed:
                job.discard()
                return job
            q = self._queues.get(queue)
            if q is None:
                q = self._queues[queue] = _Queue(queue, self._deliver)
        q.submit(job)
        return job

    def clear(self, queue: str) -> None:
        """Drop ``queue``'s jobs that have not started (their answers never come)."""
        q = self._queues.get(queue)
        if q is not None:
            q.clear()

    def busy(self, queue: str) -> bool:
        q = self._queues.get(queue)
        return q is not None and q.busy()

    def threads(self) -> list[threading.Thread]:
        return [q._thread for q in self._queues.values() if q._thread is not None]

    def shutdown(self, timeout: float = 60.0) -> bool:
        """Drop queued jobs, cancel running ones and join every thread; True if all stopped."""
        with self._lock:
            self._closed = True
            queues = list(self._queues.values())
        for q in queues:
            q.close()
        return all([q.join(timeout) for q in queues])

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ delivery
    def _deliver(self, job: Job, kind: str | None, value: Any = None) -> None:
        """Any thread: queue the job's callback for the GUI thread."""
        self._relay.call.emit(partial(self._invoke, job, kind, value))

    def _invoke(self, job: Job, kind: str | None, value: Any) -> None:
        """GUI thread: call the job's callback unless the job or the runner is gone."""
        if kind != "progress":
            job.finished = True
        if self._closed or job.discarded or kind is None:
            return
        callback = {"done": job.on_done, "error": job.on_error, "progress": job.on_progress}[kind]
        if callback is None:
            return
        try:
            callback(value)
        except Exception:  # a slot's exception must not vanish into Qt
            logger.exception("Handling the answer of a job on %s failed", job.queue)


def lower_thread_priority(nice: int = 10) -> None:
    """Make the calling thread yield the CPU to the GUI thread.

    On Linux ``nice`` is per thread and inherited by the threads it starts, so the core's decode
    pool and onnxruntime's threads (created from the workers) are lowered too. On Windows the
    thread gets "below normal" priority; elsewhere it stays as it is.
    """
    try:
        if sys.platform.startswith("linux"):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        elif sys.platform == "win32":  # pragma: no cover - not run in CI
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            kernel32.SetThreadPriority(kernel32.GetCurrentThread(), -1)  # BELOW_NORMAL
    except OSError as exc:  # not permitted in some sandboxes; harmless
        logger.debug("cannot lower thread priority: %s", exc)
