"""OnnxEmbedder on the real converted Lite0 and photo-like pictures (this machine has no GPU)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.core.models.embedder import (
    Embedder,
    OnnxEmbedder,
    default_threads,
    nvidia_gpu_present,
)
from photofind.core.models.registry import (
    create_embedder,
    register_model,
    resolve_model,
)
from photofind.core.models.spec import ModelInfo, PreprocessSpec
from tests.synthetic_photos import write_photo

from .test_registry import TINY_SPEC, make_tiny_model


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def lite0(models_dir) -> ModelInfo:
    return resolve_model(None, models_dir)


@pytest.fixture(scope="module")
def cpu_embedder(lite0) -> OnnxEmbedder:
    return OnnxEmbedder(lite0, device="cpu", threads=2)


def _center_crop(path: Path, spec: PreprocessSpec) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = spec.size / min(w, h)
        im = im.resize(
            (max(spec.size, round(w * s)), max(spec.size, round(h * s))), Image.BILINEAR
        )
        w, h = im.size
        left, top = (w - spec.size) // 2, (h - spec.size) // 2
        x = np.asarray(
            im.crop((left, top, left + spec.size, top + spec.size)), np.float32
        )
    return (
        (x - np.array(spec.mean, np.float32)) / np.array(spec.std, np.float32)
    ).transpose(2, 0, 1)


@pytest.fixture(scope="module")
def photos(lite0, tmp_path_factory) -> np.ndarray:
    """Five different photo-like pictures, landscape and portrait, preprocessed for Lite0."""
    folder = tmp_path_factory.mktemp("photos")
    shapes = [(384, 256), (256, 384), (640, 480), (384, 256), (300, 300)]
    return np.stack(
        [
            _center_crop(write_photo(folder / f"{seed}.jpg", seed, w, h), lite0.preprocess)
            for seed, (w, h) in enumerate(shapes)
        ]
    )


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_gpu_requests_fall_back_to_a_working_cpu_embedder(
    lite0, photos, device, caplog
) -> None:
    import onnxruntime as ort

    caplog.set_level(logging.INFO, logger="photofind.core.models.embedder")
    emb = OnnxEmbedder(lite0, device=device, threads=2)
    if "CUDAExecutionProvider" in emb.providers:  # pragma: no cover - GPU machines only
        assert emb.device == "cuda" and emb.fallback_reason is None
    else:
        assert emb.device == "cpu"
        assert emb.providers == ["CPUExecutionProvider"]
        assert "running efficientnet-lite0 on CPU" in caplog.text
        if device == "auto" and not nvidia_gpu_present():
            # No GPU at all: "auto" does not even try CUDA (no onnxruntime error spam).
            assert emb.fallback_reason == "no NVIDIA GPU found"
            assert not any(r.levelno >= logging.WARNING for r in caplog.records)
        else:
            assert emb.fallback_reason and "CUDAExecutionProvider" in emb.fallback_reason
            if device == "cuda" or "CUDAExecutionProvider" in ort.get_available_providers():
                assert any(r.levelno == logging.WARNING for r in caplog.records)
    out = emb.embed(photos[:2])
    assert out.shape == (2, 1280) and out.dtype == np.float32


def test_cpu_device_uses_cpu_only(cpu_embedder, lite0) -> None:
    assert cpu_embedder.providers == ["CPUExecutionProvider"]
    assert cpu_embedder.device == "cpu" and cpu_embedder.fallback_reason is None
    assert cpu_embedder.model_id == lite0.model_id and cpu_embedder.dim == 1280
    assert cpu_embedder.preprocess == lite0.preprocess
    assert cpu_embedder.threads == 2
    assert isinstance(cpu_embedder, OnnxEmbedder)
    _: Embedder = cpu_embedder  # satisfies the protocol


def test_embeddings_are_unit_norm_deterministic_and_batch_independent(
    cpu_embedder, photos
) -> None:
    batch = cpu_embedder.embed(photos)
    assert batch.shape == (len(photos), 1280) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)

    np.testing.assert_array_equal(
        cpu_embedder.embed(photos[:1]), cpu_embedder.embed(photos[:1])
    )
    singles = np.concatenate(
        [cpu_embedder.embed(photos[i : i + 1]) for i in range(len(photos))]
    )
    assert np.abs(batch - singles).max() <= 1e-5

    # different photos really differ; the same photo twice in a batch gives the same vector
    sims = batch @ batch.T
    assert sims[np.triu_indices(len(photos), 1)].max() < 0.95
    twice = cpu_embedder.embed(np.stack([photos[2], photos[2]]))
    assert np.abs(twice[0] - twice[1]).max() <= 1e-6


def test_input_validation(cpu_embedder) -> None:
    assert cpu_embedder.embed(np.zeros((0, 3, 224, 224), np.float32)).shape == (0, 1280)
    with pytest.raises(ValueError, match="4-d"):
        cpu_embedder.embed(np.zeros((3, 224, 224), np.float32))
    with pytest.raises(ValueError, match="device"):
        OnnxEmbedder(cpu_embedder.info, device="tpu")
    # float64 input is accepted and cast
    out = cpu_embedder.embed(np.zeros((1, 3, 224, 224), np.float64))
    assert out.dtype == np.float32


def test_create_embedder_and_user_models(models_dir, tmp_path) -> None:
    emb = create_embedder(None, models_dir, device="cpu", threads=1)
    assert emb.dim == 1280 and emb.threads == 1
    assert emb.model_id.startswith("efficientnet-lite0-int8:")  # the default on CPU
    assert default_threads() >= 1

    onnx_file = make_tiny_model(tmp_path / "tiny.onnx")
    register_model("tiny", onnx_file, TINY_SPEC, "fmap", models_dir)
    tiny = create_embedder("tiny", models_dir, device="cpu")
    x = np.random.default_rng(0).random((3, 3, 8, 8), dtype=np.float32)
    out = tiny.embed(x)
    assert out.shape == (3, 4 * 8 * 8)  # 4-d output flattened, then normalised
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_model_with_batch_pinned_to_one_is_fed_one_by_one(tmp_path) -> None:
    onnx_file = make_tiny_model(tmp_path / "b1.onnx", batch=1)
    info = register_model("b1", onnx_file, TINY_SPEC, "feat", tmp_path)
    emb = OnnxEmbedder(info, device="cpu", threads=1)
    x = np.random.default_rng(1).random((4, 3, 8, 8), dtype=np.float32)
    out = emb.embed(x)
    assert out.shape == (4, 4)
    np.testing.assert_allclose(out[2], emb.embed(x[2:3])[0], atol=1e-6)
