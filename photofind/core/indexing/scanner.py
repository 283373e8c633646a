"""Finding photos on disk and fingerprinting them.

``walk_folder`` lists the supported photo files below a folder, cheaply (``os.scandir``), with the
size and mtime the indexer compares to spot changes. It never raises for problems inside the
tree (they go to ``on_error``); only an unusable root raises ``FolderUnavailable``, so the indexer
can mark that folder's photos offline instead of deleting them.

``fingerprint`` identifies a file's content without reading all of it, to recognise a photo that
was moved or renamed (same fingerprint, new path) and keep its embedding.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import xxhash

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".gif", ".bmp",
     ".heic", ".heif", ".avif"}
)

#: Directory names never descended into (besides every name starting with "."): NAS thumbnail
#: caches and recycle bins, which hold copies or derivatives of the real photos.
SKIPPED_DIR_NAMES: frozenset[str] = frozenset(
    {"@eaDir", "#recycle", "#snapshot", "$RECYCLE.BIN", "System Volume Information"}
)

ErrorCallback = Callable[[str, str], None]


class FolderUnavailable(Exception):
    """The folder to scan does not exist, is not a folder, or cannot be read (e.g. unmounted)."""

    def __init__(self, root: str, reason: str) -> None:
        super().__init__(f"{root}: {reason}")
        self.root = root
        self.reason = reason


@dataclass(frozen=True)
class FileStat:
    path: str
    size: int
    mtime_ns: int


def is_supported(name: str) -> bool:
    """True if ``name`` has a photo extension we decode (case-insensitive)."""
    return os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS


def storable_path(path: str) -> str:
    """``path`` if it is valid Unicode, else a readable stand-in with the bad bytes as ``\\xNN``.

    On POSIX, file names are bytes; Python represents undecodable bytes as lone surrogates,
    which SQLite TEXT, JSON output and Qt can't hold. The stand-in is deterministic, so the
    same file maps to the same row on every scan (it is never opened through it).
    """
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    if exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


def _list_dir(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        entries = list(it)
    entries.sort(key=lambda e: e.name)
    return entries


def walk_folder(root: str | Path, on_error: ErrorCallback | None = None) -> Iterator[FileStat]:
    """Yield every supported regular file below ``root`` (absolute paths), depth first, by name.

    Skips hidden names (leading "."), ``SKIPPED_DIR_NAMES``, FIFOs/sockets/devices and directories
    that merely look like photos (``x.jpg/``). Follows directory symlinks, visiting each real
    directory once, so symlink loops terminate. Broken symlinks and unreadable entries are passed
    to ``on_error(path, reason)`` and skipped.

    The root is checked (and listed) before this returns, so ``FolderUnavailable`` is raised by
    the call itself, not later by the iterator.
    """
    root_str = os.path.abspath(os.fspath(root))
    try:
        st = os.stat(root_str)
    except OSError as exc:
        raise FolderUnavailable(root_str, _reason(exc)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise FolderUnavailable(root_str, "not a folder")
    try:
        entries = _list_dir(root_str)
    except OSError as exc:
        raise FolderUnavailable(root_str, _reason(exc)) from None
    return _walk(root_str, entries, {(st.st_dev, st.st_ino)}, on_error)


def _walk(
    root: str,
    root_entries: list[os.DirEntry[str]],
    visited: set[tuple[int, int]],
    on_error: ErrorCallback | None,
) -> Iterator[FileStat]:
    def report(path: str, reason: str) -> None:
        path = storable_path(path)
        log.debug("skipping %s: %s", path, reason)
        if on_error is not None:
            on_error(path, reason)

    # Stack of pending directory listings; each item is an iterator over sorted entries.
    stack: list[Iterator[os.DirEntry[str]]] = [iter(root_entries)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        name = entry.name
        if name.startswith("."):
            continue
        path = entry.path
        is_link = False
        try:
            is_link = entry.is_symlink()
            st = entry.stat()  # follows symlinks
        except OSError as exc:
            if is_link and isinstance(exc, FileNotFoundError):
                report(path, "broken symbolic link")
            else:
                report(path, _reason(exc))
            continue
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if name in SKIPPED_DIR_NAMES:
                continue
            key = (st.st_dev, st.st_ino)
            if key in visited:
                log.debug("already visited %s (symlink loop or duplicate link)", path)
                continue
            visited.add(key)
            try:
                children = _list_dir(path)
            except OSError as exc:
                report(path, _reason(exc))
                continue
            stack.append(iter(children))
        elif stat.S_ISREG(mode):
            if is_supported(name):
                yield FileStat(path, st.st_size, st.st_mtime_ns)
        elif is_supported(name):
            # A FIFO, socket or device named like a photo: never opened (a FIFO would block).
            report(path, "not a regular file (a FIFO, socket or device)")


# --- fingerprint ---------------------------------------------------------------------------

#: Bytes hashed from the start of the file: the whole EXIF block (capture time, camera serial,
#: embedded thumbnail) plus the first part of the compressed pixels, which differ between any two
#: photos. 1 MiB covers small files completely.
FINGERPRINT_HEAD = 1 << 20
#: Bytes hashed from the end: catches edits and truncation that leave the head alone.
FINGERPRINT_TAIL = 64 << 10


def fingerprint(path: str, size: int | None = None) -> str:
    """Content fingerprint for move/rename detection: 32 hex digits of xxh3-128.

    Hashes the file size (8 bytes, little-endian) + the first 1 MiB + the last 64 KiB (files up
    to 1 MiB + 64 KiB are hashed whole), so it costs at most two reads whatever the file size,
    and a copy of a file has the same fingerprint as the original. Raises ``OSError``.
    ``size`` (e.g. from ``walk_folder``) saves an ``fstat``; it is part of the hash.
    """
    h = xxhash.xxh3_128()
    # O_NONBLOCK: a FIFO swapped in since the scan must not block us; fstat then refuses it.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        if size is None:
            size = st.st_size
        h.update(size.to_bytes(8, "little"))
        if size <= FINGERPRINT_HEAD + FINGERPRINT_TAIL:
            h.update(_read_upto(f, size))
        else:
            h.update(_read_upto(f, FINGERPRINT_HEAD))
            f.seek(size - FINGERPRINT_TAIL)
            h.update(_read_upto(f, FINGERPRINT_TAIL))
    return h.hexdigest()


def _read_upto(f, n: int) -> bytes:  # type: ignore[no-untyped-def]
    """Read up to ``n`` bytes (fewer only at end of file); unbuffered reads may return short."""
    chunks = []
    while n > 0:
        chunk = f.read(n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
