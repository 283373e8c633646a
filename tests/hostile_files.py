"""Generators for awkward and hostile image files, written into a test's temp dir.

Each function writes one file and returns its path. All files are small on disk.
"""

from __future__ import annotations

import io
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


# --- formats and modes a real collection holds ----------------------------------------------

#: EXIF orientation -> the transpose that turns an upright image into the stored pixels
#: (the inverse of what a viewer applies).
STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def oriented_jpeg(path: Path, upright: Image.Image, orientation: int) -> Path:
    """A JPEG whose pixels are stored turned, with the EXIF tag that turns them back."""
    op = STORE_FOR_ORIENTATION[orientation]
    stored = upright if op is None else upright.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return write_jpeg(path, stored, exif=exif.tobytes())


def corrupt_exif_jpeg(path: Path, img: Image.Image) -> Path:
    """A JPEG whose APP1 Exif block is garbage (bad TIFF header and offsets)."""
    junk = b"Exif\x00\x00" + b"MM\x00\x2a\xff\xff\xff\xf0" + bytes(range(256)) * 2
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    path.write_bytes(data[:2] + app1 + data[2:])  # right after SOI
    return path


def cmyk_jpeg(path: Path, img: Image.Image) -> Path:
    img.convert("CMYK").save(path, "JPEG", quality=90)
    return path


def gray_jpeg(path: Path, img: Image.Image) -> Path:
    img.convert("L").save(path, "JPEG", quality=90)
    return path


def png16(path: Path, img: Image.Image) -> Path:
    arr = np.asarray(img.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(arr).save(path, "PNG")  # uint16 -> mode I;16
    assert Image.open(path).mode.startswith("I"), Image.open(path).mode
    return path


def palette_png_transparent(path: Path, img: Image.Image) -> Path:
    pal = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    pal.save(path, "PNG", transparency=0)
    return path


def animated_gif(path: Path, img: Image.Image, frames: int = 4) -> Path:
    seq = [img.rotate(90 * i).convert("P", palette=Image.Palette.ADAPTIVE) for i in range(frames)]
    seq[0].save(path, "GIF", save_all=True, append_images=seq[1:], duration=100, loop=0)
    return path


def multipage_tiff(path: Path, img: Image.Image, pages: int = 3) -> Path:
    seq = [img.rotate(90 * i) for i in range(pages)]
    seq[0].save(path, "TIFF", save_all=True, append_images=seq[1:], compression="tiff_deflate")
    return path


def heic(path: Path, img: Image.Image) -> Path:
    import pillow_heif

    pillow_heif.from_pillow(img).save(str(path), quality=80)
    return path


def solid_png(path: Path, width: int, height: int) -> Path:
    """A plain PNG of any shape (100000x1 and 1x1 are the awkward ones)."""
    arr = np.linspace(0, 255, width * height * 3).astype(np.uint8).reshape(height, width, 3)
    Image.fromarray(arr, "RGB").save(path, "PNG")
    return path
