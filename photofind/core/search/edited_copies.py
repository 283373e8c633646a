"""Which library photo a query image is an edited copy of (issue 12): image queries only.

The ranking stages blend each photo with its look-alikes (DBA, query expansion), which lifts
scene and object search but can push the very photo an edited copy was made from below its
siblings, or out of the first few. The model's own similarity still tells the original apart:
after a crop, a recompression or a tilt it is the one candidate that stands out. For a query
*image* (a file someone holds, not a library photo) the searcher therefore

1. takes a wider pool of the ranking's candidates (``edit_pool``, 100, not only the ``k`` shown;
   each carries the model's own similarity to the query, which steps 3-4 go by: the DBA space can
   put the original of a crop 50th while the model finds it the closest photo), and adds the
   library photos whose perceptual hash (``core/images/phash.py``, stored by the index job) is
   within ``hash_max_bits`` of the query's (``hash_candidates``; at most ``HASH_CANDIDATES``,
   closest first): a grey, shrunk, recompressed or recoloured copy keeps its original's hash
   even when the model finds it far from it (a vivid photo turned grey: similarity 0.37),
2. with ``grey_recheck`` (off by default: measured, it lifted nothing over the pixel check),
   for a query with no colour (``is_grey``), re-scores the pool's most similar few
   (``GREY_CANDIDATES``) by the model's similarity of their *grey* versions to the query: a grey
   copy compared with a colour photo drifts (0.7-0.85), with its grey original it is near 1,
3. checks the pixels of the pool's most similar few (``PIXEL_CANDIDATES``, model similarity >=
   ``pixel_min_sim``) and of the hash matches (whatever their similarity), then, when none of
   them is the original, of the ranking's first few (``pixel_ranked``, same floor: a crop the
   model puts below siblings the ranking may still place high): the one whose pixels contain the query's (normalised cross-correlation
   >= ``pixel_min_ncc`` and ahead of the next by ``pixel_gap``, ``core/images/pixel_match.py``)
   is the original: a crop, a recompression or a grey copy of it, which the model's similarity
   cannot always tell from a sibling shot of the same object;
4. otherwise lists the most similar candidate first when it is a clear copy: model similarity >=
   ``edit_copy_min_sim`` and ahead of the next candidate by ``edit_copy_gap``
   (``RankingSettings``; chosen on the tuning half of the shared sets, ``bench/edits.py --half
   tune``; on the sets' own photos as queries the rule's pick is the query's class or object every
   time, ``bench/copy_first.py --edited``).

Nothing happens when an exact copy (>= ``copies.DUPLICATE_SIM``) is already among the hits.
Stored-vector searches (*Find similar*) keep the stricter copy-first rule of ``copies.py``.
Reads a few candidate photos (grey re-check, pixel check); writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from PIL import Image

from photofind.core.images import pixel_match
from photofind.core.images.decode import ImageDecodeError, decode_image, preprocess
from photofind.core.images.phash import NO_HASH, hamming
from photofind.core.models.embedder import Embedder, embed_each
from photofind.core.search.copies import DUPLICATE_SIM
from photofind.core.search.ranking import RankingSettings

logger = logging.getLogger(__name__)

#: A grey query's most similar candidates re-scored in grey.
GREY_CANDIDATES = 5
#: The pool's most similar candidates whose pixels are compared with the query's.
PIXEL_CANDIDATES = 3
#: Library photos whose perceptual hash is close to the query's, pixel-checked too (closest first).
HASH_CANDIDATES = 3
#: Mean chroma (max - min of R, G, B, 0-255) below which a query counts as having no colour:
#: a greyscale JPEG saved as colour keeps ~1 of chroma noise; real colour photos have 10-60.
GREY_CHROMA = 2.0

H = TypeVar("H")


def is_grey(img: Image.Image) -> bool:
    """Whether a decoded query carries no colour (chroma ~0 everywhere)."""
    if img.mode in ("L", "LA", "1", "I", "I;16", "F"):
        return True
    small = img.convert("RGB").copy()
    small.thumbnail((96, 96))
    a = np.asarray(small, dtype=np.int16)
    chroma = a.max(axis=2) - a.min(axis=2)
    return float(chroma.mean()) < GREY_CHROMA


def grey_similarities(
    query_vector: np.ndarray, paths: Sequence[str], embedder: Embedder
) -> list[float | None]:
    """Model similarity of ``query_vector`` (a grey query's) to each photo turned grey; None for
    a photo that cannot be read now (it keeps its colour similarity)."""
    spec = embedder.preprocess
    tensors, where = [], []
    for j, path in enumerate(paths):
        try:
            img = decode_image(path, min_side=spec.size)
        except ImageDecodeError as exc:
            logger.debug("grey re-check skips %s: %s", path, exc.reason)
            continue
        tensors.append(preprocess(img.convert("L").convert("RGB"), spec))
        where.append(j)
    out: list[float | None] = [None] * len(paths)
    if not tensors:
        return out
    vectors = embed_each(embedder, tensors)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    q = query_vector / max(float(np.linalg.norm(query_vector)), 1e-12)
    for j, v in zip(where, vectors):
        out[j] = float(v @ q)
    return out


def pixel_scores(view: Image.Image, paths: Sequence[str]) -> list[float | None]:
    """Best normalised cross-correlation of the query ``view`` inside each photo (None: the
    photo cannot be read now)."""
    query = pixel_match.QueryPixels(view)
    out: list[float | None] = []
    for path in paths:
        try:
            photo = decode_image(path, min_side=pixel_match.WIDTH)
        except ImageDecodeError as exc:
            logger.debug("pixel check skips %s: %s", path, exc.reason)
            out.append(None)
            continue
        out.append(query.best_correlation(photo))
    return out


def pick(sims: np.ndarray, settings: RankingSettings) -> int | None:
    """Index of the clear copy among candidates with model similarities ``sims``, if one stands
    out (>= ``edit_copy_min_sim``, ahead of the next by ``edit_copy_gap``); else None."""
    if len(sims) == 0:
        return None
    order = np.argsort(-sims, kind="stable")
    best = float(sims[order[0]])
    runner_up = float(sims[order[1]]) if len(order) > 1 else -1.0
    if best < settings.edit_copy_min_sim or best - runner_up < settings.edit_copy_gap:
        return None
    return int(order[0])


def lead(
    hits: list[H],
    score: Callable[[H], float],
    settings: RankingSettings,
    grey_sims: Callable[[list[H]], list[float | None]] | None = None,
    pixels: Callable[[list[H]], list[float | None]] | None = None,
    hashed: Sequence[int] = (),
) -> list[H]:
    """``hits`` (the ranking's pool, model similarities by ``score``) with the original of an
    edited copy moved first when one stands out; unchanged when an exact copy is among them.
    ``hashed``: indices of hits whose perceptual hash is close to the query's; their pixels are
    checked whatever the model's similarity."""
    if len(hits) == 0 or any(score(h) >= DUPLICATE_SIM for h in hits):
        return hits
    sims = np.array([score(h) for h in hits], np.float64)
    if grey_sims is not None:
        top = np.argsort(-sims, kind="stable")[:GREY_CANDIDATES]
        for j, s in zip(top.tolist(), grey_sims([hits[j] for j in top.tolist()])):
            if s is not None:
                sims[j] = s
    first = None
    if pixels is not None:
        # the model's closest few and the hash matches; then, without a verdict, the ranking's
        # first few (a copy found among the first costs no more decodes)
        top = [j for j in np.argsort(-sims, kind="stable")[:PIXEL_CANDIDATES].tolist() if sims[j] >= settings.pixel_min_sim]
        top += [j for j in hashed if j not in top]
        ranked = [j for j in range(min(settings.pixel_ranked, len(hits))) if j not in top and sims[j] >= settings.pixel_min_sim]
        checked: list[int] = []
        ncc: list[float] = []
        for stage in (top, ranked):
            if not stage:
                continue
            checked += stage
            ncc += [-1.0 if v is None else v for v in pixels([hits[j] for j in stage])]
            first = _pixel_verdict(checked, np.array(ncc), settings)
            if first is not None:
                break
    if first is None:
        first = pick(sims, settings)
    if first is None:
        return hits
    return [hits[first]] + [h for j, h in enumerate(hits) if j != first]


def _pixel_verdict(checked: list[int], ncc: np.ndarray, settings: RankingSettings) -> int | None:
    """The checked hit whose pixels clearly contain the query's (>= ``pixel_min_ncc``, ahead of
    the next by ``pixel_gap``), if one does."""
    order = np.argsort(-ncc, kind="stable")
    runner_up = float(ncc[order[1]]) if len(order) > 1 else -1.0
    if ncc[order[0]] >= settings.pixel_min_ncc and ncc[order[0]] - runner_up >= settings.pixel_gap:
        return checked[int(order[0])]
    return None


def hash_matches(query_hash: int, ids: np.ndarray, hashes: np.ndarray, max_bits: int, limit: int = HASH_CANDIDATES) -> list[int]:
    """Ids of the (at most ``limit``) photos whose perceptual hash is within ``max_bits`` of
    ``query_hash``, closest first; none for a query too flat to hash."""
    if query_hash == NO_HASH or len(ids) == 0:
        return []
    bits = hamming(hashes, np.int64(query_hash))
    near = np.flatnonzero(bits <= max_bits)
    if len(near) > limit:
        near = near[np.argpartition(bits[near], limit - 1)[:limit]]
    near = near[np.argsort(bits[near], kind="stable")]
    return ids[near].tolist()
