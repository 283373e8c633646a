"""Thumbnail cache keyed by photo content, safe to delete at any time.

A thumbnail is named after the photo's content fingerprint (``scanner.fingerprint``) and the
thumbnail size, so a moved or renamed photo keeps its thumbnail and an edited one gets a new one.
Files live in 256 shard directories (``ab/abcdef...-256.jpg``) below the cache directory, never
next to the user's photos, and are written to a temporary name and swapped in with
``os.replace``: a reader sees a whole thumbnail or none, even with many writers at once.

Stale thumbnails (of edited or deleted photos) are not tracked; ``clear()`` drops them all and
they are recreated on demand.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from pathlib import Path

from PIL import Image

from photofind.config import Paths
from photofind.core.images.decode import ImageDecodeError, decode_image
from photofind.core.indexing.scanner import fingerprint as content_fingerprint

logger = logging.getLogger(__name__)

#: Our thumbnail and temp file names: only these are ever deleted by ``clear()``.
_FILE_RE = re.compile(r"^(?:\.tmp-[0-9a-f]+-)?[0-9a-f]{32}-\d+\.jpg$")
_SHARD_RE = re.compile(r"^[0-9a-f]{2}$")
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{32}$")
_LOCK_STRIPES = 64
_MAX_FAILED = 10_000


class ThumbnailCache:
    """JPEG thumbnails (longest side ``size``, upright, RGB) of library photos; thread-safe."""

    def __init__(self, cache_dir: Path | str, size: int = 256, quality: int = 85) -> None:
        if size < 16:
            raise ValueError(f"thumbnail size {size} is too small")
        self.cache_dir = Path(cache_dir)
        self.size = int(size)
        self.quality = quality
        # Striped locks: two threads asking for the same thumbnail decode it once; different
        # photos rarely share a stripe, so they proceed in parallel (Pillow releases the GIL).
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._failed_lock = threading.Lock()
        self._failed: set[str] = set()  # keys that could not be decoded, not retried

    @classmethod
    def for_paths(cls, paths: Paths, size: int = 256) -> ThumbnailCache:
        """The cache in the library's default location (``Paths.thumbnails_dir``)."""
        return cls(paths.thumbnails_dir, size)

    def path_for(self, fingerprint: str) -> Path:
        """Where the thumbnail of content ``fingerprint`` lives (whether or not it exists yet)."""
        return self.cache_dir / fingerprint[:2] / f"{fingerprint}-{self.size}.jpg"

    def get_or_create(self, path: str, fingerprint: str | None = None) -> Path | None:
        """The cached thumbnail of the photo at ``path``, created if needed; None if the photo
        cannot be read or decoded (logged). ``fingerprint`` (from the library) saves reading the
        file when the thumbnail already exists."""
        path = os.fspath(path)
        if fingerprint is None or not _FINGERPRINT_RE.match(fingerprint):
            try:
                fingerprint = content_fingerprint(path)
            except OSError as exc:
                logger.info("No thumbnail for %s: %s", path, exc.strerror or exc)
                return None
        target = self.path_for(fingerprint)
        if target.is_file():
            return target
        key = target.name
        with self._failed_lock:
            if key in self._failed:
                return None
        with self._locks[hash(key) % _LOCK_STRIPES]:
            if target.is_file():  # another thread made it while we waited
                return target
            try:
                img = decode_image(path, min_side=self.size)
            except ImageDecodeError as exc:
                logger.info("No thumbnail for %s: %s", path, exc.reason)
                with self._failed_lock:
                    if len(self._failed) >= _MAX_FAILED:
                        self._failed.clear()
                    self._failed.add(key)
                return None
            img.thumbnail((self.size, self.size), Image.Resampling.LANCZOS, reducing_gap=2.0)
            return self._write(img, target)

    def _write(self, img: Image.Image, target: Path) -> Path | None:
        # Two attempts: the cache directory may be deleted (by the user, or clear()) between
        # creating the shard directory and the rename.
        for attempt in (1, 2):
            tmp = target.with_name(f".tmp-{uuid.uuid4().hex}-{target.name}")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                img.save(tmp, "JPEG", quality=self.quality, optimize=True)
                os.replace(tmp, target)
                return target
            except OSError as exc:
                _unlink_quietly(tmp)
                if attempt == 2:
                    logger.warning("Cannot write thumbnail %s: %s", target, exc)
        return None

    def clear(self) -> int:
        """Delete every cached thumbnail (only files this cache made); returns how many."""
        removed = 0
        for shard in self._shards():
            for entry in _scandir(shard):
                if _FILE_RE.match(entry.name) and _unlink_quietly(Path(entry.path)):
                    removed += 1
            try:
                os.rmdir(shard)
            except OSError:
                pass  # not empty (foreign files) or already gone
        with self._failed_lock:
            self._failed.clear()
        return removed

    def size_on_disk(self) -> int:
        """Bytes used by the cached thumbnails."""
        total = 0
        for shard in self._shards():
            for entry in _scandir(shard):
                if _FILE_RE.match(entry.name):
                    try:
                        total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        pass
        return total

    def _shards(self) -> list[str]:
        return [
            e.path
            for e in _scandir(str(self.cache_dir))
            if _SHARD_RE.match(e.name) and e.is_dir(follow_symlinks=False)
        ]


def _scandir(path: str | Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def _unlink_quietly(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False
