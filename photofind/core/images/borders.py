"""Uniform borders around a photo: the dark (or light) bars of a screenshot or a letterbox.

A query photo that arrives as a screenshot carries bars the library's original never had; they
take part of the model's view and pull its vector away from the original's. ``trim_borders``
cuts whole rows (or columns) at *both* opposite edges when they are one flat, neutral colour
(black, grey or white; JPEG noise allowed) and returns the photo inside them. Real photos rarely have an edge row that is flat to within a few
grey levels across its whole width, and a trim is only made when it removes a real bar (at least
``min_fraction`` of a side) and leaves a photo of sensible size, so ordinary photos come back
unchanged.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Largest deviation (0..255, per pixel and channel) from the bar colour that still counts as
#: the bar; JPEG ringing next to the photo's edge stays below it, real image content does not.
TOLERANCE = 24
#: Largest spread between a bar colour's channels: bars are grey, black or white.
NEUTRAL = 12
#: Fraction of a row's pixels that may exceed ``TOLERANCE`` (compression specks).
OUTLIERS = 0.01
#: A bar must take at least this fraction of the side it is cut from...
MIN_FRACTION = 0.03
#: ... and what remains must keep at least this fraction of each side.
MIN_KEEP = 0.25


def _flat_run(lines: np.ndarray, colour: np.ndarray) -> int:
    """How many leading lines (axis 0 of ``lines``: (n, m, 3)) are flat in ``colour``.

    Looked at in growing chunks from the edge: an ordinary photo's run ends within a few
    lines, so the whole image is not compared (it cost ~13 ms per query at full size)."""
    target = colour.astype(np.int16)
    start, step, n = 0, 16, len(lines)
    while start < n:
        chunk = lines[start : start + step]
        off = np.abs(chunk.astype(np.int16) - target).max(axis=2) > TOLERANCE
        bad = off.mean(axis=1) > OUTLIERS
        if bad.any():
            return start + int(np.argmax(bad))
        start, step = start + len(chunk), step * 2
    return n


def _neutral(colour: np.ndarray) -> bool:
    """A grey (black, dark, white) colour, as bars are; blue sky or a green wall are not."""
    c = colour.astype(np.int16)
    return int(c.max() - c.min()) <= NEUTRAL


def _pair(lines: np.ndarray, size: int) -> tuple[int, int]:
    """Bars at both ends of ``lines`` (axis 0), same neutral colour, each >= MIN_FRACTION of
    ``size``; (0, 0) otherwise. One-sided flat edges are left alone: a clear sky is not a bar."""
    first, last = lines[0].mean(axis=0), lines[-1].mean(axis=0)
    if not (_neutral(first) and _neutral(last)) or np.abs(first - last).max() > TOLERANCE:
        return 0, 0
    a = _flat_run(lines, first)
    b = _flat_run(lines[::-1], last)
    if min(a, b) < MIN_FRACTION * size:
        return 0, 0
    return a, b


def border_box(img: Image.Image) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom) inside uniform borders, or None when there are none."""
    rgb = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    h, w = rgb.shape[:2]
    if h < 16 or w < 16:
        return None
    top, bottom = _pair(rgb, h)
    left, right = _pair(rgb.transpose(1, 0, 2), w)
    if not (top or bottom or left or right):
        return None
    box = (left, top, w - right, h - bottom)
    if box[2] - box[0] < MIN_KEEP * w or box[3] - box[1] < MIN_KEEP * h:
        return None  # (nearly) flat everywhere: nothing to trim to
    return box


def trim_borders(img: Image.Image) -> Image.Image:
    """``img`` without its uniform borders (the same object when it has none)."""
    box = border_box(img)
    return img if box is None else img.crop(box)
