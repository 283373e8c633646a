"""The index job: the one write path of a library's derived data.

Every caller (``photofind index``, the app's index worker, ``photofind watch`` and the watcher in
the app, folder removal, ``rebuild-index``) goes through ``Library.run_index`` or
``Library.remove_folder``, which hold the writer lock and run this job. One run:

1. brings the database in step with the folders (``Indexer``: plan, decode, embed, store),
   keeping the model's own vector index in step when searches use it (a library too small for
   a ranking space);
2. retires previous model variants that the current one now covers (``upgrade.py``);
3. keeps the saved ranking space of the model searches use in step (``ranking_update.py``);
4. removes the thumbnails of photos that left the library;
5. reads the date taken of photos indexed before photofind recorded it (``taken_backfill.py``:
   EXIF headers only, resumable), and computes the perceptual hash of those indexed before it
   had one (``phash_backfill.py``: a reduced-scale decode, no embedding, resumable).

Steps 2-4 are the job's ``finish``; a run that was cancelled skips them (searches catch up in
memory meanwhile, and the next run does them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photofind.core.indexing.indexer import Indexer, IndexReport, ProgressCallback
from photofind.core.indexing.phash_backfill import backfill_phash
from photofind.core.indexing.ranking_update import update_ranking_space
from photofind.core.indexing.taken_backfill import backfill_taken
from photofind.core.indexing.upgrade import retire_previous, upgrade_state
from photofind.core.models.embedder import Embedder
from photofind.core.models.spec import ModelInfo
from photofind.core.search.ranking import DEFAULT_SPACE, SpaceSpec
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.repository import FolderRow, Repository

logger = logging.getLogger(__name__)


@dataclass
class IndexJob:
    """One library's index job; the caller holds the library's writer lock while it runs."""

    repo: Repository
    embedder: Embedder
    model_info: ModelInfo
    index_path_of: Callable[[str], Path]
    #: The ranking space the job keeps saved (the default ranking's).
    space: SpaceSpec = DEFAULT_SPACE
    batch_size: int = 16
    #: Called after each finished run to drop thumbnails of photos that left the library.
    prune_thumbnails: Callable[[Repository], object] | None = None
    #: Pipeline options for the ``Indexer`` (decode workers, prefetch; benches vary them).
    indexer_options: dict[str, Any] = field(default_factory=dict)

    def run(
        self,
        folders: Sequence[FolderRow] | None = None,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Index ``folders`` (None: all), then ``finish`` unless cancelled."""
        model_index = self._model_index_to_keep()
        limit = self.space.min_photos

        def index_in_use() -> VectorIndex | None:
            # Searches read the model's own index only while the library is smaller than a
            # ranking space's minimum. Once this run has filled it to that size, ``finish``
            # builds the space, and keeping the 1280-d index in step would cost CPU for every
            # later photo (and a rebuild and a save at the end of a large first run) for an
            # index no search reads; if the library shrinks again, it is caught up from the
            # database when opened.
            return model_index if model_index is not None and len(model_index) < limit else None

        indexer = Indexer(
            self.repo, self.embedder, index_in_use if model_index is not None else None,
            batch_size=self.batch_size, **self.indexer_options,
        )
        report = indexer.run(folders, progress, cancel, pause)
        if not report.cancelled:
            self.finish(report)
            backfill_taken(self.repo, cancel, progress=progress)
            backfill_phash(self.repo, cancel, progress=progress)
        return report

    def finish(self, report: IndexReport | None = None) -> None:
        """Steps 2-4 of the module docstring (also after a folder removal)."""
        retired = retire_previous(self.repo, self.model_info, self.index_path_of)
        if retired and report is not None:
            report.retired_models = retired
        search_model = upgrade_state(self.repo, self.model_info).previous or self.model_info
        try:
            outcome = update_ranking_space(
                self.repo, search_model.model_id, search_model.dim,
                self.index_path_of(search_model.model_id), self.space,
            )
        except OSError as exc:  # full disk: searches build the space in memory meanwhile
            logger.warning("could not save the ranking space (%s); searches build it in memory", exc)
            outcome = f"not saved: {exc}"
        if report is not None:
            report.ranking = outcome
        if self.prune_thumbnails is not None:
            try:
                self.prune_thumbnails(self.repo)
            except OSError as exc:
                logger.warning("could not prune thumbnails: %s", exc)

    def _model_index_to_keep(self) -> VectorIndex | None:
        """The model's own index, opened to be kept in step during the run when searches use it:
        while the library is too small for a ranking space. A larger library's searches use the
        space's smaller index, so its 1280-d index (4.9 GB at 1M photos) is never loaded here."""
        info = self.model_info
        if upgrade_state(self.repo, info).in_progress:
            return None  # searches use the previous variant meanwhile
        if self.repo.embedding_count(info.model_id) >= self.space.min_photos:
            return None
        index = VectorIndex(self.index_path_of(info.model_id), info.dim)
        outcome = index.open(
            lambda: self.repo.embeddings_for(info.model_id, info.dim),
            str(self.repo.generation()),
            lambda token: self.repo.embedding_changes(info.model_id, info.dim, token),
        )
        logger.info("model index for %s: %s", info.model_id, outcome)
        return index
