"""Fast stand-ins for the model, for unit tests of the pipeline around it.

``FakeEmbedder`` maps a photo to a small vector derived from its pixels (a colour layout), so
identical images give identical vectors and similar images similar ones, without running a
neural network. It counts how many images it embedded, so tests can prove work was not redone.
"""

from __future__ import annotations

import threading

import numpy as np

from photofind.core.models.spec import PreprocessSpec

FAKE_SPEC = PreprocessSpec(size=32, resize="squash", mean=(127.0,) * 3, std=(128.0,) * 3)


class FakeEmbedder:
    model_id = "fake-colour-layout:v1"
    dim = 48
    preprocess = FAKE_SPEC

    def __init__(self) -> None:
        self.embedded = 0
        self._lock = threading.Lock()

    def embed(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.embedded += len(batch)
        n = len(batch)
        # (N, 3, 32, 32) -> 4x4 grid of mean colours -> 48 values
        grid = batch.reshape(n, 3, 4, 8, 4, 8).mean(axis=(3, 5)).reshape(n, -1)
        grid = grid - grid.mean(axis=1, keepdims=True) + 1e-3
        return (grid / np.linalg.norm(grid, axis=1, keepdims=True)).astype(np.float32)
