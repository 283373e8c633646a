"""Small shared pieces of the store: vector blobs, the generation key, chunked IN-lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

GENERATION_KEY = "generation"
_CHUNK = 500  # SQLite's bound-parameter limit is generous, but keep IN-lists modest.


def chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: Stored vectors are float16: half the database of float32, and on both benchmark sets the
#: rankings are unchanged (``bench/README.md``): cosine similarities move by ~1e-4 while the
#: gaps that order photos are larger. Rows written as float32 by earlier versions still read.
STORED_DTYPE = np.dtype("<f2")
_LEGACY_DTYPE = np.dtype("<f4")


def vector_to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=STORED_DTYPE).tobytes()


def stored_precision(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as they read back from the database (float32 values of the stored float16),
    so that an index built from the database equals one fed directly by an index run."""
    return np.asarray(vectors).astype(STORED_DTYPE).astype(np.float32)


def blob_to_vector(blob: bytes, dim: int) -> np.ndarray:
    for dtype in (STORED_DTYPE, _LEGACY_DTYPE):
        if len(blob) == dim * dtype.itemsize:
            return np.frombuffer(blob, dtype=dtype).astype(np.float32)
    raise ValueError(f"stored vector has {len(blob)} bytes, expected {dim} float16 or float32 values")


def blobs_to_matrix(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """float32 (len(blobs), dim) from stored vectors (float16, or float32 of older rows)."""
    if not blobs:
        return np.zeros((0, dim), np.float32)
    for dtype in (STORED_DTYPE, _LEGACY_DTYPE):
        if all(len(b) == dim * dtype.itemsize for b in blobs):
            return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), dim).astype(np.float32)
    return np.stack([blob_to_vector(b, dim) for b in blobs])
