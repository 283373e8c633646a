"""Pooling a CNN feature map into one descriptor: average (the default), GeM, multi-scale.

The default model's ONNX graph has two outputs: ``embedding`` (global average pooling, what the
app stores) and ``feature_map`` ``[N, C, h, w]`` before pooling, with dynamic h and w, so any
input size works. Measured with the app's ranking (``bench/quality.py --descriptors``): GeM
p = 3 lowers category retrieval (Corel mAP 0.9207 -> 0.8993 plain, 0.9683 -> 0.9616 ranked) for
+0.009 plain UKBench N-S, and multi-scale sums (288 + 204, 224 + 320 px) lower Corel P@10 and
mAP against one 288 px input with the default ranking (224 + 320 gains 0.003 UKBench N-S at
1.8x the model cost), so the app keeps average pooling at 288 px;
these functions are the documented step for experiments and for user models.
"""

from __future__ import annotations

import numpy as np


def gem(feature_map: np.ndarray, p: float = 3.0, eps: float = 1e-6) -> np.ndarray:
    """Generalised mean pooling ``(mean(x ** p)) ** (1 / p)`` over h, w: (N, C, h, w) -> (N, C).

    p = 1 is average pooling; p -> infinity tends to max pooling. Activations are clamped at
    ``eps`` (GeM is defined for non-negative features, e.g. after ReLU6).
    """
    x = np.maximum(np.asarray(feature_map, dtype=np.float32), eps)
    if p == 1:
        return x.mean(axis=(2, 3))
    # scaled by the per-channel max first, so large p cannot overflow float32
    peak = x.max(axis=(2, 3), keepdims=True)
    pooled = np.power(np.power(x / peak, p).mean(axis=(2, 3)), 1.0 / p)
    return (pooled * peak[:, :, 0, 0]).astype(np.float32)


def multiscale(descriptors: list[np.ndarray]) -> np.ndarray:
    """Sum of L2-normalised descriptors of the same images at several scales, normalised."""
    if not descriptors:
        raise ValueError("no descriptors to combine")
    total = sum(_unit(d) for d in descriptors)
    return _unit(np.asarray(total))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
