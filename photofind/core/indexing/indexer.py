"""Bringing the library in step with the folders on disk: the only write path.

``Indexer.run`` works in two phases:

1. **Plan** (``core.index_plan``): walk every folder, compare size + mtime with the DB, find
   moved/renamed files by content fingerprint, and apply the cheap changes at once (moves,
   removals, offline folders).
2. **Embed**: decode the photos that need it on a thread pool a few batches ahead of the
   model, embed them in batches, and commit each batch in one transaction (so a kill loses at
   most the batch in flight and the next run resumes where this one stopped). Each batch also
   goes into the HNSW index, which is saved at checkpoints and at the end.

Progress goes to a plain callback and a ``threading.Event`` cancels between batches; the GUI
turns those into Qt signals in its worker, the CLI into a progress bar.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photofind.core.indexing.decode_pool import (
    TIMED_OUT,
    VANISHED_REASON,
    DecodedFile,
    DecodePool,
    Job,
    decode_planned,
    timeout_reason,
)
from photofind.core.models.embedder import Embedder
from photofind.core.indexing.plan import (
    BAD_NAME_REASON,
    IndexPlan,
    PlannedFile,
    build_plan,
)
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.blobs import stored_precision
from photofind.store.repository import FolderRow, LibraryWriter, Repository
from photofind.store.schema import STATUS_OK, STATUS_SKIPPED

logger = logging.getLogger(__name__)

#: A decode still running after this long is abandoned and the file skipped (see decode_pool).
DECODE_TIMEOUT_S = 30.0
#: How long the end of a run waits for decode workers to finish the file in hand (a photo takes
#: well under a second; a worker stuck in a hostile file is a daemon and is not waited for longer).
POOL_CLOSE_WAIT_S = 5.0


@dataclass(frozen=True)
class Progress:
    """One progress report: ``phase`` is ``scanning``, ``embedding``, ``saving`` or ``done``, then
    after a run the backfills' ``dates`` and ``hashes`` (``backfill.py``: ``BACKFILL_LABELS``)."""

    phase: str
    done: int
    total: int
    path: str | None = None
    rate: float | None = None  # photos per second in the embedding phase
    eta_s: float | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass
class IndexReport:
    """What one run changed, for the CLI, the GUI and the tests."""

    added: int = 0
    updated: int = 0
    moved: int = 0
    copied: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    offline_folders: list[str] = field(default_factory=list)
    cancelled: bool = False
    elapsed_s: float = 0.0
    embed_seconds: float = 0.0
    #: CPU seconds (every thread of the process) spent in the embedding phase.
    embed_cpu_seconds: float = 0.0
    #: Previous model variants whose vectors this run retired (``upgrade.py``).
    retired_models: list[str] = field(default_factory=list)
    #: What the run did to the saved ranking space (``ranking_update.py``), if it got there.
    ranking: str | None = None

    @property
    def photos_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON data (``photofind index --json``; the app's index child)."""
        return {
            "added": self.added, "updated": self.updated, "moved": self.moved,
            "copied": self.copied, "removed": self.removed, "unchanged": self.unchanged,
            "embedded": self.embedded,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "offline_folders": self.offline_folders,
            "scan_errors": [{"path": p, "reason": r} for p, r in self.scan_errors],
            "cancelled": self.cancelled,
            "seconds": round(self.elapsed_s, 2),
            "embed_seconds": round(self.embed_seconds, 3),
            "embed_cpu_seconds": round(self.embed_cpu_seconds, 3),
            "photos_per_second": round(self.photos_per_second, 1),
            "retired_models": self.retired_models,
            "ranking": self.ranking,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexReport:
        """The report ``to_dict`` wrote."""
        return cls(
            added=data["added"], updated=data["updated"], moved=data["moved"],
            copied=data["copied"], removed=data["removed"], unchanged=data["unchanged"],
            embedded=data.get("embedded", 0),
            skipped=[(s["path"], s["reason"]) for s in data["skipped"]],
            scan_errors=[(s["path"], s["reason"]) for s in data["scan_errors"]],
            offline_folders=list(data["offline_folders"]), cancelled=data["cancelled"],
            elapsed_s=data["seconds"], embed_seconds=data.get("embed_seconds", 0.0),
            embed_cpu_seconds=data.get("embed_cpu_seconds", 0.0),
            retired_models=list(data.get("retired_models", [])), ranking=data.get("ranking"),
        )


class Indexer:
    """Runs index passes over library folders (see module docstring)."""

    def __init__(
        self,
        repo: Repository,
        embedder: Embedder,
        index: VectorIndex | Callable[[], VectorIndex | None] | None,
        *,
        batch_size: int = 16,
        decode_workers: int | None = None,
        prefetch_batches: int = 3,
        checkpoint_seconds: float = 60.0,
        decode_timeout_s: float = DECODE_TIMEOUT_S,
        embed_lanes: int = 1,
    ) -> None:
        self.repo = repo
        self.embedder = embedder
        self._index = index
        self.batch_size = batch_size
        self.decode_workers = decode_workers or max(1, min(4, os.cpu_count() or 1))
        self.prefetch_batches = prefetch_batches
        self.checkpoint_seconds = checkpoint_seconds
        self.decode_timeout_s = decode_timeout_s
        #: Batches the model runs at once (each on its own thread; see ``_embedded_batches``).
        self.embed_lanes = max(1, embed_lanes)
        self._vanished_in: set[int] = set()  # folders where files vanished during this run

    # ------------------------------------------------------------------ public
    def run(
        self,
        folders: Sequence[FolderRow] | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Index ``folders`` (default: every library folder) and return what changed.

        Setting ``cancel`` stops the run after the batch in flight (its work is kept); while
        ``pause`` is set the run waits between batches.
        """
        started = time.monotonic()
        cancel = cancel or threading.Event()
        _notify = on_progress or (lambda _p: None)
        report = IndexReport()
        folders = list(folders) if folders is not None else self.repo.folders()

        _notify(Progress("scanning", 0, len(folders)))
        plan = build_plan(
            self.repo,
            folders,
            self.embedder.model_id,
            cancel=cancel,
            on_folder=lambda done, path: _notify(Progress("scanning", done, len(folders), path)),
        )
        self._apply_plan(plan, report)
        self._vanished_in = set()
        if cancel.is_set():
            report.cancelled = True
        else:
            self._embed_all(plan.to_embed, report, _notify, cancel, pause)
        self._check_vanished_folders(folders, report)

        _notify(Progress("saving", report.embedded, len(plan.to_embed)))
        self._save_index(final=True)
        report.elapsed_s = time.monotonic() - started
        _notify(Progress("done", report.embedded, len(plan.to_embed)))
        logger.info(
            "Index run: %d added, %d updated, %d moved, %d copied, %d removed, %d skipped, "
            "%d offline folders%s in %.1f s",
            report.added,
            report.updated,
            report.moved,
            report.copied,
            report.removed,
            len(report.skipped),
            len(report.offline_folders),
            " (cancelled)" if report.cancelled else "",
            report.elapsed_s,
        )
        return report

    # ------------------------------------------------------------------ plan
    def _apply_plan(self, plan: IndexPlan, report: IndexReport) -> None:
        report.unchanged = plan.unchanged
        report.scan_errors.extend(plan.scan_errors)
        report.offline_folders.extend(plan.offline_folders)
        with self.repo.write() as w:
            for folder_id, online, error in plan.folder_states:
                w.set_folder_state(folder_id, online=online, error=error, scanned=online)
            for move in plan.moves:
                w.move_photo(
                    move.photo_id,
                    folder_id=move.folder_id,
                    path=move.stat.path,
                    size=move.stat.size,
                    mtime_ns=move.stat.mtime_ns,
                )
            w.delete_photos(plan.removed_ids)
            for bad in plan.bad_names:
                w.upsert_photo(
                    folder_id=bad.folder_id,
                    path=bad.stat.path,
                    size=bad.stat.size,
                    mtime_ns=bad.stat.mtime_ns,
                    fingerprint=None,
                    status=STATUS_SKIPPED,
                    skip_reason=BAD_NAME_REASON,
                )
                report.skipped.append((bad.stat.path, BAD_NAME_REASON))
        report.moved = len(plan.moves)
        report.removed = len(plan.removed_ids)
        index = self.index
        if index is not None and plan.removed_ids:
            index.remove(np.asarray(plan.removed_ids, dtype=np.int64))

    # ------------------------------------------------------------------ embed
    def _embed_all(
        self,
        work: list[PlannedFile],
        report: IndexReport,
        notify: ProgressCallback,
        cancel: threading.Event,
        pause: threading.Event | None = None,
    ) -> None:
        if not work:
            return
        known = self._known_fingerprints()
        total = len(work)
        done = 0
        embed_started = time.monotonic()
        cpu_started = time.process_time()
        last_checkpoint = embed_started
        try:
            for batch, vectors in self._embedded_batches(self._decoded_batches(work, known, cancel)):
                self._write_batch(batch, vectors, report)
                done += len(batch)
                elapsed = time.monotonic() - embed_started
                rate = done / elapsed if elapsed > 0 else None
                eta = (total - done) / rate if rate else None
                notify(Progress("embedding", done, total, batch[-1].planned.stat.path, rate, eta))
                if time.monotonic() - last_checkpoint > self.checkpoint_seconds:
                    self._save_index()
                    last_checkpoint = time.monotonic()
                while pause is not None and pause.is_set() and not cancel.is_set():
                    cancel.wait(0.1)
                if cancel.is_set():
                    report.cancelled = True
                    break
        finally:
            report.embed_seconds = time.monotonic() - embed_started
            report.embed_cpu_seconds = time.process_time() - cpu_started

    def _embedded_batches(
        self, batches: Iterator[list[DecodedFile]]
    ) -> Iterator[tuple[list[DecodedFile], dict[int, np.ndarray]]]:
        """Each decoded batch with its vectors, in order.

        With ``embed_lanes`` > 1 that many batches run through the model at once, each on its
        own thread (onnxruntime runs one session from several threads and releases the GIL):
        on a CPU this beats one batch split over every core, because an operator split across
        cores waits for its slowest part whenever a decode thread holds one of them, while
        whole batches side by side never wait for each other (``bench/throughput.py``).
        The caller writes batch ``n`` while later ones are embedded; when it stops early (a
        cancel) the batches still in the model are dropped, to be embedded by the next run.
        """
        if self.embed_lanes == 1:
            for batch in batches:
                yield batch, self._embed_batch(batch)
            return
        in_flight: deque[tuple[list[DecodedFile], Future[dict[int, np.ndarray]]]] = deque()
        with ThreadPoolExecutor(self.embed_lanes, thread_name_prefix="photofind-embed") as lanes:
            try:
                for batch in batches:
                    in_flight.append((batch, lanes.submit(self._embed_batch, batch)))
                    if len(in_flight) >= self.embed_lanes:
                        done_batch, future = in_flight.popleft()
                        yield done_batch, future.result()
                while in_flight:
                    done_batch, future = in_flight.popleft()
                    yield done_batch, future.result()
            finally:
                for _batch, future in in_flight:
                    future.cancel()

    def _known_fingerprints(self) -> dict[str, int]:
        """Fingerprint -> id of an embedded photo, so exact copies skip decoding."""
        return self.repo.embedded_fingerprints(self.embedder.model_id)

    def _decoded_batches(
        self, work: list[PlannedFile], known: dict[str, int], cancel: threading.Event
    ) -> Iterator[list[DecodedFile]]:
        """Decode on worker threads, at most ``prefetch_batches`` batches ahead of the consumer.

        A decode running longer than ``decode_timeout_s`` is abandoned (see ``DecodePool``) and
        its file skipped, so one hanging file can't stall the run.
        """
        spec = self.embedder.preprocess
        ahead = self.batch_size * (self.prefetch_batches + 1)
        pool: DecodePool[PlannedFile, DecodedFile] = DecodePool(
            lambda planned: decode_planned(planned, known, spec),
            self.decode_workers,
            self.decode_timeout_s,
        )
        pending: deque[tuple[PlannedFile, Job[DecodedFile]]] = deque()
        try:
            queue = iter(work)
            exhausted = False
            batch: list[DecodedFile] = []
            while True:
                while not exhausted and len(pending) < ahead and not cancel.is_set():
                    nxt = next(queue, None)
                    if nxt is None:
                        exhausted = True
                        break
                    pending.append((nxt, pool.submit(nxt)))
                if not pending:
                    break
                planned, job = pending.popleft()
                result = pool.result(job)
                if result is TIMED_OUT:
                    result = DecodedFile(planned, skip_reason=timeout_reason(self.decode_timeout_s))
                batch.append(result)  # type: ignore[arg-type]
                if len(batch) >= self.batch_size:
                    yield batch
                    batch = []
                    if cancel.is_set():
                        return
            if batch:
                yield batch
        finally:
            for _planned, job in pending:
                pool.cancel(job)
            pool.close(wait_s=POOL_CLOSE_WAIT_S)

    def _embed_batch(self, batch: list[DecodedFile]) -> dict[int, np.ndarray]:
        """Vectors for the decoded items of a batch, keyed by position in the batch."""
        positions = [i for i, item in enumerate(batch) if item.tensor is not None]
        if not positions:
            return {}
        tensors = np.stack([batch[i].tensor for i in positions])  # type: ignore[misc]
        vectors = self.embedder.embed(tensors)
        for i in positions:
            batch[i].tensor = None  # free decoded pixels early
        return {pos: vectors[k] for k, pos in enumerate(positions)}

    def _write_batch(
        self, batch: list[DecodedFile], vectors: dict[int, np.ndarray], report: IndexReport
    ) -> None:
        model_id = self.embedder.model_id
        added_ids: list[int] = []
        added_vectors: list[np.ndarray] = []
        removed_ids: list[int] = []
        with self.repo.write() as w:
            for pos, item in enumerate(batch):
                p = item.planned
                is_new = p.photo_id is None
                if item.vanished or (item.io_error and not is_new and not p.content_changed):
                    # Nothing to record: a vanished file is settled by the next scan (removed,
                    # moved or offline), and a read error must not replace a good row.
                    if item.vanished:
                        self._vanished_in.add(p.folder_id)
                    report.skipped.append((p.stat.path, item.skip_reason or VANISHED_REASON))
                    continue
                if item.copy_of is not None:
                    photo_id = _record(w, item, STATUS_OK, taken=item.taken, taken_source=item.taken_source)
                    vec = w.copy_photo_content(item.copy_of, photo_id, model_id)
                    if vec is not None:
                        added_ids.append(photo_id)
                        added_vectors.append(vec)
                    report.copied += 1
                    continue
                if item.skip_reason is not None:
                    photo_id = _record(w, item, STATUS_SKIPPED, skip_reason=item.skip_reason)
                    w.drop_embeddings(photo_id)
                    removed_ids.append(photo_id)
                    report.skipped.append((p.stat.path, item.skip_reason))
                    continue
                photo_id = _record(
                    w, item, STATUS_OK, width=item.width, height=item.height,
                    taken=item.taken, taken_source=item.taken_source, phash=item.phash,
                )
                if p.content_changed:
                    w.drop_embeddings(photo_id)  # vectors of other models are stale too
                vector = stored_precision(vectors[pos])  # what a rebuild from the DB would read
                w.put_embedding(photo_id, model_id, vector)
                added_ids.append(photo_id)
                added_vectors.append(vector)
                report.embedded += 1
                if is_new:
                    report.added += 1
                else:
                    report.updated += 1
        index = self.index
        if index is not None:
            if removed_ids:
                index.remove(np.asarray(removed_ids, dtype=np.int64))
            if added_ids:
                index.add(np.asarray(added_ids, dtype=np.int64), np.stack(added_vectors))

    def _check_vanished_folders(self, folders: Sequence[FolderRow], report: IndexReport) -> None:
        """A folder whose files vanished because the folder itself went away goes offline."""
        gone = [f for f in folders if f.id in self._vanished_in and not os.path.isdir(f.path)]
        if not gone:
            return
        reason = "the folder disappeared during indexing; photos kept"
        with self.repo.write() as w:
            for folder in gone:
                logger.warning("Folder %s is offline: %s", folder.path, reason)
                w.set_folder_state(folder.id, online=False, error=reason)
                if folder.path not in report.offline_folders:
                    report.offline_folders.append(folder.path)

    @property
    def index(self) -> VectorIndex | None:
        """The vector index to keep in step, if any; a function is asked each time, so an index
        that another thread opens during the run is kept in step from then on."""
        return self._index() if callable(self._index) else self._index

    def _save_index(self, final: bool = False) -> None:
        index = self.index
        if index is None:
            return
        if final and index.rebuild_advised:
            # Vectors added batch by batch in folder order leave bursts of near-duplicates
            # poorly linked (recall@10 0.93 at 100k in bench/search.py --incremental); one
            # shuffled rebuild at the end of a large run restores it (1.00).
            index.compact()
        index.save(str(self.repo.generation()))


def _record(w: LibraryWriter, item: DecodedFile, status: str, **facts: Any) -> int:
    """Insert or update the row of a processed file as the scan saw it; returns its id."""
    p = item.planned
    return w.upsert_photo(
        folder_id=p.folder_id,
        path=p.stat.path,
        size=p.stat.size,
        mtime_ns=p.stat.mtime_ns,
        fingerprint=item.fingerprint,
        status=status,
        **facts,
    )
