"""One open library: the composition root the CLI, the GUI, the watcher and the benches share.

A ``Library`` owns its parts and their state: the database, the model (created on first use,
so listing folders or printing stats stays instant), the indexes searches read
(``SearchIndexes``) and the cross-process writer lock. Parts can be handed in through the
constructor (tests pass a fake embedder); nothing is module-global, and ``close()`` frees it all.

Writes go one way: ``run_index``, ``add_folder``, ``remove_folder`` and ``rebuild_index`` take the
writer lock and use the index job (``indexing/job.py``); ``searcher()`` only reads.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from photofind.config import Paths
from photofind.core.images.thumbnails import ThumbnailCache
from photofind.core.indexing.child import IndexChildBusy, run_index_in_child
from photofind.core.indexing.indexer import IndexReport, ProgressCallback
from photofind.core.indexing.job import IndexJob
from photofind.core.indexing.trash import TrashFunction, TrashReport, default_trash, move_to_trash
from photofind.core.indexing.scanner import storable_path
from photofind.core.indexing.upgrade import UpgradeState, upgrade_state
from photofind.core.models.embedder import Embedder, OnnxEmbedder, nvidia_gpu_present, usable_cores
from photofind.core.models.errors import ModelNotAvailable
from photofind.core.models.registry import DEFAULT_MODEL, default_model_name, resolve_model
from photofind.core.models.spec import ModelInfo
from photofind.core.search.duplicates import (
    DEFAULT_THRESHOLD,
    HASH_FLOOR,
    MAX_HAMMING,
    VETO_HAMMING,
    DuplicateGroup,
    find_duplicates,
)
from photofind.core.search.indexes import SearchIndexes
from photofind.core.search.ranking import RankingSettings
from photofind.core.search.searcher import Searcher
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.db import is_read_only, open_database
from photofind.store.photo_filter import PhotoFilter
from photofind.store.repository import FolderRow, Repository, normalise_folder_path

logger = logging.getLogger(__name__)
#: Batches the index job runs through the model at once at most (``indexing_embedder``):
#: measured on 2 cores only; beyond 4, more lanes would mostly add memory (an arena each).
MAX_EMBED_LANES = 4


class FolderError(ValueError):
    """A folder cannot be added or removed; the message is meant for the user."""


class LibraryBusy(RuntimeError):
    """Another photofind process is writing this library right now."""


class LibraryReadOnly(RuntimeError):
    """The library's data dir can't be written (read-only, full disk, no permission)."""


class Library:
    """The user's photo library in one data directory (see module docstring)."""

    def __init__(
        self,
        paths: Paths,
        *,
        model: str | None = None,
        device: str = "auto",
        threads: int | None = None,
        model_info: ModelInfo | None = None,
        embedder: Embedder | None = None,
        ranking: RankingSettings | None = None,
        convert_model_in_child: bool = False,
        trash: TrashFunction | None = None,
    ) -> None:
        """``model_info`` and ``embedder`` replace what ``model`` would resolve to and the ONNX
        session made from it (tests hand in fakes; an embedder alone needs no model_info).
        ``convert_model_in_child``: a model converted on first use is converted in a child
        process (the app: converting holds the GIL for seconds)."""
        try:
            self.paths = paths.ensure()
        except OSError as exc:  # a read-only data dir: fine as long as the library exists
            if not paths.db_path.is_file():
                raise
            logger.warning("Cannot create photofind's folders in %s: %s", paths.data_dir, exc)
            self.paths = paths
        self.engine = open_database(paths.db_path, paths.backups_dir)
        #: True when the database could only be opened read-only: search works, writing raises.
        self.read_only = is_read_only(self.engine)
        self.repo = Repository(self.engine)
        #: None until the model is resolved when none was named (``default_model_name``).
        self._requested_model = model
        self.model_name = model or DEFAULT_MODEL
        self.device = device
        self.threads = threads
        #: The ranking stages searches use unless a caller passes its own (the GUI's Ranking
        #: menu sets this).
        self.ranking = ranking or RankingSettings()
        self.indexes = SearchIndexes(self.repo, self.index_path)
        if embedder is not None and model_info is None:
            model_info = ModelInfo(embedder.model_id, embedder.model_id, Path(), embedder.dim, embedder.preprocess)
        self._model_info = model_info
        self._embedder = embedder
        self._embedder_given = embedder is not None
        self._index_embedder: tuple[Embedder, int] | None = None
        self._convert_in_child = convert_model_in_child
        #: Moves one file to the desktop's trash (default: ``send2trash``; tests hand in their own).
        self.trash = trash
        self._previous_embedders: dict[str, Embedder] = {}
        self._upgrade: tuple[int, UpgradeState] | None = None
        self._parts_lock = threading.Lock()  # creating the model session once, whichever thread asks
        self._writer_lock = FileLock(str(self.paths.lock_path))  # re-entrant per thread

    # ------------------------------------------------------------------ parts
    @property
    def model_info(self) -> ModelInfo:
        """The library's current model, described: a built-in model's file is made only when an
        embedder needs it (``embedder``), so reading the library (stats, a search that still uses
        a previous variant's vectors) never converts a model into the data dir."""
        if self._model_info is None:
            with self._parts_lock:
                if self._model_info is None:
                    self._model_info = self._resolve_default() if self._requested_model is None else resolve_model(
                        self.model_name, self.paths.models_dir, build=False
                    )
        return self._model_info

    def _resolve_default(self) -> ModelInfo:
        """The default model for this device and library (int8 on CPU; float32 where it cannot
        be made, e.g. a packaged app that bundles only float32)."""
        name = default_model_name(self.device, self.repo.has_vectors_of_model)
        try:
            info = resolve_model(name, self.paths.models_dir, build=False)
        except ModelNotAvailable as exc:
            if name == DEFAULT_MODEL:
                raise
            logger.warning("using %s: %s", DEFAULT_MODEL, exc)
            info = resolve_model(DEFAULT_MODEL, self.paths.models_dir, build=False)
        self.model_name = info.name
        return info

    def _build_model(self, info: ModelInfo) -> ModelInfo:
        """Convert the described model ``info``; the default int8 model falls back to float32
        when it cannot be made here (as ``_resolve_default`` does when it cannot be described)."""
        try:
            built = resolve_model(info.name, self.paths.models_dir, convert_in_child=self._convert_in_child)
            # a variant handed in (e.g. a previous preprocessing) shares the built file: keep it
            return info if info.onnx_path.is_file() else built
        except ModelNotAvailable as exc:
            if self._requested_model is not None or info.name == DEFAULT_MODEL:
                raise
            logger.warning("using %s: %s", DEFAULT_MODEL, exc)
            self.model_name = DEFAULT_MODEL
            self._upgrade = None  # the current model changed
            return resolve_model(DEFAULT_MODEL, self.paths.models_dir, convert_in_child=self._convert_in_child)

    @property
    def embedder(self) -> Embedder:
        """The model session (created on first use: seconds, and memory; a built-in model is
        converted first if its file is not there yet)."""
        if self._embedder is None:
            info = self._built_model_info()
            with self._parts_lock:
                if self._embedder is None:
                    self._embedder = OnnxEmbedder(info, device=self.device, threads=self.threads)
        return self._embedder

    def _built_model_info(self) -> ModelInfo:
        """``model_info`` with its ONNX file made (converted on first use)."""
        info = self.model_info
        if not info.onnx_path.is_file():
            with self._parts_lock:
                info = self._model_info or info  # another thread may have made it meanwhile
                if not info.onnx_path.is_file():
                    info = self._model_info = self._build_model(info)
        return info

    def indexing_embedder(self) -> tuple[Embedder, int]:
        """The model session the index job embeds with, and how many batches it runs at once.

        On a CPU the job runs whole batches side by side (``Indexer.embed_lanes``), each on few
        model threads, rather than one batch split over every core: an operator split over the
        cores waits for its slowest part whenever a decode thread holds a core (on 2 cores,
        2 lanes x 1 thread index Corel ~10 % faster for ~7 % less CPU per photo than 1 x 2,
        interleaved runs of ``bench/throughput.py``'s indexer). So indexing gets its own session
        (searches keep theirs on every core, made only if this process searches too); a
        ``threads`` option, a handed-in embedder or a GPU keeps the one session.
        """
        if self._index_embedder is None:
            cores = usable_cores()
            on_cpu = self.device == "cpu" or (self.device == "auto" and not nvidia_gpu_present())
            if self._embedder_given or self.threads or not on_cpu or cores < 2:
                self._index_embedder = (self.embedder, 1)
            else:
                lanes = min(cores, MAX_EMBED_LANES)
                info = self._built_model_info()
                with self._parts_lock:
                    if self._index_embedder is None:
                        session = OnnxEmbedder(info, device="cpu", threads=max(1, cores // lanes))
                        self._index_embedder = (session, lanes)
        return self._index_embedder

    def index_path(self, model_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
        return self.paths.index_dir / f"{safe}.hnsw"

    def index_files(self, model_id: str) -> list[Path]:
        """The HNSW files of ``model_id``: the model's own first, then ranking spaces."""
        raw = self.index_path(model_id)
        ranked = sorted(raw.parent.glob(f"{raw.stem}.*.hnsw"), key=lambda p: p.stat().st_mtime)
        return [p for p in [raw, *reversed(ranked)] if p.exists()]

    # ------------------------------------------------------------------ reading
    def searcher(self, settings: RankingSettings | None = None, photo_filter: PhotoFilter | None = None) -> Searcher:
        """A read-only searcher; ``settings`` switch ranking stages (default: ``self.ranking``).
        While the library moves to a new variant of its model, the previous variant's complete
        vectors are searched (``indexing/upgrade.py``)."""
        settings = settings or self.ranking
        previous = self.upgrade_state().previous
        embedder = self.embedder if previous is None else self._previous_embedder(previous)
        return Searcher(self.repo, embedder, self.indexes, settings, photo_filter)

    def warm_up(self) -> None:
        """Create the model session and load the indexes searches use now (call it off the GUI
        thread at start, so the first query is quick)."""
        searcher = self.searcher()
        if searcher.current_space() is None:
            searcher.index  # noqa: B018 - loads the model's own index

    def model_index(self) -> VectorIndex:
        """The current model's own index, as searches read it (loaded or built in memory)."""
        info = self.model_info
        return self.indexes.model_index(info.model_id, info.dim)

    def find_duplicates(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        photo_filter: PhotoFilter | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
        hash_floor: float | None = HASH_FLOOR,
        max_hamming: int = MAX_HAMMING,
        veto_hamming: int | None = VETO_HAMMING,
    ) -> list[DuplicateGroup]:
        """Near-duplicate groups among the photos searches show (read-only, no decoding; see
        ``core/search/duplicates.py``; ``hash_floor`` None: the cosine rule alone)."""
        previous = self.upgrade_state().previous
        info = previous or self.model_info
        return find_duplicates(
            self.repo, self.indexes, info.model_id, info.dim, threshold=threshold,
            photo_filter=photo_filter, settings=self.ranking, progress=progress, cancel=cancel,
            hash_floor=hash_floor, max_hamming=max_hamming, veto_hamming=veto_hamming,
        )

    def upgrade_state(self) -> UpgradeState:
        """How far the move to the current model variant is (re-checked when the library changes)."""
        generation = self.repo.generation()
        cached = self._upgrade
        if cached is None or cached[0] != generation:
            cached = self._upgrade = (generation, upgrade_state(self.repo, self.model_info))
        return cached[1]

    @property
    def search_model_id(self) -> str:
        """The model id whose vectors searches use now."""
        previous = self.upgrade_state().previous
        return (previous or self.model_info).model_id

    def _previous_embedder(self, info: ModelInfo) -> Embedder:
        """The embedder of a previous variant (same ONNX file, its own preprocessing)."""
        with self._parts_lock:
            embedder = self._previous_embedders.get(info.model_id)
            if embedder is None:
                embedder = OnnxEmbedder(info, device=self.device, threads=self.threads)
                self._previous_embedders = {info.model_id: embedder}
            return embedder

    def find_folder(self, path: str | os.PathLike[str]) -> FolderRow:
        wanted = {normalise_folder_path(path), os.path.abspath(os.path.expanduser(str(path)))}
        for row in self.repo.folders():
            if row.path in wanted:
                return row
        raise FolderError(f"{path} is not a folder of the library")

    # ------------------------------------------------------------------ writing
    @contextmanager
    def writing(self, timeout: float = 0.0) -> Iterator[None]:
        """Hold the library's single-writer lock (across processes) for the block; re-entrant
        within one thread."""
        if self.read_only:
            raise LibraryReadOnly(
                f"The library in {self.paths.data_dir} can only be read (its folder or disk is "
                "read-only, full, or not yours): searching works, indexing does not."
            )
        try:
            self._writer_lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise LibraryBusy(
                f"The library in {self.paths.data_dir} is busy: another photofind is indexing "
                "it. Try again when it has finished."
            ) from exc
        except OSError as exc:
            raise LibraryReadOnly(
                f"Cannot create the lock file {self.paths.lock_path}: {exc.strerror or exc}"
            ) from exc
        try:
            yield
        finally:
            self._writer_lock.release()

    def index_job(self, batch_size: int = 16, **indexer_options: Any) -> IndexJob:
        """The index job of this library (the caller holds ``writing()`` while it runs)."""
        embedder, lanes = self.indexing_embedder()
        return IndexJob(
            self.repo, embedder, self.model_info, self.index_path, batch_size=batch_size,
            prune_thumbnails=self._prune_thumbnails, indexer_options={"embed_lanes": lanes, **indexer_options},
        )

    def _finishing_job(self) -> IndexJob:
        """An index job for its ``finish`` only (after a removal): embeds nothing, so it takes
        the session searches use rather than making the indexing one."""
        return IndexJob(
            self.repo, self.embedder, self.model_info, self.index_path, prune_thumbnails=self._prune_thumbnails
        )

    def _prune_thumbnails(self, repo: Repository) -> int:
        """Drop thumbnails of photos that left the library (free when nothing changed)."""
        cache = ThumbnailCache.for_paths(self.paths)
        return cache.prune_missing(repo.live_fingerprints, token=repo.generation())

    def run_index(
        self,
        folders: Sequence[str | os.PathLike[str] | FolderRow] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
        lock_timeout: float = 0.0,
        batch_size: int = 16,
    ) -> IndexReport:
        """Run the index job over ``folders`` (library folders, by path or row; None: all).

        Raises ``LibraryBusy`` when another process writes the library for longer than
        ``lock_timeout`` seconds, ``LibraryReadOnly`` when it can't be written, and
        ``FolderError`` for a path that is not a library folder.
        """
        with self.writing(lock_timeout):
            rows = None if folders is None else [
                f if isinstance(f, FolderRow) else self.find_folder(f) for f in folders
            ]
            job = self.index_job(batch_size)
            return job.run(rows, progress, cancel, pause)

    def run_index_in_child(
        self,
        folders: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
        lock_timeout: float = 0.0,
    ) -> IndexReport:
        """``run_index`` in a child ``photofind index`` process (``indexing/child.py``): what the
        app does, so indexing never shares the window's GIL and a decoder crash cannot take the
        window down. Raises ``LibraryBusy``, ``LibraryReadOnly``, or ``IndexChildFailed``."""
        if self.read_only:
            with self.writing():  # raises LibraryReadOnly with the usual message
                pass
        # The model this library resolved (or was asked for); none yet: the child picks the
        # default by the same rule (device, and the variant the library already has).
        name = self._requested_model or (self._model_info.name if self._model_info is not None else None)
        extra = (["--model", name] if name else []) + ["--device", self.device]
        if self.threads:
            extra += ["--threads", str(self.threads)]
        try:
            return run_index_in_child(
                self.paths.data_dir, folders, progress=progress, cancel=cancel, pause=pause,
                lock_timeout=lock_timeout, extra_args=extra,
            )
        except IndexChildBusy as exc:
            raise LibraryBusy(str(exc)) from exc

    def add_folder(self, path: str | os.PathLike[str], *, lock_timeout: float = 0.0) -> FolderRow:
        """Add a folder to the library (not indexed yet); nested folders are merged sensibly."""
        folder = normalise_folder_path(path)
        if storable_path(folder) != folder:
            raise FolderError(f"{storable_path(folder)}: the folder name is not valid UTF-8; rename it to add it")
        if not os.path.isdir(folder):
            raise FolderError(f"{folder} is not a folder that can be read")
        data_dir = str(self.paths.data_dir)
        if _is_within(folder, data_dir) or _is_within(data_dir, folder):
            raise FolderError(f"{folder} overlaps photofind's own data folder {data_dir}")
        with self.writing(lock_timeout):
            existing = self.repo.folders()
            for row in existing:
                if row.path == folder:
                    return row
                if _is_within(folder, row.path):
                    raise FolderError(f"{folder} is already in the library as part of {row.path}")
            with self.repo.write() as w:
                folder_id = w.add_folder(folder)
                for row in existing:
                    if _is_within(row.path, folder):
                        w.absorb_folder(row.id, folder_id)
        added = self.repo.folder_by_path(folder)
        assert added is not None
        return added

    def remove_folder(self, path: str | os.PathLike[str], *, lock_timeout: float = 0.0) -> int:
        """Forget a folder's photos (the files stay untouched); returns how many were removed.
        The index job then brings the saved indexes and thumbnails in step."""
        with self.writing(lock_timeout):
            folder = self.find_folder(path)
            with self.repo.write() as w:
                ids = w.remove_folder(folder.id)
            if ids:
                self._finishing_job().finish()
        return len(ids)

    def trash_duplicates(
        self, groups: Sequence[DuplicateGroup], *, trash: TrashFunction | None = None, lock_timeout: float = 0.0
    ) -> TrashReport:
        """Move every photo of ``groups`` except its keeper to the desktop's trash and forget
        it (the only change photofind ever makes to a user's files: call it only when the user
        asked). ``trash`` replaces ``send2trash`` (tests). See ``core/indexing/trash.py``."""
        with self.writing(lock_timeout):
            report, moved = move_to_trash(self.repo, groups, trash or self.trash or default_trash())
            if moved:
                self._finishing_job().finish()
        return report

    def rebuild_index(self) -> int:
        """Rebuild the search model's index files from SQLite; returns the number of vectors."""
        with self.writing():
            model_id = self.search_model_id
            for path in self.index_files(model_id):
                for f in (path, path.with_name(path.name + ".json")):
                    f.unlink(missing_ok=True)
            info = self.model_info
            index = VectorIndex(self.index_path(info.model_id), info.dim)
            ids, vectors = self.repo.embeddings_for(info.model_id, info.dim)
            index.rebuild(ids, vectors)
            index.save(str(self.repo.generation()))
            self._finishing_job().finish()
            self.indexes.close()  # searches of this process load the new files
            return len(ids)

    def close(self) -> None:
        """Free the loaded indexes and the database connections."""
        self.indexes.close()
        self.engine.dispose()


def _is_within(path: str, parent: str) -> bool:
    return path != parent and path.startswith(os.path.join(parent, ""))
