"""Generators for awkward and hostile image files, written into a test's temp dir.

Each function writes one file and returns its path. All files are small on disk.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def pattern_rgb(width: int = 320, height: int = 240) -> Image.Image:
    """A smooth but asymmetric colour image: any flip or rotation changes it visibly."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 255 * x / max(width - 1, 1)
    g = 255 * y / max(height - 1, 1)
    b = 255 * ((x / width) ** 2 * (1 - y / height))
    arr = np.stack([r, g, b], axis=-1)
    arr[: height // 4, : width // 4] = (250, 20, 20)  # a block in the top-left corner
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def write_jpeg(path: Path, img: Image.Image, **kw) -> Path:  # type: ignore[no-untyped-def]
    img.save(path, "JPEG", quality=95, **kw)
    return path


def truncated_copy(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: max(1, int(len(data) * fraction))])
    return dst


def random_bytes(path: Path, n: int = 4096, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


def _png_chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    if crc is None:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` x ``height`` RGB but holds a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
    path.write_bytes(data + _png_chunk(b"IEND", b""))
    return path


def png_bad_crc(path: Path, bad_chunk: bytes = b"IDAT") -> Path:
    """A valid small PNG except that ``bad_chunk``'s CRC is wrong."""
    raw = b"".join(b"\x00" + bytes([x % 256 for x in range(48)]) for _ in range(16))
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr, crc=0xDEADBEEF if bad_chunk == b"IHDR" else None)
        + _png_chunk(b"IDAT", zlib.compress(raw), crc=0xDEADBEEF if bad_chunk == b"IDAT" else None)
        + _png_chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
