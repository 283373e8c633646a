"""What the results pane asks of the library, as plain functions for the job runner's query queue.

Searches embed the query (decode + model), browsing reads pages of rows: none of that may run
on the GUI thread. Each function takes the job's ``progress`` callback where it has something
to show early (the picture of the query) and returns ``ResultItem``s. Pictures are ``QImage``s,
which are safe to make in any thread (``QPixmap`` is not).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage, QPainter

from photofind.core.images.decode import ImageDecodeError, decode_image
from photofind.core.images.region import Region
from photofind.core.library import Library
from photofind.core.search.ranking import RankingSettings
from photofind.gui.results.model import ResultItem
from photofind.store.photo_filter import PhotoFilter

PREVIEW_SIZE = 256
BROWSE_PAGE = 200


def search_images(
    library: Library,
    ranking: RankingSettings,
    sources: Sequence[str | bytes | QImage],
    k: int,
    show_preview: Callable[[QueryPreview], None] | None,
    regions: Sequence[Region | None] | None = None,
    photo_filter: PhotoFilter | None = None,
) -> list[ResultItem]:
    """Photos ranked by similarity to one or more images (the mean of their embeddings), or to
    a region of each (one per image, None = the whole photo): the ``k`` best that pass
    ``photo_filter``. ``show_preview`` None: the picture is already shown (only the region or
    the filter changed).

    One whole image (the usual drop) is decoded once, for its preview and its search: the
    preview shows as soon as the photo is read, and the search does not read it again."""
    data = [as_source(s) for s in sources]
    if len(data) == 1 and not (regions and any(r is not None for r in regions)):
        # (the model's input size from its description: the session, loaded by the first
        # search, must not hold the preview back)
        size = max(PREVIEW_SIZE, library.model_info.preprocess.size)
        photo = decode_image(data[0], min_side=size)  # ImageDecodeError: the search's own message
        if show_preview is not None:
            image = picture_of(photo, PREVIEW_SIZE)
            show_preview(QueryPreview(image, ((0.0, 0.0, float(image.width()), float(image.height())),)))
        return items_for(library, library.searcher(ranking, photo_filter).search_image([photo], k=k))
    if show_preview is not None:
        show_preview(compose_preview(data))
    return items_for(library, library.searcher(ranking, photo_filter).search_image(data, k=k, regions=regions))


def similar_photos(
    library: Library,
    ranking: RankingSettings,
    photo_id: int,
    path: str,
    k: int,
    show_preview: Callable[[QueryPreview], None] | None,
    photo_filter: PhotoFilter | None = None,
) -> list[ResultItem]:
    """Photos like a library photo, from its stored vector (the photo itself is not decoded
    for the search; raises ``LookupError`` when it has no vector yet): the ``k`` best that pass
    ``photo_filter``."""
    hits = library.searcher(ranking, photo_filter).similar_to(photo_id, k=k)
    if show_preview is not None:
        show_preview(compose_preview([path]))
    return items_for(library, hits)


def browse_page(
    library: Library, photo_filter: PhotoFilter | None, offset: int = 0, limit: int = BROWSE_PAGE
) -> list[ResultItem]:
    """Newest photos that pass ``photo_filter`` (None: all), one page."""
    rows = library.repo.recent_photos(limit, offset, photo_filter=photo_filter)
    return [ResultItem(r.id, r.path, None, r.fingerprint) for r in rows]


@dataclass(frozen=True)
class BrowseStart:
    """The first page of a browse and, when a filter is set, how many photos pass it."""

    items: list[ResultItem]
    passing: int | None


def browse_start(library: Library, photo_filter: PhotoFilter) -> BrowseStart:
    """The first browse page; counts the photos that pass when ``photo_filter`` is active."""
    items = browse_page(library, photo_filter if photo_filter.active else None)
    passing = library.repo.count_passing(photo_filter) if photo_filter.active else None
    return BrowseStart(items, passing)


def items_for(library: Library, hits: list) -> list[ResultItem]:  # type: ignore[type-arg]
    rows = library.repo.photos_by_ids([h.photo_id for h in hits])
    return [
        ResultItem(
            h.photo_id, h.path, h.score,
            rows[h.photo_id].fingerprint if h.photo_id in rows else None,
        )
        for h in hits
    ]


def as_source(source: str | bytes | QImage) -> str | bytes:
    """What the core's searcher takes: a path or encoded image bytes (a QImage is PNG-encoded)."""
    if isinstance(source, QImage):
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        source.save(buf, "PNG")
        buf.close()
        return bytes(data.data())
    return (
        os.fspath(source)
        if not isinstance(source, (bytes, bytearray))
        else bytes(source)
    )


def read_scaled(source: str | bytes, size: int) -> QImage:
    """A picture of ``source`` fitting ``size``x``size``, decoded by photofind's own decoder (the
    formats the library indexes: HEIC, AVIF, CMYK JPEG, 16-bit PNG...), upright; a null QImage
    when it cannot be read."""
    try:
        img = decode_image(source, min_side=size)
    except (ImageDecodeError, OSError):
        return QImage()
    return picture_of(img, size)


def picture_of(img: Image.Image, size: int) -> QImage:
    """A decoded RGB photo scaled down to fit ``size``x``size`` (``img`` is left as it is)."""
    small = img.copy() if max(img.size) <= size else img.resize(_fit(img.size, size), Image.Resampling.LANCZOS)
    data = small.tobytes("raw", "RGB")
    return QImage(data, small.width, small.height, small.width * 3, QImage.Format.Format_RGB888).copy()


def _fit(wh: tuple[int, int], size: int) -> tuple[int, int]:
    """``wh`` scaled to fit ``size``x``size``, aspect kept (as ``Image.thumbnail`` rounds)."""
    w, h = wh
    scale = size / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


@dataclass(frozen=True)
class QueryPreview:
    """The picture of a query and where each query image sits in it (x, y, w, h in its pixels)."""

    image: QImage
    tiles: tuple[tuple[float, float, float, float], ...]


def compose_preview(sources: Sequence[str | bytes], size: int = PREVIEW_SIZE) -> QueryPreview:
    """One picture of the query: the image itself, or up to four images tiled 2x2."""
    if len(sources) == 1:
        image = read_scaled(sources[0], size)
        return QueryPreview(image, ((0.0, 0.0, float(image.width()), float(image.height())),))
    tile = size // 2
    canvas = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    tiles = []
    for i, source in enumerate(sources[:4]):
        image = read_scaled(source, tile - 4)
        x = (i % 2) * tile + (tile - image.width()) // 2
        y = (i // 2) * tile + (tile - image.height()) // 2
        tiles.append((float(x), float(y), float(image.width()), float(image.height())))
        if not image.isNull():
            painter.drawImage(x, y, image)
    painter.end()
    return QueryPreview(canvas, tuple(tiles))
