"""The int8 variant of the default model: made deterministically from committed ranges, close to
float32 on real photos, the default on CPU, and searchable through its float32 predecessors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from photofind.core.images.decode import load_for_model
from photofind.core.models import quantize
from photofind.core.models.embedder import OnnxEmbedder
from photofind.core.models.registry import (
    DEFAULT_MODEL,
    LITE0_INT8,
    default_model_name,
    previous_variants,
    resolve_model,
)
from photofind.core.models.spec import ModelInfo


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def int8(models_dir: Path) -> ModelInfo:
    return resolve_model(LITE0_INT8, models_dir)


@pytest.fixture(scope="module")
def float32(models_dir: Path, int8: ModelInfo) -> ModelInfo:
    return resolve_model(DEFAULT_MODEL, models_dir)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_give_identical_bytes(int8: ModelInfo, float32: ModelInfo, tmp_path: Path) -> None:
    again = tmp_path / "again.onnx"
    quantize.quantize_lite0(float32.onnx_path, again)
    assert _sha(again) == _sha(int8.onnx_path)
    # the id names the weights, the converter, the quantiser and the committed ranges
    assert int8.model_id.startswith(f"{LITE0_INT8}:{float32.model_id.split(':')[1]}:v1q")
    assert quantize.calibration_hash() in int8.model_id
    assert int8.onnx_path.stat().st_size < float32.onnx_path.stat().st_size / 3


def test_int8_embeddings_stay_close_to_float32_on_real_photos(
    int8: ModelInfo, float32: ModelInfo, corel_dir: Path, ukbench_dir: Path
) -> None:
    photos = sorted((corel_dir / "images").glob("*.jpg"))[3::50] + sorted(
        (ukbench_dir / "images").glob("*.jpg")
    )[9::50]
    batch = np.stack([load_for_model(str(p), int8.preprocess) for p in photos])
    a = OnnxEmbedder(float32, device="cpu").embed(batch)
    b = OnnxEmbedder(int8, device="cpu").embed(batch)
    cos = (a * b).sum(axis=1)
    # measured: mean 0.993, min 0.975 on 40 such photos
    assert cos.mean() > 0.985 and cos.min() > 0.95, (cos.mean(), cos.min())
    # each photo's nearest other photo is the same under both models for nearly all photos
    sa, sb = a @ a.T, b @ b.T
    np.fill_diagonal(sa, -1)
    np.fill_diagonal(sb, -1)
    assert (sa.argmax(1) == sb.argmax(1)).mean() >= 0.9


def test_int8_searches_through_its_float32_predecessors(int8: ModelInfo, float32: ModelInfo) -> None:
    newest, older = previous_variants(int8)
    assert newest.model_id == float32.model_id and newest.onnx_path == float32.onnx_path
    assert newest.onnx_path.is_file()
    assert older.preprocess.size == 224 and older.onnx_path == float32.onnx_path


def test_default_is_int8_on_cpu_float32_on_cuda_and_a_library_keeps_int8() -> None:
    assert default_model_name("cpu") == LITE0_INT8
    assert default_model_name("cuda") == DEFAULT_MODEL
    assert default_model_name("cuda", lambda name: name == LITE0_INT8) == LITE0_INT8
    assert default_model_name("cpu", lambda name: name == DEFAULT_MODEL) == LITE0_INT8
