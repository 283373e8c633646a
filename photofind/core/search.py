"""Query -> ranked photos: embed the query, ask the HNSW index, keep what may be shown.

The index holds every embedded photo, including those of offline folders; rows are checked
against SQLite after the nearest-neighbour step so that offline, skipped or deleted photos are
never returned, asking the index for more candidates when filtering leaves too few.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from photofind.core.embedder import Embedder
from photofind.core.images import decode_for_model
from photofind.core.vector_index import VectorIndex
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK

logger = logging.getLogger(__name__)

QuerySource = str | os.PathLike[str] | bytes


@dataclass(frozen=True)
class Hit:
    photo_id: int
    path: str
    score: float
    size: int
    width: int | None
    height: int | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class Searcher:
    """Searches one model's index; the same object serves the CLI, the GUI and the benches."""

    def __init__(self, repo: Repository, embedder: Embedder, index: VectorIndex) -> None:
        self.repo = repo
        self.embedder = embedder
        self.index = index

    def embed_query(self, sources: QuerySource | Sequence[QuerySource]) -> np.ndarray:
        """One unit vector for one image, or the normalised mean of several images.

        Raises ``ImageDecodeError`` when a query image cannot be read.
        """
        items = [sources] if isinstance(sources, (str, bytes, os.PathLike)) else list(sources)
        if not items:
            raise ValueError("no query image given")
        tensors = np.stack([decode_for_model(s, self.embedder.preprocess).tensor for s in items])
        vectors = self.embedder.embed(tensors)
        return _unit(vectors.mean(axis=0))

    def search_image(self, sources: QuerySource | Sequence[QuerySource], k: int = 20) -> list[Hit]:
        return self.search_vector(self.embed_query(sources), k)

    def similar_to(self, photo_id: int, k: int = 20) -> list[Hit]:
        """Photos like a library photo, from its stored vector (no decoding); itself excluded."""
        vector = self.repo.embedding(photo_id, self.embedder.model_id)
        if vector is None:
            raise LookupError(f"photo {photo_id} has no embedding for {self.embedder.model_id}")
        return self.search_vector(vector, k, exclude_ids={photo_id})

    def search_vector(
        self, vector: np.ndarray, k: int = 20, exclude_ids: set[int] | None = None
    ) -> list[Hit]:
        started = time.perf_counter()
        exclude = exclude_ids or set()
        k = max(0, int(k))
        available = len(self.index)
        want = min(available, k + len(exclude) + 8)
        hits: list[Hit] = []
        while want > 0:
            ids, scores = self.index.search(vector, want)
            rows = self.repo.photos_by_ids(ids.tolist())
            hits = []
            for photo_id, score in zip(ids.tolist(), scores.tolist()):
                row = rows.get(photo_id)
                if row is None or photo_id in exclude or row.status != STATUS_OK or not row.online:
                    continue
                hits.append(
                    Hit(photo_id, row.path, float(score), row.size, row.width, row.height)
                )
            if len(hits) >= k or want >= available:
                break
            want = min(available, want * 2)
        logger.debug("search: %d hits in %.1f ms", min(k, len(hits)), (time.perf_counter() - started) * 1e3)
        return hits[:k]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)
