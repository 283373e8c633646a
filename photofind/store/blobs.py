"""Small shared pieces of the store: vector blobs, the generation key, chunked IN-lists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

GENERATION_KEY = "generation"
_CHUNK = 500  # SQLite's bound-parameter limit is generous, but keep IN-lists modest.


def chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def vector_to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def blob_to_vector(blob: bytes, dim: int) -> np.ndarray:
    vec = np.frombuffer(blob, dtype="<f4")
    if vec.shape[0] != dim:
        raise ValueError(f"stored vector has {vec.shape[0]} values, expected {dim}")
    return vec.astype(np.float32, copy=False)
