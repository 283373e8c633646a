"""A 64-bit perceptual hash (DCT pHash) of a photo, and Hamming distances between hashes.

The near-duplicate finder uses it to confirm a candidate pair the model's vectors alone are
unsure about: a copy halved to 192 x 128 px is upsampled to the model's input and its vector
drifts (cosine 0.80-0.90 to its original), while its pHash moves by at most a bit or two.
Resizing, recompression, brightness and metadata changes keep the hash within a few bits;
distinct photos, even look-alikes the model finds close, rarely do (bench/duplicates.py).

The hash: the photo in grey, reduced to 32 x 32, its 2-D DCT-II, the 8 x 8 lowest frequencies,
one bit per coefficient above their median (Zauner's pHash, as imagehash and czkawka compute
it). Computed from the image the index job already decoded (JPEGs there are decoded at a
reduced DCT scale; the hash of a 1/8-scale decode is within 2 bits of the full one on 600
real photos, so the index job and the backfill agree). A photo too flat to hash (one colour,
a black frame: its bits would be noise) gets ``NO_HASH``; so does one that cannot be read.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Stored for a photo that has no usable hash. Never a real hash: the median split sets about
#: half of the 64 bits of a real one.
NO_HASH = 0
#: A 32 x 32 grey thumbnail whose standard deviation is below this (grey levels) is "flat".
_FLAT_STD = 1.0
_SIDE = 32
_n = np.arange(_SIDE)
#: The 8 lowest rows of the DCT-II basis for 32 samples (scale does not matter to the median).
_DCT8 = np.cos(np.pi * (2 * _n[None, :] + 1) * np.arange(8)[:, None] / (2 * _SIDE))


def perceptual_hash(img: Image.Image) -> int:
    """The pHash of ``img`` (any size and mode; upright as shown) as a signed 64-bit int
    (what SQLite stores), or ``NO_HASH`` for a flat image."""
    grey = img.convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    a = np.asarray(grey, dtype=np.float64)
    if a.std() < _FLAT_STD:
        return NO_HASH
    coeffs = (_DCT8 @ a @ _DCT8.T).ravel()
    bits = np.packbits(coeffs > np.median(coeffs))
    return int.from_bytes(bits.tobytes(), "big", signed=True)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between the int64 hashes ``a`` and ``b`` (elementwise)."""
    x = np.bitwise_xor(np.asarray(a, np.int64), np.asarray(b, np.int64))
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x).astype(np.int64)
    x = np.ascontiguousarray(x)
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(-1).astype(np.int64)
