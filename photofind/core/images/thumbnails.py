"""Thumbnail cache keyed by photo content, safe to delete at any time.

A thumbnail is named after the photo's content fingerprint (``scanner.fingerprint``) and the
thumbnail size, so a moved or renamed photo keeps its thumbnail and an edited one gets a new one.
Files live in 256 shard directories (``ab/abcdef...-256.jpg``) below the cache directory, never
next to the user's photos, and are written to a temporary name and swapped in with
``os.replace``: a reader sees a whole thumbnail or none, even with many writers at once.

The cache is bounded (``max_bytes``, default 512 MB) and pruned least recently used first: a
cache hit marks its file as used by bumping its mtime (at most once per ``touch_after_s``), and
when the cache grows past the limit the oldest files are deleted until it is under 90 % of it.
Pruning stays off the hot path: the cache keeps a running total of what it wrote and scans the
directory only when that total passes the limit, after the first ``check_every`` writes (to learn
the size) and every ``resync_every`` writes (other processes write here too). Thumbnails of
photos that left the library are removed by ``prune_missing``, which the index job calls after a
run. Several processes may share the directory: files vanishing under a scan are skipped, and a
pruned thumbnail is simply made again when it is next asked for.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterable
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

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
#: After pruning the cache holds at most this share of ``max_bytes`` (room for new thumbnails).
PRUNE_TO = 0.9
#: A temp file older than this is a leftover of a killed writer and is deleted by the scans.
_STALE_TMP_S = 3600.0
#: Remembers the ``token`` of the last complete ``prune_missing`` (see there).
_PRUNE_STATE = ".prune-missing-token"


class ThumbnailCache:
    """JPEG thumbnails (longest side ``size``, upright, RGB) of library photos; thread-safe."""

    def __init__(
        self,
        cache_dir: Path | str,
        size: int = 256,
        quality: int = 85,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        *,
        touch_after_s: float = 600.0,
        check_every: int = 64,
        resync_every: int = 2048,
    ) -> None:
        if size < 16:
            raise ValueError(f"thumbnail size {size} is too small")
        self.cache_dir = Path(cache_dir)
        self.size = int(size)
        self.quality = quality
        #: The size limit of the whole cache directory (all thumbnail sizes); None: no limit.
        self.max_bytes = max_bytes
        self.touch_after_s = touch_after_s
        self.check_every = check_every
        self.resync_every = resync_every
        self._budget_lock = threading.Lock()
        self._prune_lock = threading.Lock()
        self._known_bytes: int | None = None  # running total; None until the first scan
        self._writes_since_scan = 0
        # Striped locks: two threads asking for the same thumbnail decode it once; different
        # photos rarely share a stripe, so they proceed in parallel (Pillow releases the GIL).
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._failed_lock = threading.Lock()
        self._failed: set[str] = set()  # keys that could not be decoded, not retried

    @classmethod
    def for_paths(
        cls, paths: Paths, size: int = 256, max_bytes: int | None = DEFAULT_MAX_BYTES
    ) -> ThumbnailCache:
        """The cache in the library's default location (``Paths.thumbnails_dir``)."""
        return cls(paths.thumbnails_dir, size, max_bytes=max_bytes)

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
        if self._hit(target):
            return target
        key = target.name
        with self._failed_lock:
            if key in self._failed:
                return None
        with self._locks[hash(key) % _LOCK_STRIPES]:
            if self._hit(target):  # another thread made it while we waited
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
            written = self._write(img, target)
        if written is not None:
            self._after_write(written)
        return written

    def _hit(self, target: Path) -> bool:
        """Whether the thumbnail exists; marks it used (mtime) when it was not lately."""
        try:
            st = os.stat(target)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode):
            return False
        if time.time() - st.st_mtime > self.touch_after_s:
            try:
                os.utime(target)
            except OSError:
                pass  # a read-only cache still serves its thumbnails
        return True

    def _after_write(self, file: Path) -> None:
        """Count a new file; scan and prune when the running total says so (amortised)."""
        if self.max_bytes is None:
            return
        try:
            nbytes = file.stat().st_size
        except OSError:
            nbytes = 0
        with self._budget_lock:
            self._writes_since_scan += 1
            if self._known_bytes is None:
                due = self._writes_since_scan >= self.check_every
            else:
                self._known_bytes += nbytes
                due = (
                    self._known_bytes > self.max_bytes
                    or self._writes_since_scan >= self.resync_every
                )
        if due:
            self.enforce_limit()

    def enforce_limit(self) -> int:
        """Scan the cache; if it is over ``max_bytes``, delete the least recently used
        thumbnails until it is under ``PRUNE_TO`` of it. Returns how many were deleted.

        One scan at a time per cache object (another thread's call returns 0 at once)."""
        if not self._prune_lock.acquire(blocking=False):
            return 0
        try:
            files, total = self._inventory()
            removed = 0
            if self.max_bytes is not None and total > self.max_bytes:
                goal = int(self.max_bytes * PRUNE_TO)
                files.sort()  # oldest mtime first
                for _mtime, nbytes, path in files:
                    if total <= goal:
                        break
                    if _unlink_quietly(Path(path)):
                        removed += 1
                    total -= nbytes  # gone either way (deleted by us or by another process)
                logger.info(
                    "Thumbnail cache over %d MB: deleted %d least recently used thumbnails",
                    self.max_bytes // 2**20,
                    removed,
                )
            with self._budget_lock:
                if self.max_bytes is not None and total > self.max_bytes:
                    # Could not delete enough (a read-only cache): do not scan on every write,
                    # look again after ``resync_every`` writes.
                    self._known_bytes = None
                    self._writes_since_scan = self.check_every - self.resync_every
                else:
                    self._known_bytes = total
                    self._writes_since_scan = 0
            return removed
        finally:
            self._prune_lock.release()

    def _inventory(self) -> tuple[list[tuple[float, int, str]], int]:
        """``[(mtime, bytes, path)]`` of the thumbnails and their total size; stale temp files
        are deleted on the way."""
        files: list[tuple[float, int, str]] = []
        total = 0
        now = time.time()
        for shard in self._shards():
            for entry in _scandir(shard):
                if not _FILE_RE.match(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # deleted meanwhile
                if entry.name.startswith(".tmp-"):
                    if now - st.st_mtime > _STALE_TMP_S:
                        _unlink_quietly(Path(entry.path))
                    continue
                files.append((st.st_mtime, st.st_size, entry.path))
                total += st.st_size
        return files, total

    def prune_missing(
        self,
        live_fingerprints: Iterable[str] | Callable[[], Iterable[str]],
        *,
        token: object = None,
    ) -> int:
        """Delete the thumbnails (of every size) whose content fingerprint is not in
        ``live_fingerprints``: photos that left the library. Returns how many were deleted.

        One pass over the directory names (no per-file stat), a set lookup each: 0.2-0.3 s
        for 100k thumbnails on a 2-core machine. ``token`` makes it free when nothing changed: give the
        library's generation (or anything that changes when photos leave the library); when it
        equals the token of the last complete prune of this cache directory, nothing is read
        or scanned. ``live_fingerprints`` may be a callable, so that read is skipped too.
        """
        token_text = None if token is None else str(token)
        if token_text is not None and self._read_prune_token() == token_text:
            return 0
        live_source = live_fingerprints() if callable(live_fingerprints) else live_fingerprints
        live = {fp.lower() for fp in live_source if fp}
        removed = 0
        freed = 0
        for shard in self._shards():
            for entry in _scandir(shard):
                name = entry.name
                if name.startswith(".") or not _FILE_RE.match(name) or name[:32] in live:
                    continue
                try:
                    nbytes = entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue  # gone already
                if _unlink_quietly(Path(entry.path)):
                    removed += 1
                    freed += nbytes
        with self._budget_lock:
            if self._known_bytes is not None:
                self._known_bytes = max(0, self._known_bytes - freed)
        if removed:
            logger.info("Deleted %d thumbnails of photos no longer in the library", removed)
        if token_text is not None:
            self._write_prune_token(token_text)
        return removed

    def _read_prune_token(self) -> str | None:
        try:
            return (self.cache_dir / _PRUNE_STATE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def _write_prune_token(self, token: str) -> None:
        state = self.cache_dir / _PRUNE_STATE
        tmp = state.with_name(f"{_PRUNE_STATE}.{uuid.uuid4().hex}")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(token, encoding="utf-8")
            os.replace(tmp, state)
        except OSError as exc:
            _unlink_quietly(tmp)
            logger.info("Cannot record the thumbnail prune state in %s: %s", state, exc)

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
        with self._budget_lock:
            self._known_bytes = 0
            self._writes_since_scan = 0
        _unlink_quietly(self.cache_dir / _PRUNE_STATE)
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
