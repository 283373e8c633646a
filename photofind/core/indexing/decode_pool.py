"""Decoding for an index run: the per-file step, on worker threads it never waits for forever.

``decode_planned`` fingerprints and decodes one planned file and never raises for the file: it
says what happened in a ``DecodedFile`` (pixels, a copy of a known photo, a skip reason, or
"vanished": nothing to record).

A decode can hang for reasons no code of ours controls: a file on a network share that stopped
answering, a pathological image that keeps a codec busy for minutes. Python cannot kill a
thread, so ``DecodePool`` does the next best thing: the consumer waits for each job at most
``time_limit_s`` *after the job started running*, then gives up on it (``TIMED_OUT``), starts a
replacement worker so the pool keeps its width, and moves on. The abandoned thread finishes (or
not) on its own; its result is dropped.

The workers are daemon threads, unlike ``concurrent.futures.ThreadPoolExecutor``'s, whose
interpreter-exit hook joins every worker: one stuck decode would keep the ``photofind``
process from ever exiting.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from photofind.core.images.decode import ImageDecodeError, decode_for_model
from photofind.core.images.taken import read_taken
from photofind.core.indexing.plan import PlannedFile
from photofind.core.models.spec import PreprocessSpec
from photofind.core.indexing.scanner import fingerprint

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Returned by ``DecodePool.result`` for a job that ran longer than the time limit.
TIMED_OUT = object()

_POLL_S = 0.25

VANISHED_REASON = "file vanished before it could be read"
CHANGED_REASON = "the file changed while it was being read; it is read again on the next run"


class Job(Generic[R]):
    """One submitted item: its future and the moment a worker started it."""

    __slots__ = ("future", "started_at")

    def __init__(self) -> None:
        self.future: Future[R] = Future()
        self.started_at: float | None = None


class DecodePool(Generic[T, R]):
    """Daemon worker threads applying ``fn`` to submitted items, FIFO (see module docstring)."""

    def __init__(
        self, fn: Callable[[T], R], workers: int, time_limit_s: float, name: str = "photofind-decode"
    ) -> None:
        self._fn = fn
        self._time_limit_s = time_limit_s
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Job[R], T] | None] = queue.SimpleQueue()
        self._threads = 0
        self._workers: list[threading.Thread] = []
        self._closed = False
        self.abandoned = 0
        for _ in range(max(1, workers)):
            self._spawn()

    def _spawn(self) -> None:
        self._threads += 1
        thread = threading.Thread(target=self._work, name=f"{self._name}-{self._threads}", daemon=True)
        thread.start()
        self._workers.append(thread)

    def _work(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            job, item = entry
            if not job.future.set_running_or_notify_cancel():
                continue
            job.started_at = time.monotonic()
            try:
                job.future.set_result(self._fn(item))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                job.future.set_exception(exc)

    def submit(self, item: T) -> Job[R]:
        job: Job[R] = Job()
        self._queue.put((job, item))
        return job

    def result(self, job: Job[R]) -> R | object:
        """The job's result (re-raising its exception), or ``TIMED_OUT`` past the time limit."""
        while True:
            started = job.started_at
            if started is None:
                wait = _POLL_S  # queued behind running jobs; they have their own limits
            else:
                wait = self._time_limit_s - (time.monotonic() - started)
                if wait <= 0 and not job.future.done():
                    self.abandoned += 1
                    log.warning("a decode ran longer than %.0f s; abandoning it", self._time_limit_s)
                    if not self._closed:
                        self._spawn()  # the stuck thread no longer counts as a worker
                    return TIMED_OUT
            try:
                return job.future.result(timeout=max(0.0, min(wait, _POLL_S)))
            except FutureTimeout:
                continue

    def cancel(self, job: Job[R]) -> None:
        job.future.cancel()

    def close(self, wait_s: float = 0.0) -> None:
        """Let the workers exit once their current file is done, waiting up to ``wait_s`` for
        them (so an app that closes leaves no thread reading its library); a worker stuck in a
        hostile file is a daemon and is left behind after that."""
        if not self._closed:
            self._closed = True
            for _ in range(self._threads):
                self._queue.put(None)
        deadline = time.monotonic() + wait_s
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))


# --- the per-file step ------------------------------------------------------------------


@dataclass
class DecodedFile:
    """What a decode worker hands back for one planned file."""

    planned: PlannedFile
    fingerprint: str | None = None
    tensor: np.ndarray | None = None
    width: int | None = None
    height: int | None = None
    skip_reason: str | None = None
    copy_of: int | None = None  # id of an embedded photo with the same content
    vanished: bool = False  # the file (or its whole folder) is gone: record nothing
    io_error: bool = False  # the OS failed to read it (not a content problem)
    taken: float | None = None  # date taken (core/images/taken.py) and its source
    taken_source: str | None = None
    phash: int | None = None  # perceptual hash (core/images/phash.py)


def decode_planned(planned: PlannedFile, known: dict[str, int], spec: PreprocessSpec) -> DecodedFile:
    """Fingerprint and decode one file (runs on a decode worker; never raises for the file)."""
    item = DecodedFile(planned)
    path = planned.stat.path
    try:
        item.fingerprint = fingerprint(path, planned.stat.size)
    except OSError as exc:
        item.skip_reason, item.io_error = _os_reason(exc), True
        item.vanished = not os.path.lexists(path)
        return item
    source = known.get(item.fingerprint)
    if source is not None and source >= 0 and source != planned.photo_id:
        item.copy_of = source
        item.taken, item.taken_source = read_taken(path, planned.stat.mtime_ns)
        return item
    try:
        decoded = decode_for_model(path, spec, with_hash=True)
    except ImageDecodeError as exc:
        item.skip_reason, item.io_error = exc.reason, exc.io_error
        item.vanished = not os.path.lexists(path)
        return item
    try:
        st = os.stat(path)
    except OSError:  # gone since the decode (or its folder is): settled by the next scan
        item.skip_reason, item.vanished = VANISHED_REASON, True
        return item
    if (st.st_size, st.st_mtime_ns) != (planned.stat.size, planned.stat.mtime_ns):
        # Still being written or copied in. The row keeps the scanned size and mtime with this
        # reason, so the next run sees a change and reads the file again once it has settled.
        item.skip_reason = CHANGED_REASON
        return item
    item.tensor, item.width, item.height = decoded.tensor, decoded.width, decoded.height
    item.phash = decoded.phash
    item.taken, item.taken_source = read_taken(path, planned.stat.mtime_ns)  # the header only
    return item


def timeout_reason(limit_s: float) -> str:
    return f"took too long to decode (more than {limit_s:g} s)"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return VANISHED_REASON
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read file ({exc.strerror or exc})"
