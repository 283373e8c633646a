"""When a photo was taken: EXIF ``DateTimeOriginal`` (with ``OffsetTimeOriginal`` where present),
else the file's modification time. Reads only the file's header (Pillow parses the EXIF block
without decoding pixels; HEIC through pillow-heif's opener), never raises for a photo.

Times are epoch seconds. An EXIF time without an offset is the camera's wall clock and is read
as this computer's local time (what the user sees and filters by). A date that cannot be parsed
or is absurd (before photography, year 0, more than a day in the future) falls back to the file
time with source ``TAKEN_BAD_EXIF``, which ``photofind stats`` lists.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time

from PIL import Image

from photofind.core.images.decode import _ensure_heif_opener, _open_regular
from photofind.store.schema import TAKEN_BAD_EXIF, TAKEN_EXIF, TAKEN_FILE

logger = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_FIRST_PHOTO_YEAR = 1826
_DATE_RE = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def parse_exif_date(raw: object, offset: object = None, now: float | None = None) -> float | None:
    """Epoch seconds of an EXIF date string, or None when it is broken or absurd."""
    text = _text(raw)
    if text is None:
        return None
    m = _DATE_RE.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    if year < _FIRST_PHOTO_YEAR:
        return None
    tz = None
    off = _OFFSET_RE.match(_text(offset) or "")
    if off:
        delta = dt.timedelta(hours=int(off.group(2)), minutes=int(off.group(3)))
        if delta <= dt.timedelta(hours=14):
            tz = dt.timezone(delta if off.group(1) == "+" else -delta)
    try:
        when = dt.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    if when > (time.time() if now is None else now) + 86_400:
        return None
    return when


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    text = str(value).replace("\x00", "").strip()
    return text or None


def exif_date(path: str) -> tuple[object, object]:
    """The raw ``(DateTimeOriginal, OffsetTimeOriginal)`` of a photo (None where absent)."""
    _ensure_heif_opener()
    with _open_regular(path) as fp, Image.open(fp) as img:
        exif = img.getexif()
        ifd = exif.get_ifd(_EXIF_IFD)
        raw = ifd.get(_DATE_TIME_ORIGINAL) or exif.get(_DATE_TIME_ORIGINAL)
        offset = ifd.get(_OFFSET_TIME_ORIGINAL) or exif.get(_OFFSET_TIME_ORIGINAL)
    return raw, offset


def read_taken(path: str, mtime_ns: int | None = None) -> tuple[float | None, str]:
    """``(taken, source)`` for one photo; the file time (``mtime_ns`` if given) as fallback,
    None only when the file cannot even be stat'ed."""
    try:
        fallback: float | None = mtime_ns / 1e9 if mtime_ns is not None else os.stat(path).st_mtime
    except OSError:
        fallback = None
    try:
        raw, offset = exif_date(path)
    except Exception as exc:  # noqa: BLE001 - a broken EXIF block raises all sorts of things
        logger.debug("no readable EXIF in %s: %r", path, exc)
        return fallback, TAKEN_FILE
    if _text(raw) is None:
        return fallback, TAKEN_FILE
    when = parse_exif_date(raw, offset)
    if when is None:
        logger.info("%s: EXIF date %r is broken or absurd; using the file time", path, _text(raw))
        return fallback, TAKEN_BAD_EXIF
    return when, TAKEN_EXIF
