"""Crash-safe file writing and checksums for derived files (the HNSW index and its sidecar).

A kill or power cut can land at any moment of a save. So a file is never rewritten in place:
its bytes go to a temp file in the same directory, are fsynced, and ``os.replace`` swaps it in
(atomic on one file system); the directory is then fsynced so the rename itself survives a
crash. A reader therefore sees either the old file or the new one, never a torn mix.

Two files cannot be swapped in together, so a pair (a data file plus the JSON sidecar that
describes it) is made safe by order and by checksum: the sidecar goes last and records the
data file's size and xxh3_64 (``file_hash``). A crash between the two swaps leaves a sidecar
whose checksum does not match, which the reader rejects (and rebuilds from the database)
instead of trusting the bytes; that matters because hnswlib can crash natively on a malformed
file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xxhash

_HASH_CHUNK = 1 << 20


def temp_path(target: Path) -> Path:
    """A new empty file next to ``target`` (same directory, so ``os.replace`` is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(name)


def file_hash(path: Path, *, fsync: bool = False) -> str:
    """xxh3_64 of the file's bytes; with ``fsync``, also flush it to disk first."""
    h = xxhash.xxh3_64()
    with open(path, "r+b" if fsync else "rb") as f:
        if fsync:
            os.fsync(f.fileno())
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data``: written to a temp file, fsynced, swapped in, dir fsynced."""
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories can't be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
