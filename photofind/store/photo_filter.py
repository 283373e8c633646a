"""Which photos a view, a search or the duplicate finder may show: folder (with its
subfolders), date-taken range, minimum size in pixels and file type.

``PhotoFilter`` is a plain value (the CLI flags and the GUI's filter bar make one); ``clauses()``
turns it into SQL conditions on the ``photos`` table, and ``FilteredReads`` (a ``Repository``
mixin) answers which photos pass. Nothing here writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, and_, case, func, or_, select

from photofind.store.schema import STATUS_OK, embeddings, folders, photos

#: File types a filter can name, and the extensions each covers (what the scanner indexes).
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "jpeg": (".jpg", ".jpeg", ".jpe"),
    "heic": (".heic", ".heif"),
    "png": (".png",),
    "webp": (".webp",),
    "tiff": (".tif", ".tiff"),
    "gif": (".gif",),
    "bmp": (".bmp",),
    "avif": (".avif",),
}
_ALIASES = {"jpg": "jpeg", "heif": "heic", "tif": "tiff"}


def parse_types(text: str | Iterable[str]) -> frozenset[str]:
    """``"jpeg,heic"`` (or a list) -> the type names; raises ValueError naming a type unknown."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = set()
    for item in items:
        name = item.strip().lower().lstrip(".")
        if not name:
            continue
        name = _ALIASES.get(name, name)
        if name not in FILE_TYPES:
            raise ValueError(f"unknown file type {item!r} (known: {', '.join(FILE_TYPES)})")
        out.add(name)
    return frozenset(out)


@dataclass(frozen=True)
class PhotoFilter:
    """Photos that pass every condition set (None / empty: no condition)."""

    folder: str | None = None  #: absolute folder path: photos in it or any subfolder
    taken_after: float | None = None  #: epoch seconds, inclusive
    taken_before: float | None = None  #: epoch seconds, exclusive
    min_pixels: int | None = None  #: width * height at least this
    types: frozenset[str] = field(default_factory=frozenset)  #: names of ``FILE_TYPES``

    @classmethod
    def for_folder(cls, folder: str | os.PathLike[str] | None, **kw: Any) -> PhotoFilter:
        """A filter whose folder is normalised as library folders are (absolute, resolved)."""
        path = None if folder is None else str(Path(folder).expanduser().resolve())
        return cls(folder=path, **kw)

    @property
    def active(self) -> bool:
        return bool(
            self.folder or self.taken_after is not None or self.taken_before is not None
            or self.min_pixels or self.types
        )

    def clauses(self) -> list[Any]:
        """SQL conditions on ``photos`` (AND them)."""
        out: list[Any] = []
        if self.folder:
            # a range on the path index: every path below "<folder>/" sorts before "<folder>0"
            # ("0" follows os.sep "/" in UTF-8 byte order, which is SQLite's and Python's)
            prefix = os.path.join(self.folder, "")
            out.append(and_(photos.c.path >= prefix, photos.c.path < prefix[:-1] + chr(ord(prefix[-1]) + 1)))
        if self.min_pixels:
            out.append(photos.c.width * photos.c.height >= int(self.min_pixels))
        if self.types:
            lowered = func.lower(photos.c.path)
            out.append(or_(*(lowered.like(f"%{ext}") for t in sorted(self.types) for ext in FILE_TYPES[t])))
        if self.taken_after is not None:
            out.append(photos.c.taken >= float(self.taken_after))
        if self.taken_before is not None:
            out.append(photos.c.taken < float(self.taken_before))
        return out


class FilteredReads:
    """Filtered photo reads of ``Repository`` (a mixin: it needs ``engine``)."""

    engine: Engine

    def shown_ids(self, model_id: str | None, photo_filter: PhotoFilter | None = None) -> np.ndarray:
        """Sorted ids of the photos a search may show (ok, folder online, and embedded with
        ``model_id`` unless it is None: a caller that checks its index itself skips that join)
        that pass ``photo_filter``."""
        joined = photos.join(folders, folders.c.id == photos.c.folder_id)
        if model_id is not None:
            joined = joined.join(
                embeddings, and_(embeddings.c.photo_id == photos.c.id, embeddings.c.model_id == model_id)
            )
        query = (
            select(photos.c.id)
            .select_from(joined)
            .where(photos.c.status == STATUS_OK, folders.c.online.is_(True))
            .order_by(photos.c.id)
        )
        if photo_filter is not None:
            query = query.where(*photo_filter.clauses())
        with self.engine.connect() as conn:
            return np.fromiter((r[0] for r in conn.execute(query)), dtype=np.int64)

    def count_passing(self, photo_filter: PhotoFilter | None = None) -> int:
        """How many ok photos of online folders pass ``photo_filter`` (what browsing shows)."""
        query = (
            select(func.count())
            .select_from(photos.join(folders, folders.c.id == photos.c.folder_id))
            .where(photos.c.status == STATUS_OK, folders.c.online.is_(True))
        )
        if photo_filter is not None:
            query = query.where(*photo_filter.clauses())
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def type_counts(self) -> dict[str, int]:
        """How many ok photos there are of each of ``FILE_TYPES`` (types with none left out)."""
        lowered = func.lower(photos.c.path)
        columns = [
            func.sum(case((or_(*(lowered.like(f"%{ext}") for ext in exts)), 1), else_=0)).label(name)
            for name, exts in FILE_TYPES.items()
        ]
        with self.engine.connect() as conn:
            row = conn.execute(select(*columns).where(photos.c.status == STATUS_OK)).one()
        return {name: int(n) for name, n in zip(FILE_TYPES, row) if n}

    def taken_range(self) -> tuple[float, float] | None:
        """The earliest and latest date taken of the ok photos (None: none known yet)."""
        query = select(func.min(photos.c.taken), func.max(photos.c.taken)).where(
            photos.c.status == STATUS_OK, photos.c.taken.is_not(None)
        )
        with self.engine.connect() as conn:
            low, high = conn.execute(query).one()
        return None if low is None else (float(low), float(high))

    def same_content_groups(self) -> list[list[int]]:
        """Ids of photos sharing a content fingerprint (exact copies), one list per fingerprint."""
        repeated = (
            select(photos.c.fingerprint)
            .where(photos.c.fingerprint.is_not(None), photos.c.status == STATUS_OK)
            .group_by(photos.c.fingerprint)
            .having(func.count() > 1)
        )
        query = (
            select(photos.c.fingerprint, photos.c.id)
            .where(photos.c.fingerprint.in_(repeated), photos.c.status == STATUS_OK)
            .order_by(photos.c.fingerprint, photos.c.id)
        )
        groups: dict[str, list[int]] = {}
        with self.engine.connect() as conn:
            for fp, photo_id in conn.execute(query):
                groups.setdefault(fp, []).append(int(photo_id))
        return list(groups.values())

    def taken_sources(self) -> dict[str, int]:
        """How many ok photos got their date taken from where (``None``: not read yet)."""
        query = (
            select(photos.c.taken_source, func.count())
            .where(photos.c.status == STATUS_OK)
            .group_by(photos.c.taken_source)
        )
        with self.engine.connect() as conn:
            return {str(src) if src is not None else "pending": int(n) for src, n in conn.execute(query)}

    def photos_with_taken_source(self, source: str, limit: int | None = None) -> list[str]:
        """Paths of the ok photos whose date taken came from ``source`` (e.g. broken EXIF)."""
        query = (
            select(photos.c.path)
            .where(photos.c.taken_source == source, photos.c.status == STATUS_OK)
            .order_by(photos.c.path)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())
