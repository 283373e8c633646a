"""Turning preprocessed image tensors into L2-normalised embedding vectors.

Placeholder module: the ``Embedder`` protocol is fixed here; ``OnnxEmbedder`` is filled in by the
model work (provider choice, batching, thread counts).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from photofind.core.models.spec import PreprocessSpec


class Embedder(Protocol):
    """Anything that maps a batch of preprocessed images to unit vectors."""

    model_id: str
    dim: int
    preprocess: PreprocessSpec

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """``batch``: float32, shape (N, 3, S, S) or (N, S, S, 3) per ``preprocess.layout``.

        Returns float32 (N, dim), each row L2-normalised.
        """
        ...
