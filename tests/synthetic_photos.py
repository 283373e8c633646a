"""Photo-like images made by the test itself, for tests that need a few photos, not a data set.

Each seed gives a different picture: a two-colour gradient "sky" over a "ground" band, a few
filled shapes (ellipses, rectangles, polygons) in their own colours, and sensor-like noise.
Different seeds differ in layout, colours and texture, enough that the real model (and
``FakeEmbedder``'s colour layout) gives clearly different vectors; the same seed always gives
the same pixels. Tests that are *about* real photographs (quality, real decodes of the
benchmark sets) use ``../shared/data`` through the ``corel_dir``/``ukbench_dir`` fixtures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def photo_like(seed: int, width: int = 384, height: int = 256) -> Image.Image:
    """An RGB picture with structure at several scales, different for every ``seed``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    top, bottom, ground = rng.integers(0, 256, (3, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * x / width + np.sin(angle) * y / height + 1) / 2  # 0..1 across the frame
    arr = top + (bottom - top) * t[..., None]
    horizon = int(height * rng.uniform(0.4, 0.8))
    arr[horizon:] = ground + rng.normal(0, 18, (height - horizon, 1, 3))  # banded "ground"
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")

    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 8))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.05, 0.3) * width, rng.uniform(0.05, 0.3) * height
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse(box, fill=colour)
        elif kind == 1:
            draw.rectangle(box, fill=colour)
        else:
            n = int(rng.integers(3, 7))
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            draw.polygon([(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles], fill=colour)

    noisy = np.asarray(img, np.float32) + rng.normal(0, rng.uniform(2, 10), (height, width, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8), "RGB")


def write_photo(path: Path, seed: int, width: int = 384, height: int = 256) -> Path:
    """``photo_like(seed)`` saved as a JPEG (quality 90) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    photo_like(seed, width, height).save(path, "JPEG", quality=90)
    return path


def write_photos(folder: Path, seeds: range | list[int], width: int = 384, height: int = 256) -> list[Path]:
    """One JPEG per seed, named ``<seed>.jpg`` (as the Corel copies were), in ``folder``."""
    return [write_photo(folder / f"{s}.jpg", s, width, height) for s in seeds]
