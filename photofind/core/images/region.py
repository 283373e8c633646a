"""A region of a query photo: search by the dog, not the beach around it.

A ``Region`` is given in the coordinates of the *upright* photo (after its EXIF orientation is
applied), either in pixels of the full-resolution photo or as fractions of its width and height.
``resolve`` turns it into a pixel box once the photo's size is known; anything outside the photo,
empty or too small to mean something raises ``RegionError`` (a usage error, not a bad file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

#: A region narrower or lower than this many pixels of the full-resolution photo is refused.
MIN_REGION_PIXELS = 8

# Fractions from a GUI selection may overshoot 1.0 by a rounding error; this much is forgiven.
_EPS = 1e-6


class RegionError(ValueError):
    """The region does not describe a usable part of the photo; ``str`` says why, plainly."""


@dataclass(frozen=True)
class Region:
    """``x, y`` top-left corner, ``w, h`` size; ``unit`` is ``"px"`` or ``"fraction"``."""

    x: float
    y: float
    w: float
    h: float
    unit: Literal["px", "fraction"] = "px"

    def __post_init__(self) -> None:
        values = (self.x, self.y, self.w, self.h)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise RegionError(f"region values must be finite numbers, got {self.text()}")
        if self.unit not in ("px", "fraction"):
            raise RegionError(f"unknown region unit {self.unit!r}")
        if self.x < 0 or self.y < 0:
            raise RegionError(f"region {self.text()} starts outside the photo (negative X or Y)")
        if self.w <= 0 or self.h <= 0:
            raise RegionError(f"region {self.text()} is empty (width and height must be > 0)")
        if self.unit == "fraction" and (self.x + self.w > 1 + _EPS or self.y + self.h > 1 + _EPS):
            raise RegionError(f"region {self.text()} reaches outside the photo (X+W and Y+H must be ≤ 1)")

    @classmethod
    def fraction(cls, x: float, y: float, w: float, h: float) -> Region:
        return cls(float(x), float(y), float(w), float(h), "fraction")

    def text(self) -> str:
        return ",".join(f"{v:g}" for v in (self.x, self.y, self.w, self.h))

    def is_whole(self) -> bool:
        """True for the fraction region that covers the whole photo."""
        return self.unit == "fraction" and (self.x, self.y) == (0, 0) and min(self.w, self.h) >= 1 - _EPS

    def resolve(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The (left, top, right, bottom) pixel box in a ``width`` x ``height`` upright photo."""
        if self.unit == "fraction":
            box = (self.x * width, self.y * height, (self.x + self.w) * width, (self.y + self.h) * height)
            left, top, right, bottom = (round(v) for v in box)
            right, bottom = min(right, width), min(bottom, height)
        else:
            left, top = round(self.x), round(self.y)
            right, bottom = round(self.x + self.w), round(self.y + self.h)
            if right > width or bottom > height:
                raise RegionError(
                    f"region {self.text()} reaches outside the photo, which is {width}x{height} "
                    "pixels (upright)"
                )
        if right - left < MIN_REGION_PIXELS or bottom - top < MIN_REGION_PIXELS:
            raise RegionError(
                f"region {self.text()} is too small: {right - left}x{bottom - top} pixels of a "
                f"{width}x{height} photo (at least {MIN_REGION_PIXELS}x{MIN_REGION_PIXELS})"
            )
        return left, top, right, bottom


def parse_region(text: str) -> Region:
    """``"X,Y,W,H"`` -> Region: fractions when all four are ≤ 1, else pixels of the upright photo."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise RegionError(f"region must be X,Y,W,H (four numbers), got {text!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise RegionError(f"region must be X,Y,W,H (four numbers), got {text!r}") from None
    unit: Literal["px", "fraction"] = "fraction" if all(v <= 1 for v in values) else "px"
    return Region(*values, unit=unit)
