"""Pooling of feature maps (GeM, multi-scale) and the embedder's pre-pooling output."""

import numpy as np
import pytest

from photofind.core.models.pooling import gem, multiscale


def test_gem_is_average_at_p1_and_tends_to_max() -> None:
    rng = np.random.default_rng(0)
    fm = rng.uniform(0, 6, size=(2, 5, 4, 3)).astype(np.float32)
    assert np.allclose(gem(fm, 1), fm.mean(axis=(2, 3)))
    g3, g50 = gem(fm, 3), gem(fm, 50)
    assert np.all(g3 >= fm.mean(axis=(2, 3)) - 1e-5) and np.all(g3 <= fm.max(axis=(2, 3)) + 1e-5)
    assert np.allclose(g50, fm.max(axis=(2, 3)), rtol=0.1)


def test_multiscale_sums_unit_descriptors() -> None:
    a = np.array([[3.0, 0.0]], np.float32)
    b = np.array([[0.0, 0.5]], np.float32)
    assert np.allclose(multiscale([a, b]), [[2**-0.5, 2**-0.5]])
    with pytest.raises(ValueError):
        multiscale([])


def test_feature_map_average_equals_the_stored_embedding(tmp_path) -> None:
    from photofind.core.models.embedder import OnnxEmbedder
    from photofind.core.models.registry import resolve_model

    # The default model is part of the test install: missing, it is an error, not a skip.
    info = resolve_model("efficientnet-lite0", tmp_path / "models")
    emb = OnnxEmbedder(info, device="cpu", threads=1)
    batch = np.random.default_rng(0).normal(size=(2, 3, 224, 224)).astype(np.float32)
    fm = emb.feature_map(batch)
    assert fm.shape[:2] == (2, 1280) and fm.shape[2:] == (7, 7)
    pooled = gem(fm, 1)
    unit = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.allclose(unit, emb.embed(batch), atol=1e-4)
    big = emb.feature_map(np.zeros((1, 3, 320, 320), np.float32))
    assert big.shape[2:] == (10, 10)
