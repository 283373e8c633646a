"""How a query photo is looked at before it is searched: borders trimmed, and turned upright.

A copy someone holds is often not the photo in the library as it was: an app turned it sideways
and dropped the EXIF orientation, or a screenshot put it between dark bars. The library is not
re-indexed for this; the query is changed instead (issue 12, figures in ``bench/edits.py``):

* ``trim_borders`` (``core/images/borders.py``): when the query has uniform neutral bars at two
  opposite edges, the photo inside them is embedded too, and replaces the query when its nearest
  photo is closer by ``trim_margin`` (a library photo on a plain black or white ground keeps
  its own view: its nearest photo is itself).
* ``rotations``: the query is also embedded turned by 90, 180 and 270 degrees; each view asks the
  search index for its ``PROBE_K`` nearest photos and keeps the model similarity of the closest,
  and a turned view replaces the upright one only when that is higher than the upright view's by
  at least ``rotation_margin`` (a photo that is
  upright keeps its own view: the turned views of an upright photo match nothing better). Cost:
  three more embeddings and three nearest-neighbour look-ups per query image, except when the
  upright view's nearest photo is so close (similarity >= 1 - margin) that no turn could win:
  then the turns are not embedded.

Pure functions over a decoded image and the searcher's parts; no I/O beyond decoding the query.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from photofind.core.images.borders import trim_borders
from photofind.core.images.decode import decode_image, preprocess
from photofind.core.models.embedder import Embedder, embed_each
from photofind.core.search.ranking import RankingSettings

#: a path, encoded bytes, or a photo already decoded upright by ``decode_image`` (the app decodes
#: a dropped photo once for its preview and its search)
Source = str | os.PathLike[str] | bytes | Image.Image
_ONE_SOURCE = (str, bytes, os.PathLike, Image.Image)
#: (query vector) -> similarity of its nearest photo in the index the search will use
NearestSim = Callable[[np.ndarray], float]

#: How many nearest photos of a view (in the search's index) are compared by model similarity.
PROBE_K = 10
#: The turns tried besides upright, as Pillow transposes (90, 180, 270 degrees anticlockwise).
TURNS = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)


def source_list(sources: Source | Sequence[Source]) -> list[Source]:
    """``sources`` as a list: one source alone (a path, bytes or a decoded photo), or several."""
    return [sources] if isinstance(sources, _ONE_SOURCE) else list(sources)  # type: ignore[list-item]


def views(img: Image.Image, settings: RankingSettings) -> tuple[list[Image.Image], list[float]]:
    """The views of one decoded query to embed as they are, and the margin each must win by
    over the first: the photo as it came (margin 0); with ``trim_borders`` and bars found, the
    photo inside them (``trim_margin``). The turns (``rotations``) are made from the last of
    these by ``best_view``, on the model input rather than the photo.
    """
    shown, margins = [img], [0.0]
    if settings.trim_borders:
        inner = trim_borders(img)
        if inner is not img:
            shown.append(inner)
            margins.append(settings.trim_margin)
    return shown, margins


def choose(
    vectors: np.ndarray, margins: Sequence[float], nearest_sim: NearestSim, first_sim: float | None = None
) -> int:
    """Index of the view to search with: the one whose nearest photo is closest, less its margin
    (the photo as it came wins ties: another view must match better by its margin).
    ``first_sim``: the first view's nearest similarity when the caller already has it."""
    if len(vectors) == 1:
        return 0
    first = nearest_sim(vectors[0]) if first_sim is None else first_sim
    sims = np.array([first] + [nearest_sim(v) for v in vectors[1:]]) - np.asarray(margins)
    return int(np.argmax(sims))  # argmax keeps the first of equals


def query_vector(
    sources: Source | Sequence[Source],
    embedder: Embedder,
    settings: RankingSettings,
    nearest_sim: NearestSim,
) -> np.ndarray:
    """One unit vector for the query: each image's chosen view, averaged over the images.

    Raises ``ImageDecodeError`` when a query image cannot be read.
    """
    items = source_list(sources)
    if not items:
        raise ValueError("no query image given")
    chosen = [best_view(source, embedder, settings, nearest_sim)[0] for source in items]
    mean = np.mean(chosen, axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else mean.astype(np.float32)


def best_view(
    source: Source, embedder: Embedder, settings: RankingSettings, nearest_sim: NearestSim
) -> tuple[np.ndarray, Image.Image]:
    """The model vector (not normalised) of one query image's chosen view, and that view.

    Raises ``ImageDecodeError`` when the image cannot be read.
    """
    spec = embedder.preprocess
    img = source if isinstance(source, Image.Image) else decode_image(source, min_side=spec.size)
    shown, margins = views(img, settings)
    tensors = [preprocess(view, spec) for view in shown]
    first = embedder.embed(tensors[0][None])
    turns = len(TURNS) if settings.rotations else 0
    if len(shown) == 1 and not turns:
        return first[0], shown[0]
    if turns:
        # A turned view's model input is the (trimmed) view's input turned: a centre square or
        # a squashed square turns with the photo (resampling the same pixels), so the photo is
        # not turned and resampled three more times.
        tensors += [_turn(tensors[-1], k + 1, spec.layout) for k in range(turns)]
        margins += [settings.rotation_margin] * turns
    # Another view must beat the photo as it came by its margin, and no similarity exceeds 1:
    # views that cannot win are not embedded (a query whose copy is in the library costs one
    # embedding instead of four; the choice is the same).
    upright = nearest_sim(first[0])
    rest = [k for k in range(1, len(tensors)) if upright + margins[k] < 1.0]
    if not rest:
        return first[0], shown[0]
    others = embed_each(embedder, [tensors[k] for k in rest])
    vectors = np.concatenate([first, others])
    best = [0, *rest][choose(vectors, [0.0] + [margins[k] for k in rest], nearest_sim, upright)]
    if best < len(shown):
        return vectors[[0, *rest].index(best)], shown[best]
    return vectors[[0, *rest].index(best)], shown[-1].transpose(TURNS[best - len(shown)])


def _turn(tensor: np.ndarray, quarter_turns: int, layout: str) -> np.ndarray:
    """A preprocessed square input turned anticlockwise by ``quarter_turns`` x 90 degrees (as
    Pillow's ROTATE_90/180/270 turn the photo)."""
    axes = (1, 2) if layout == "NCHW" else (0, 1)
    return np.ascontiguousarray(np.rot90(tensor, quarter_turns, axes=axes))
