"""Query -> ranked photos: embed the query, ask the HNSW index, re-rank, keep what may be shown.

Ranking stages (``core/search/ranking.py``): the query and the library live in a library-learned
PCA + DBA space (``search/space.py``, saved by the index job and caught up in memory here; for
libraries too small to learn from, the model's own vectors and index are searched),
then average query expansion re-searches with the query plus its top neighbours, and optional
diffusion re-orders the top candidates. ``RankingSettings.plain()`` is plain cosine.

The index holds every embedded photo, including those of offline folders; rows are checked
against SQLite after the nearest-neighbour step so that offline, skipped or deleted photos are
never returned, asking the index for more candidates when filtering leaves too few.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from photofind.core.images.decode import decode_for_model
from photofind.core.images.phash import perceptual_hash
from photofind.core.images.region import Region
from photofind.core.models.embedder import Embedder, embed_each
from photofind.core.search import copies, edited_copies, query_views
from photofind.core.search.indexes import SearchIndexes
from photofind.core.search.ranking import RankingSettings, vectors_of
from photofind.core.search.rerank import diffuse, expand_query
from photofind.core.search.space import RankingSpace
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.photo_filter import PhotoFilter
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK

logger = logging.getLogger(__name__)

QuerySource = query_views.Source


@dataclass(frozen=True)
class Hit:
    photo_id: int
    path: str
    score: float
    size: int
    width: int | None
    height: int | None
    taken: float | None = None  #: date taken, epoch seconds

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


DUPLICATE_SIM = copies.DUPLICATE_SIM  # kept importable from here


class Searcher:
    """Searches one model's vectors; the same object serves the CLI, the GUI and the benches.

    It only reads: the indexes come from the library's ``SearchIndexes`` (loaded once, kept in
    step in memory), so a Searcher is cheap to make (the GUI makes one per query).
    """

    def __init__(
        self,
        repo: Repository,
        embedder: Embedder,
        indexes: SearchIndexes,
        settings: RankingSettings | None = None,
        photo_filter: PhotoFilter | None = None,
    ) -> None:
        self.repo = repo
        self.embedder = embedder
        self.indexes = indexes
        self.settings = settings or RankingSettings()
        #: Only photos that pass are returned (still k of them when k pass: ``filtered.py``).
        self.photo_filter = photo_filter if photo_filter is not None and photo_filter.active else None

    @property
    def index(self) -> VectorIndex:
        """The model's own vector index (loaded on first use: large libraries never need it)."""
        return self.indexes.model_index(self.embedder.model_id, self.embedder.dim)

    def current_space(self) -> RankingSpace | None:
        """The ranking space searches use now; None for plain cosine or a library too small."""
        if not self.settings.needs_space:
            return None
        return self.indexes.space(self.embedder.model_id, self.embedder.dim, self.settings.space)

    def embed_query(
        self, sources: QuerySource | Sequence[QuerySource], regions: Sequence[Region | None] | None = None
    ) -> np.ndarray:
        """One unit vector for one image, or the normalised mean of several images.

        ``regions`` (one per image, None = the whole photo) cuts each query from its
        full-resolution upright decode (so sources are paths or encoded bytes here). Raises
        ``ImageDecodeError`` when a query image cannot be read, ``RegionError`` when a region
        is not inside its photo.
        """
        items = query_views.source_list(sources)
        if not items:
            raise ValueError("no query image given")
        if any(isinstance(s, Image.Image) for s in items):
            # a region is cut from the full-resolution file, which a decoded photo no longer is
            raise TypeError("embed_query needs each query image as a path or its encoded bytes")
        crops = list(regions) if regions is not None else [None] * len(items)
        if len(crops) != len(items):
            raise ValueError(f"{len(crops)} regions for {len(items)} query images")
        spec = self.embedder.preprocess
        tensors = np.stack([decode_for_model(s, spec, region=r).tensor for s, r in zip(items, crops)])
        vectors = embed_each(self.embedder, tensors)
        return _unit(vectors.mean(axis=0))

    def search_image(
        self, sources: QuerySource | Sequence[QuerySource], k: int = 20,
        regions: Sequence[Region | None] | None = None,
    ) -> list[Hit]:
        """Ranked hits for query image(s), each trimmed and turned upright (``query_views``); a
        query with a region chosen by the user is searched as cut, upright as shown."""
        items = query_views.source_list(sources)
        if regions is not None and (any(r is not None for r in regions) or len(regions) != len(items)):
            return self.search_vector(self.embed_query(sources, regions), k)  # (a wrong count raises there)
        # one image, alone or as a list of one (the CLI and the app pass a list)
        if len(items) == 1 and self.settings.edit_copies and k > 0:
            return self._search_for_original(items[0], k)
        return self.search_vector(self.query_vector(sources), k)

    def _search_for_original(self, source: QuerySource, k: int) -> list[Hit]:
        """``search_vector`` of the best view, with the original of an edited copy looked for
        in a wider pool of the ranking's candidates and among the photos whose perceptual hash
        is close to the query's, and listed first (``edited_copies``)."""
        vector, view = query_views.best_view(source, self.embedder, self.settings, self._nearest_sim)
        pool = self.search_vector(vector, max(k, self.settings.edit_pool))
        grey = None
        if self.settings.grey_recheck and edited_copies.is_grey(view):
            raw = _unit(vector)
            grey = lambda hits: edited_copies.grey_similarities(raw, [h.path for h in hits], self.embedder)  # noqa: E731
        pixels, hashed = None, []
        if self.settings.pixel_check:
            pixels = lambda hits: edited_copies.pixel_scores(view, [h.path for h in hits])  # noqa: E731
            if self.settings.hash_candidates:
                pool, hashed = self._with_hash_matches(pool, perceptual_hash(view), _unit(vector))
        return edited_copies.lead(pool, lambda h: h.score, self.settings, grey, pixels, hashed)[:k]

    def _with_hash_matches(self, pool: list[Hit], query_hash: int, raw: np.ndarray) -> tuple[list[Hit], list[int]]:
        """``pool`` with the photos whose perceptual hash is within ``hash_max_bits`` of
        ``query_hash`` appended (those a search may show, scored by the model's similarity), and
        their indices in it."""
        ids, hashes = self.indexes.perceptual_hashes()
        matches = edited_copies.hash_matches(query_hash, ids, hashes, self.settings.hash_max_bits)
        at = {h.photo_id: j for j, h in enumerate(pool)}
        new = [m for m in matches if m not in at]
        if new:
            pool = pool + self._hits_of(new, raw)
            at = {h.photo_id: j for j, h in enumerate(pool)}
        return pool, [at[m] for m in matches if m in at]

    def _hits_of(self, ids: list[int], raw: np.ndarray) -> list[Hit]:
        """Hits for photos a search may show (ok, online, passing the filter, embedded by this
        model), scored by the model's similarity to ``raw``."""
        rows = self.repo.photos_by_ids(ids)
        allowed = None
        if self.photo_filter is not None:
            space = self.current_space()
            allowed = self.indexes.filtered(space.index if space is not None else self.index, self.photo_filter)
        stored = self.repo.embeddings_by_ids(ids, self.embedder.model_id)
        hits = []
        for photo_id in ids:
            row, v = rows.get(photo_id), stored.get(photo_id)
            if row is None or v is None or len(v) != len(raw) or row.status != STATUS_OK or not row.online:
                continue
            if allowed is not None and not allowed.contains(photo_id):
                continue
            sim = float(np.clip(v @ raw / max(float(np.linalg.norm(v)), 1e-12), -1.0, 1.0))
            hits.append(Hit(photo_id, row.path, sim, row.size, row.width, row.height, row.taken))
        return hits

    def query_vector(self, sources: QuerySource | Sequence[QuerySource]) -> np.ndarray:
        """``embed_query`` of each image's best view (borders trimmed, turned upright; issue 12)."""
        return query_views.query_vector(sources, self.embedder, self.settings, self._nearest_sim)

    def _nearest_sim(self, vector: np.ndarray) -> float:
        """The model's similarity of ``vector`` to its closest photo among the nearest few in the
        index searches use (a DBA space blurs single photos: the stored model vectors decide)."""
        space = self.current_space()
        index, q = (space.index, space.project(vector)) if space is not None else (self.index, _unit(vector))
        if len(index) == 0:
            return 0.0
        ids, _sims = index.search(q, query_views.PROBE_K)
        stored = self.repo.embeddings_by_ids(ids.tolist(), self.embedder.model_id)
        raw = _unit(vector)
        sims = [float(v @ raw) / max(float(np.linalg.norm(v)), 1e-12) for v in stored.values() if len(v) == len(raw)]
        return max(sims, default=0.0)

    def similar_to(self, photo_id: int, k: int = 20) -> list[Hit]:
        """Photos like a library photo, from its stored vector (no decoding); itself excluded."""
        space = self.current_space()
        if space is not None and space.index.contains(photo_id):
            # its stored (augmented) vector in the ranking space: what the library knows of it
            q = vectors_of(space.index, np.array([photo_id]))[0]
            return self._search(q, space.index, k, {photo_id}, self._raw_vector_of(photo_id), in_space=True)
        vector = self.repo.embedding(photo_id, self.embedder.model_id)
        if vector is None:
            raise LookupError(f"photo {photo_id} has no embedding for {self.embedder.model_id}")
        return self.search_vector(vector, k, exclude_ids={photo_id})

    def search_vector(
        self, vector: np.ndarray, k: int = 20, exclude_ids: set[int] | None = None
    ) -> list[Hit]:
        """Ranked hits for a model vector (as ``embed_query`` or the DB gives it)."""
        space = self.current_space()
        raw = _unit(vector)
        if space is not None:
            return self._search(space.project(vector), space.index, k, exclude_ids or set(), raw, in_space=True)
        return self._search(raw, self.index, k, exclude_ids or set(), raw, in_space=False)

    def _search(
        self, q: np.ndarray, index: VectorIndex, k: int, exclude: set[int], raw_query: np.ndarray | None,
        *, in_space: bool,
    ) -> list[Hit]:
        """Rank in ``index``'s space with query ``q``; scores shown are model similarities.

        ``Hit.score`` is the cosine similarity of ``raw_query`` (the model's vector of the query)
        to each hit's model vector, each photo's own: ranks come from the ranking stages (which
        also weigh a photo's neighbours), so a lower number may come before a higher one, while
        the number stays what users know (an identical photo scores 1).
        """
        started = time.perf_counter()
        k = max(0, int(k))
        if self.photo_filter is not None:
            index = self.indexes.filtered(index, self.photo_filter)  # type: ignore[assignment]
        available = len(index)
        s = self.settings
        if s.query_expansion and available > 1 and k > 0:
            ids, sims = index.search(q, s.qe_k + 1)
            q = expand_query(q, vectors_of(index, ids), sims, k=s.qe_k, alpha=s.qe_alpha)
        want = min(available, k + len(exclude) + 8)
        if s.diffusion:
            want = min(available, max(want, s.diffusion_candidates))
        hits: list[Hit] = []
        while want > 0:
            ids, scores = index.search(q, want)
            if s.diffusion and len(ids) > 2:
                ids, scores = self._diffuse(index, ids, scores)
            rows = self.repo.photos_by_ids(ids.tolist())
            hits = []
            for photo_id, score in zip(ids.tolist(), scores.tolist()):
                row = rows.get(photo_id)
                if row is None or photo_id in exclude or row.status != STATUS_OK or not row.online:
                    continue
                hits.append(
                    Hit(photo_id, row.path, float(score), row.size, row.width, row.height, row.taken)
                )
            if len(hits) >= k or want >= available:
                break
            want = min(available, want * 2)
        if raw_query is not None and (in_space or s.query_expansion or s.diffusion):
            # every candidate, not only the first k: a copy of the query that the ranking
            # stages put below the cut must still come first
            hits = self._model_scores(hits, raw_query)
        logger.debug("search: %d hits in %.1f ms", min(k, len(hits)), (time.perf_counter() - started) * 1e3)
        return hits[:k]

    def _raw_vector_of(self, photo_id: int) -> np.ndarray | None:
        vector = self.repo.embedding(photo_id, self.embedder.model_id)
        return None if vector is None else _unit(vector)

    def _model_scores(self, hits: list[Hit], raw_query: np.ndarray) -> list[Hit]:
        """Hits with ``score`` = model cosine similarity to the query (see ``_search``)."""
        if not hits:
            return hits
        # from SQLite: one query, and much faster than hnswlib's get_items for many hits
        stored = self.repo.embeddings_by_ids([h.photo_id for h in hits], self.embedder.model_id)
        vectors = np.zeros((len(hits), len(raw_query)), np.float32)
        for j, h in enumerate(hits):
            v = stored.get(h.photo_id)
            if v is not None and len(v) == len(raw_query):
                vectors[j] = v
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sims = np.clip(vectors @ raw_query, -1.0, 1.0)
        # Near-identical copies of the query (re-saves, resizes, the photo itself) come first:
        # query expansion may otherwise rank a close sibling above them.
        pinned = copies.pinned(sims, self.settings)
        order = np.concatenate([pinned, np.setdiff1d(np.arange(len(hits)), pinned)])
        # each photo's own similarity, not capped: the order is the ranking's, the number the model's
        return [dataclasses.replace(hits[i], score=float(sims[i])) for i in order]

    def _diffuse(self, index: VectorIndex, ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-order the first ``diffusion_candidates`` by diffusion; the rest keep their order."""
        s = self.settings
        n = min(len(ids), s.diffusion_candidates)
        f = diffuse(scores[:n], vectors_of(index, ids[:n]), k=s.diffusion_k, alpha=s.diffusion_alpha)
        order = np.argsort(-f, kind="stable")
        # tail scores stay below every re-ranked one
        tail = scores[n:] - float(scores[n:].max(initial=0.0)) + min(0.0, float(f.min(initial=0.0))) - 1e-3
        return np.concatenate([ids[:n][order], ids[n:]]), np.concatenate([f[order], tail]).astype(np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)
