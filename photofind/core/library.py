"""One open library: the database, the model, the vector index and the operations on folders.

This is the composition root that the CLI and the GUI share. Heavy parts (the ONNX session,
the HNSW index) are created on first use, so listing folders or printing stats stays instant.
Index runs take a single-writer lock on the data directory, so two photofind processes never
write the same library at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from photofind.config import Paths
from photofind.core.models.embedder import OnnxEmbedder
from photofind.core.indexing.indexer import Indexer
from photofind.core.models.registry import DEFAULT_MODEL, resolve_model
from photofind.core.models.spec import ModelInfo
from photofind.core.search.ranking import RankingSettings
from photofind.core.indexing.scanner import storable_path
from photofind.core.search.searcher import Searcher
from photofind.core.indexing.upgrade import UpgradeState, retire_previous, upgrade_state
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.db import is_read_only, open_database
from photofind.store.repository import FolderRow, Repository, normalise_folder_path

logger = logging.getLogger(__name__)


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
    ) -> None:
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
        self.model_name = model or DEFAULT_MODEL
        self.device = device
        self.threads = threads
        #: The ranking stages searches use unless a caller passes its own (the GUI's Ranking
        #: menu sets this).
        self.ranking = RankingSettings()
        self._upgrade: tuple[int, UpgradeState] | None = None
        self._previous: tuple[str, OnnxEmbedder, dict[str, VectorIndex]] | None = None

    # ------------------------------------------------------------------ lazy parts
    @cached_property
    def model_info(self) -> ModelInfo:
        return resolve_model(self.model_name, self.paths.models_dir)

    @cached_property
    def embedder(self) -> OnnxEmbedder:
        return OnnxEmbedder(self.model_info, device=self.device, threads=self.threads)

    @cached_property
    def vector_index(self) -> VectorIndex:
        return self._open_index(self.model_info)

    def _open_index(self, info: ModelInfo) -> VectorIndex:
        """The model's own HNSW index of ``info``: loaded, caught up or rebuilt from the DB."""
        index = VectorIndex(self.index_path(info.model_id), info.dim)
        outcome = index.open(
            lambda: self.repo.embeddings_for(info.model_id, info.dim),
            str(self.repo.generation()),
            lambda token: self.repo.embedding_changes(info.model_id, info.dim, token),
        )
        logger.info("Vector index for %s: %s", info.model_id, outcome)
        return index

    def index_path(self, model_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
        return self.paths.index_dir / f"{safe}.hnsw"

    # ------------------------------------------------------------------ operations
    def indexer(self, **options: object) -> Indexer:
        """An index run. It keeps the model's own vector index up to date only when this process
        has it open already; otherwise that file catches up from the library generation when a
        search next needs it (a large library's searches use the ranking space's smaller index,
        so the 1280-d one need never be loaded)."""
        if self.needs_model_index():
            self.vector_index  # noqa: B018 - searches use it: keep it in step during the run
        return Indexer(self.repo, self.embedder, self._loaded_index, **options)  # type: ignore[arg-type]

    def needs_model_index(self) -> bool:
        """Whether searches use the model's own index: ranking without a learned space, or a
        library still too small to learn one from."""
        if not self.ranking.needs_space:
            return True
        # during an upgrade the library's size is what the previous variant holds
        return self.repo.embedding_count(self.search_model_id) < self.ranking.min_photos

    def index_files(self, model_id: str) -> list[Path]:
        """The HNSW files of ``model_id``: the model's own first, then ranking spaces."""
        raw = self.index_path(model_id)
        ranked = sorted(raw.parent.glob(f"{raw.stem}.*.hnsw"), key=lambda p: p.stat().st_mtime)
        return [p for p in [raw, *reversed(ranked)] if p.exists()]

    def _loaded_index(self) -> VectorIndex | None:
        return self.__dict__.get("vector_index")

    def searcher(self, settings: RankingSettings | None = None, build: str = "auto") -> Searcher:
        """A searcher over the library's vectors; ``settings`` switch ranking stages (default:
        all). While the library moves to a new variant of its model, the previous variant's
        complete vectors are searched (``core/indexing/upgrade.py``)."""
        settings = settings or self.ranking
        previous = self.upgrade_state().previous
        if previous is None:
            return Searcher(
                self.repo, self.embedder, lambda: self.vector_index, settings, build=build,
                index_path=self.index_path(self.model_info.model_id),
            )
        embedder, open_index = self._previous_parts(previous)
        return Searcher(
            self.repo, embedder, open_index, settings, build=build,
            index_path=self.index_path(previous.model_id),
        )

    def upgrade_state(self) -> UpgradeState:
        """How far the move to the current model variant is (re-checked when the library changes)."""
        generation = self.repo.generation()
        if self._upgrade is None or self._upgrade[0] != generation:
            self._upgrade = (generation, upgrade_state(self.repo, self.model_info))
        return self._upgrade[1]

    @property
    def search_model_id(self) -> str:
        """The model id whose vectors searches use now."""
        previous = self.upgrade_state().previous
        return (previous or self.model_info).model_id

    def retire_previous_models(self) -> list[str]:
        """After an index run (writer lock held): drop previous model variants now covered."""
        if self.read_only:
            return []
        try:
            retired = retire_previous(self.repo, self.model_info, self.index_path)
        except Exception:
            logger.exception("could not remove the previous model's vectors; will retry next run")
            return []
        if retired:
            self._upgrade = None
            self._previous = None
        return retired

    def _previous_parts(self, info: ModelInfo) -> tuple[OnnxEmbedder, Callable[[], VectorIndex]]:
        """The embedder (same ONNX file) and an on-demand index opener of a previous variant."""
        if self._previous is None or self._previous[0] != info.model_id:
            embedder = OnnxEmbedder(info, device=self.device, threads=self.threads)
            self._previous = (info.model_id, embedder, {})
        _, embedder, opened = self._previous

        def open_index() -> VectorIndex:
            if "index" not in opened:
                opened["index"] = self._open_index(info)
            return opened["index"]

        return embedder, open_index

    @contextmanager
    def writing(self, timeout: float = 0.0) -> Iterator[None]:
        """Hold the library's single-writer lock (across processes) for the block."""
        if self.read_only:
            raise LibraryReadOnly(
                f"The library in {self.paths.data_dir} can only be read (its folder or disk is "
                "read-only, full, or not yours): searching works, indexing does not."
            )
        lock = FileLock(str(self.paths.lock_path), timeout=timeout)
        try:
            lock.acquire()
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
            lock.release()

    def add_folder(self, path: str | os.PathLike[str]) -> FolderRow:
        """Add a folder to the library (not indexed yet); nested folders are merged sensibly."""
        folder = normalise_folder_path(path)
        if storable_path(folder) != folder:
            raise FolderError(f"{storable_path(folder)}: the folder name is not valid UTF-8; rename it to add it")
        if not os.path.isdir(folder):
            raise FolderError(f"{folder} is not a folder that can be read")
        data_dir = str(self.paths.data_dir)
        if _is_within(folder, data_dir) or _is_within(data_dir, folder):
            raise FolderError(f"{folder} overlaps photofind's own data folder {data_dir}")
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

    def remove_folder(self, path: str | os.PathLike[str]) -> int:
        """Forget a folder's photos (the files stay untouched); returns how many were removed."""
        folder = self.find_folder(path)
        with self.repo.write() as w:
            ids = w.remove_folder(folder.id)
        index = self._loaded_index()
        if ids and index is not None:  # else the file catches up when it is next opened
            index.remove(np.asarray(ids, dtype=np.int64))
            index.save(str(self.repo.generation()))
        return len(ids)

    def find_folder(self, path: str | os.PathLike[str]) -> FolderRow:
        wanted = {normalise_folder_path(path), os.path.abspath(os.path.expanduser(str(path)))}
        for row in self.repo.folders():
            if row.path in wanted:
                return row
        raise FolderError(f"{path} is not a folder of the library")

    def rebuild_index(self) -> int:
        """Rebuild the current model's HNSW file from SQLite; returns the number of vectors."""
        info = self.model_info
        ids, vectors = self.repo.embeddings_for(info.model_id, info.dim)
        self.vector_index.rebuild(ids, vectors)
        self.vector_index.save(str(self.repo.generation()))
        return len(ids)

    def close(self) -> None:
        self.engine.dispose()


def _is_within(path: str, parent: str) -> bool:
    return path != parent and path.startswith(os.path.join(parent, ""))
