"""Safe photo decoding and model preprocessing.

Every photo in a user's collection passes through here, so nothing a file contains may crash,
hang or exhaust the indexer: a FIFO named ``x.jpg`` is refused without blocking, declared sizes
are checked before any pixel is decoded, and every failure of Pillow or the OS becomes one
``ImageDecodeError`` with a short, user-readable ``reason``.

Big JPEGs are decoded at a reduced DCT scale (Pillow's draft mode) so the shorter side stays at
least ``min_side``; that makes a 15 MP photo cost a fraction of a full decode. All functions are
thread-safe; Pillow releases the GIL while decoding and resizing.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import stat
import threading
from dataclasses import dataclass
from typing import IO, Union

import numpy as np
from PIL import Image, JpegImagePlugin

from photofind.core.images.phash import perceptual_hash
from photofind.core.images.region import Region, RegionError
from photofind.core.models.spec import PreprocessSpec

log = logging.getLogger(__name__)

Source = Union[str, "os.PathLike[str]", bytes]

#: Default refusal limit on the declared pixel count. Large enough for 150 MP medium-format
#: photos and most panoramas. Note Pillow itself refuses anything above
#: ``2 * Image.MAX_IMAGE_PIXELS`` (≈ 179 MP by default) when opening; that is reported the same way.
DEFAULT_MAX_PIXELS = 200_000_000

#: Resampling for the final resize; see ``preprocess`` for the measurement behind the choice.
_RESAMPLE = Image.Resampling.BICUBIC
_REDUCING_GAP = 2.0

# EXIF orientation tag value -> transpose op(s) that make the image upright.
_ORIENTATION_OPS: dict[int, tuple[Image.Transpose, ...]] = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
_EXIF_ORIENTATION = 0x0112


class ImageDecodeError(Exception):
    """A photo could not be decoded. ``reason`` is short and fit to show to the user.

    ``io_error`` is True when the operating system failed to read the file (permission, I/O
    error, vanished), as opposed to the bytes not being a decodable image: the indexer keeps a
    good existing row rather than marking it skipped over a read error.
    """

    def __init__(
        self, reason: str, path: str | None = None, detail: str | None = None, *, io_error: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.detail = detail
        self.io_error = io_error

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


@dataclass(frozen=True)
class Decoded:
    """A model input tensor plus the photo's original upright size (before any reduction) and,
    when asked for, its perceptual hash (``core/images/phash.py``)."""

    tensor: np.ndarray
    width: int
    height: int
    phash: int | None = None


# --- optional HEIF/HEIC support ------------------------------------------------------------

_heif_lock = threading.Lock()
_heif_registered = False


def _ensure_heif_opener() -> None:
    """Register pillow_heif's opener once; tolerate its absence (HEIC then reads as 'not an image').

    pillow_heif applies the HEIF rotation/mirror itself and resets the EXIF orientation to 1, so
    the orientation step below never turns a HEIC twice (checked by a test).
    """
    global _heif_registered
    if _heif_registered:
        return
    with _heif_lock:
        if _heif_registered:
            return
        Image.init()  # load every format plugin now, not racily from several decode threads
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except Exception as exc:  # noqa: BLE001 - ImportError, or a broken native library
            log.info("HEIC/HEIF support unavailable: %s", exc)
        _heif_registered = True


def load_format_plugins() -> None:
    """Load Pillow's format plugins and the HEIF opener now (idempotent).

    Decoding does this on first use; the app calls it before its window shows, because module
    imports hold the GIL and would stall the window if a worker thread ran them later."""
    _ensure_heif_opener()


# --- decoding ------------------------------------------------------------------------------


def _fmt_pixels(n: int) -> str:
    return f"{n / 1e9:.1f} GPixel" if n >= 1e9 else f"{n / 1e6:.0f} MPixel"


def _too_large(pixels: int, limit: int) -> str:
    return f"image too large (≈ {_fmt_pixels(pixels)}, limit {_fmt_pixels(limit)})"


def _reason_for_os_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) or exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "file vanished"
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno in (errno.EISDIR, errno.ENXIO):
        return "not a regular file"
    if exc.errno is not None:
        return f"cannot read file ({os.strerror(exc.errno)})"
    # Pillow raises errno-less OSErrors for bad data ("image file is truncated", "broken data
    # stream", "unrecognized data stream contents", ...).
    return "truncated or corrupt image data"


def _open_regular(path: str) -> IO[bytes]:
    """Open ``path`` for reading only if it is a non-empty regular file, without ever blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once; the ``fstat`` on the open descriptor then
    refuses it, closing the race between checking and opening.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ImageDecodeError("not a regular file", path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageDecodeError("not a regular file", path)
        if st.st_size == 0:
            raise ImageDecodeError("empty file", path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1..8), or 1 when absent or unreadable."""
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
        value = int(value)
    except Exception as exc:  # noqa: BLE001 - corrupt EXIF raises all sorts of things
        log.debug("ignoring unreadable EXIF in %s: %r", getattr(img, "filename", "?"), exc)
        return 1
    return value if 1 <= value <= 8 else 1


def _draft_scale(size: tuple[int, int], min_side: int) -> int:
    """Largest JPEG DCT reduction (8, 4, 2, 1) keeping the shorter side >= ``min_side``."""
    short = min(size)
    for d in (8, 4, 2):
        if short // d >= min_side:
            return d
    return 1


def _apply_icc_cmyk(img: Image.Image) -> Image.Image | None:
    """Convert CMYK to sRGB through the embedded ICC profile, when there is a usable one."""
    icc = img.info.get("icc_profile")
    if not icc:
        return None
    try:
        from PIL import ImageCms  # lazily: only CMYK photos need littlecms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(img, src, dst, outputMode="RGB")
        return out
    except Exception as exc:  # noqa: BLE001 - any failure: fall back to the plain conversion
        log.debug("ICC conversion failed, using plain CMYK->RGB: %r", exc)
        return None


def _high_bit_to_l(img: Image.Image) -> Image.Image:
    """Scale a 16/32-bit integer or float grayscale image to 8-bit L without clipping."""
    arr = np.asarray(img)
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            scaled = arr * 255.0
        elif lo >= 0.0 and hi <= 255.0:
            scaled = arr
        else:
            scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    else:
        arr = arr.astype(np.int64)
        hi = int(arr.max()) if arr.size else 0
        lo = int(arr.min()) if arr.size else 0
        if lo >= 0 and hi <= 255 and img.mode == "I":
            scaled = arr  # an "I" image that only holds 8-bit values
        elif lo >= 0 and hi <= 65535:
            scaled = arr / 257.0  # 16-bit range: 65535 -> 255
        else:
            scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros(arr.shape)
    out = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(out, "L")


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB: transparency onto white, CMYK via ICC, high bit depths scaled."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "CMYK":
        return _apply_icc_cmyk(img) or img.convert("RGB")
    if mode.startswith("I") or mode == "F":
        return _high_bit_to_l(img).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except ValueError:  # e.g. LAB, HSV: no direct conversion in Pillow
        raise ImageDecodeError(f"unsupported colour mode ({mode})") from None


def _decode_open(
    img: Image.Image, min_side: int, max_pixels: int, region: Region | None = None
) -> tuple[Image.Image, int, int]:
    """Decode an opened image: limits, draft, first frame, orientation, region, RGB."""
    width, height = img.size
    pixels = width * height
    if width <= 0 or height <= 0:
        raise ImageDecodeError("truncated or corrupt image data")
    if pixels > max_pixels:
        raise ImageDecodeError(_too_large(pixels, max_pixels))

    orientation = _orientation(img)
    upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    # the region's box in the full-resolution upright photo, checked before any pixel is decoded
    box = region.resolve(*upright) if region is not None else None
    if isinstance(img, JpegImagePlugin.JpegImageFile):  # also MPO (multi-picture JPEG)
        # a region keeps its own shorter side >= min_side, so the crop is as sharp as a photo
        d = _draft_scale((box[2] - box[0], box[3] - box[1]) if box else img.size, min_side)
        if d > 1:
            img.draft("RGB", (width // d, height // d))
    # Image.open leaves animated GIF/WebP and multi-page TIFF on their first frame; asking for
    # n_frames would scan the whole file, so we don't.
    img.load()

    for op in _ORIENTATION_OPS.get(orientation, ()):
        img = img.transpose(op)
    width, height = upright
    if box is not None:
        sx, sy = img.width / width, img.height / height  # < 1 after a draft reduction
        img = img.crop((round(box[0] * sx), round(box[1] * sy), round(box[2] * sx), round(box[3] * sy)))
    return _to_rgb(img), width, height


_BOMB_RE = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+)")


def _decode(
    source: Source, min_side: int, max_pixels: int, region: Region | None = None
) -> tuple[Image.Image, int, int]:
    _ensure_heif_opener()
    path = None if isinstance(source, bytes) else os.fsdecode(source)
    try:
        if path is None:
            if not source:
                raise ImageDecodeError("empty file")
            fp: IO[bytes] = io.BytesIO(source)  # type: ignore[arg-type]
        else:
            fp = _open_regular(path)
        with fp:
            # Not ``with Image.open(...)``: closing the image would free its pixels. We own ``fp``;
            # once loaded the image no longer needs it.
            img = Image.open(fp)
            return _decode_open(img, min_side, max_pixels, region)
    except RegionError:  # the caller's region is wrong, not the file
        raise
    except ImageDecodeError as exc:
        exc.path = exc.path or path
        raise
    except Image.DecompressionBombError as exc:
        m = _BOMB_RE.search(str(exc))
        reason = _too_large(int(m.group(1)), int(m.group(2))) if m else "image too large"
        raise ImageDecodeError(reason, path, str(exc)) from None
    except Image.DecompressionBombWarning as exc:  # only when warnings are turned into errors
        raise ImageDecodeError("image too large", path, str(exc)) from None
    except Image.UnidentifiedImageError as exc:
        raise ImageDecodeError("not an image (or an unsupported format)", path, str(exc)) from None
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode", path) from None
    except OSError as exc:
        raise ImageDecodeError(
            _reason_for_os_error(exc), path, repr(exc), io_error=exc.errno is not None
        ) from None
    except Exception as exc:  # ValueError, SyntaxError, struct.error, EOFError, IndexError, ...
        log.debug("decode failed for %s", path, exc_info=True)
        raise ImageDecodeError("truncated or corrupt image data", path, repr(exc)) from None


def decode_image(
    source: Source, min_side: int = 224, max_pixels: int = DEFAULT_MAX_PIXELS, region: Region | None = None
) -> Image.Image:
    """Decode a photo (path or encoded bytes) to an upright RGB image (or that ``region`` of it).

    JPEGs may come back reduced by 2, 4 or 8 (never below ``min_side`` on the shorter side).
    Raises ``ImageDecodeError`` for anything that is not a decodable image within ``max_pixels``,
    ``RegionError`` when ``region`` is not inside the upright photo.
    """
    return _decode(source, min_side, max_pixels, region)[0]


# --- preprocessing -------------------------------------------------------------------------


def _center_square(size: tuple[int, int]) -> tuple[float, float, float, float]:
    w, h = size
    side = min(w, h)
    left = (w - side) / 2.0
    top = (h - side) / 2.0
    return (left, top, left + side, top + side)


def preprocess(img: Image.Image, spec: PreprocessSpec) -> np.ndarray:
    """RGB image -> float32 model input, (3,S,S) for NCHW or (S,S,3) for NHWC.

    ``center_crop`` resizes the central square straight to S x S (one resampling pass; the same
    result as "shorter side to S, then crop" without the intermediate image).

    BICUBIC was chosen by measurement against a LANCZOS resize of the full-resolution decode:
    after draft mode it is 25-60 % closer (pixel RMS) than BILINEAR for about +0.5 ms per photo
    (1-2 ms vs 0.7-1.3 ms); ``reducing_gap`` only matters for big non-JPEG inputs, where it
    box-reduces first and saves most of the cost.
        """
    if img.mode != "RGB":
        img = _to_rgb(img)
    s = spec.size
    box = _center_square(img.size) if spec.resize == "center_crop" else None
    if img.size != (s, s) or box is not None and box != (0.0, 0.0, float(s), float(s)):
        img = img.resize((s, s), _RESAMPLE, box=box, reducing_gap=_REDUCING_GAP)
    pixels = np.asarray(img)  # (S, S, 3) uint8
    if spec.channel_order == "BGR":
        pixels = pixels[:, :, ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32)
    inv_std = 1.0 / np.asarray(spec.std, dtype=np.float32)
    # Convert straight into the output layout, then normalise in place: several times faster
    # than building float intermediates and copying the transpose.
    if spec.layout == "NCHW":
        out = np.empty((3, s, s), dtype=np.float32)
        out[...] = pixels.transpose(2, 0, 1)
        out -= mean[:, None, None]
        out *= inv_std[:, None, None]
    else:
        out = pixels.astype(np.float32)
        out -= mean
        out *= inv_std
    return out


def decode_for_model(
    source: Source,
    spec: PreprocessSpec,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    region: Region | None = None,
    *,
    with_hash: bool = False,
) -> Decoded:
    """Decode and preprocess one photo (or a ``region`` of the upright photo, cut from the
    full-resolution decode); also return the photo's original upright width and height, and
    with ``with_hash`` the perceptual hash of the decoded photo (about 1 ms more)."""
    img, width, height = _decode(source, spec.size, max_pixels, region)
    try:
        tensor = preprocess(img, spec)
        phash = perceptual_hash(img) if with_hash else None
    except MemoryError:
        raise ImageDecodeError("not enough memory to decode") from None
    except Exception as exc:  # noqa: BLE001 - the contract: only ImageDecodeError escapes
        path = None if isinstance(source, bytes) else os.fsdecode(source)
        raise ImageDecodeError("truncated or corrupt image data", path, repr(exc)) from None
    return Decoded(tensor, width, height, phash)


def load_for_model(source: Source, spec: PreprocessSpec) -> np.ndarray:
    """``decode_image`` + ``preprocess``: the model input tensor for one photo."""
    return decode_for_model(source, spec).tensor
