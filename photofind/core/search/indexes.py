"""The indexes one library's searches read, loaded once and kept in step with it in memory.

A ``SearchIndexes`` belongs to one ``Library`` (``close()`` frees everything). It holds, per model
id, the model's own vector index (plain cosine, and libraries too small for a ranking space)
and one ``RankingSpace`` per ``SpaceSpec`` that searches asked for; and every photo's perceptual
hash (the edited-copy search of image queries compares the query's with them). Query-time stages (query
expansion, diffusion) share their space's entry, so switching them loads nothing.

Nothing here writes the database or a file: what the index job saved is loaded and caught up in
memory; what it did not save (another ranking variant, a library on a read-only medium, a large
library's 1280-d model index) is built in memory and dropped with the library.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from photofind.core.search.filtered import FilteredIndex
from photofind.core.search.ranking import SpaceSpec
from photofind.core.search.space import TRANSFORM_KIND, RankingSpace, catch_up_limit
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.photo_filter import PhotoFilter
from photofind.store.repository import Repository

logger = logging.getLogger(__name__)


class SearchIndexes:
    """Loaded indexes of one library, keyed by what their contents depend on (see module doc)."""

    def __init__(self, repo: Repository, index_path_of: Callable[[str], Path]) -> None:
        self.repo = repo
        self._index_path_of = index_path_of
        self._lock = threading.Lock()  # loading and building; searches of a loaded space don't wait
        self._raw: dict[str, tuple[int, VectorIndex]] = {}
        self._spaces: dict[tuple[str, SpaceSpec], tuple[int, RankingSpace | None]] = {}
        # the last filtered view (the GUI searches with one filter many times): (key, view)
        self._filtered: tuple[tuple[int, int, PhotoFilter], FilteredIndex] | None = None
        # (generation, (ids, hashes)): every photo's perceptual hash, for edited-copy searches
        self._hashes: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None

    def filtered(self, index: VectorIndex, photo_filter: PhotoFilter) -> FilteredIndex:
        """``index`` restricted to the photos that pass ``photo_filter``, kept while the library
        and the filter stay the same (the last one only)."""
        key = (id(index), self.repo.generation(), photo_filter)
        cached = self._filtered
        if cached is not None and cached[0] == key and cached[1].index is index:
            return cached[1]
        view = FilteredIndex(index, self.repo.shown_ids(None, photo_filter))
        self._filtered = (key, view)
        return view

    def perceptual_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, hashes)`` of the photos with a perceptual hash (``Repository.perceptual_hashes``:
        16 bytes a photo, 16 MB at 1M), read once per library generation."""
        generation = self.repo.generation()
        entry = self._hashes
        if entry is not None and entry[0] == generation:
            return entry[1]
        with self._lock:
            entry = self._hashes
            if entry is None or entry[0] != generation:
                entry = (generation, self.repo.perceptual_hashes())
                self._hashes = entry
            return entry[1]

    def model_index(self, model_id: str, dim: int) -> VectorIndex:
        """The model's own index: the saved file caught up in memory, or built in memory."""
        generation = self.repo.generation()
        entry = self._raw.get(model_id)
        if entry is not None and entry[0] == generation:
            return entry[1]
        with self._lock:
            entry = self._raw.get(model_id)
            if entry is None:
                index = VectorIndex(self._index_path_of(model_id), dim)
                token = index.load()
            else:
                index, token = entry[1], str(entry[0])
            if token != str(generation) and (
                token is None
                or index.catch_up(lambda t: self.repo.embedding_changes(model_id, dim, t), token) is None
            ):
                index.rebuild(*self.repo.embeddings_for(model_id, dim))
                logger.info("model index %s: built %d vectors in memory", index.path.name, len(index))
            self._raw[model_id] = (generation, index)
            return index

    def space(self, model_id: str, dim_in: int, spec: SpaceSpec) -> RankingSpace | None:
        """The ranking space for ``spec`` in step with the library, or None while the library is
        too small to learn one (searches then use ``model_index``)."""
        key = (model_id, spec)
        generation = self.repo.generation()
        entry = self._spaces.get(key)
        if entry is not None and entry[0] == generation:
            return entry[1]
        with self._lock:
            entry = self._spaces.get(key)
            space = entry[1] if entry is not None else None
            if self.repo.embedding_count(model_id) < max(2, spec.min_photos):
                space = None  # too small to learn from (or shrunk): the model's own index
            elif space is not None:
                space = self._in_step(space)
            else:
                path = self._index_path_of(model_id)
                space = RankingSpace.load(self.repo, model_id, dim_in, path, spec)
                if space is not None and not space.catch_up(self.repo):
                    space = None
                if space is None:
                    space = RankingSpace.build(self.repo, model_id, dim_in, path, spec)
            self._spaces[key] = (generation, space)
            return space

    def _in_step(self, space: RankingSpace) -> RankingSpace:
        """``space`` caught up; or the index job's newer saved space (it refitted the PCA, or the
        library changed too much to catch up one by one); or, failing both, ``space`` as it is
        (rows are checked against the database, so removed photos are never shown)."""
        refitted = space.spec.pca and self._stored_version(space.model_id) != space.version
        if not refitted and space.catch_up(self.repo, max_changes=catch_up_limit(len(space.index))):
            return space
        path = self._index_path_of(space.model_id)
        saved = RankingSpace.load(self.repo, space.model_id, space.dim_in, path, space.spec)
        if saved is not None and saved.generation >= space.generation and saved.catch_up(
            self.repo, max_changes=catch_up_limit(len(saved.index))
        ):
            return saved
        logger.info("ranking space %s: searching it as it is until the index job updates it", space.index.path.name)
        return space

    def _stored_version(self, model_id: str) -> int | None:
        stored = self.repo.ranking_transform(model_id, TRANSFORM_KIND)
        return None if stored is None else stored[0]

    def close(self) -> None:
        """Drop every loaded index (memory is freed once no search holds one)."""
        with self._lock:
            self._raw.clear()
            self._spaces.clear()
            self._filtered = None
            self._hashes = None
