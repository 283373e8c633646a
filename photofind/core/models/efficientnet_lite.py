"""Build an ONNX graph of EfficientNet-Lite0 from its PyTorch state dict, without torch.

The architecture mirrors the ``efficientnet-lite-pytorch`` package (lukemelas' EfficientNet
port with the Lite changes): no squeeze-excitation, ReLU6 everywhere, fixed stem (32) and head
(1280), TF-style "SAME" padding, batch-norm eps 1e-3. Batch norm is folded into the preceding
convolution, so the graph is just Conv / Clip / Add plus the pooling at the end.

Graph interface:

* input ``image``: float32 NCHW ``[N, 3, H, W]`` (224 x 224 is what the weights were trained
  for; batch, height and width are dynamic), preprocessed as ``(rgb - 127) / 128``;
* output ``embedding``: float32 ``[N, 1280]``, the global-average-pooled features *before* the
  classifier (dropout and fc are dropped). It is NOT L2-normalised: ``OnnxEmbedder``
  normalises every model's output, so built-in and user models behave the same;
* output ``feature_map``: float32 ``[N, 1280, h, w]``, the last feature map before pooling
  (h = ceil(H / 32)), for GeM / multi-scale pooling.

Padding uses ``auto_pad="SAME_UPPER"``, which is exactly the package's dynamic "SAME" padding
(extra pixel at the bottom/right) and stays correct for any input size.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from photofind.core.models.lazy_import import lazy_import

from photofind.core.models.torch_pickle import load_legacy_state_dict

onnx = lazy_import("onnx")  # loaded only when a conversion runs (see lazy_import.py)

logger = logging.getLogger(__name__)

#: Bump whenever the produced graph could change numerically (invalidates stored embeddings).
CONVERTER_VERSION = 1
OPSET = 13
INPUT_NAME = "image"
OUTPUT_NAME = "embedding"
FEATURE_MAP_NAME = "feature_map"
EMBEDDING_DIM = 1280
BN_EPS = 1e-3


@dataclass(frozen=True)
class _Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int


# efficientnet_lite() block strings 'r1_k3_s11_e1_i32_o16', ... at width = depth = 1.0 (Lite0).
LITE0_STAGES: tuple[_Stage, ...] = (
    _Stage(1, 3, 1, 1, 32, 16),
    _Stage(2, 3, 2, 6, 16, 24),
    _Stage(2, 5, 2, 6, 24, 40),
    _Stage(3, 3, 2, 6, 40, 80),
    _Stage(3, 5, 1, 6, 80, 112),
    _Stage(4, 5, 2, 6, 112, 192),
    _Stage(1, 3, 1, 6, 192, 320),
)
STEM_CH = 32


class _GraphBuilder:
    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.state = state
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.used: set[str] = set()
        self._clip_min = "relu6_min"
        self._clip_max = "relu6_max"
        self.inits.append(
            onnx.numpy_helper.from_array(np.array(0.0, np.float32), self._clip_min)
        )
        self.inits.append(
            onnx.numpy_helper.from_array(np.array(6.0, np.float32), self._clip_max)
        )

    def _get(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        try:
            arr = self.state[key]
        except KeyError:
            raise ValueError(
                f"weights file lacks {key!r}: not an EfficientNet-Lite0 state dict"
            ) from None
        if tuple(arr.shape) != shape:
            raise ValueError(f"{key}: shape {tuple(arr.shape)}, expected {shape}")
        self.used.add(key)
        return arr

    def conv_bn(
        self,
        x: str,
        conv: str,
        bn: str,
        out_ch: int,
        in_ch: int,
        k: int,
        stride: int,
        groups: int,
        act: bool,
    ) -> str:
        """Conv (no bias) + BatchNorm (folded) [+ ReLU6]; returns the output name."""
        w = self._get(f"{conv}.weight", (out_ch, in_ch // groups, k, k)).astype(
            np.float64
        )
        gamma = self._get(f"{bn}.weight", (out_ch,)).astype(np.float64)
        beta = self._get(f"{bn}.bias", (out_ch,)).astype(np.float64)
        mean = self._get(f"{bn}.running_mean", (out_ch,)).astype(np.float64)
        var = self._get(f"{bn}.running_var", (out_ch,)).astype(np.float64)
        self.used.add(f"{bn}.num_batches_tracked")
        scale = gamma / np.sqrt(var + BN_EPS)
        w_f = (w * scale[:, None, None, None]).astype(np.float32)
        b_f = (beta - mean * scale).astype(np.float32)
        self.inits.append(onnx.numpy_helper.from_array(w_f, f"{conv}.w"))
        self.inits.append(onnx.numpy_helper.from_array(b_f, f"{conv}.b"))
        y = f"{conv}.out"
        attrs: dict[str, object] = {
            "kernel_shape": [k, k],
            "strides": [stride, stride],
            "group": groups,
        }
        if k > 1 or stride > 1:
            attrs["auto_pad"] = "SAME_UPPER"
        self.nodes.append(
            onnx.helper.make_node(
                "Conv", [x, f"{conv}.w", f"{conv}.b"], [y], name=conv, **attrs
            )
        )
        if not act:
            return y
        z = f"{conv}.relu6"
        self.nodes.append(
            onnx.helper.make_node(
                "Clip", [y, self._clip_min, self._clip_max], [z], name=f"{conv}.clip"
            )
        )
        return z


def build_lite0_graph(state: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The ONNX model (see module docstring for its interface) for a Lite0 state dict."""
    g = _GraphBuilder(state)
    x = g.conv_bn(INPUT_NAME, "_conv_stem", "_bn0", STEM_CH, 3, 3, 2, 1, act=True)
    idx = 0
    for stage in LITE0_STAGES:
        for r in range(stage.repeats):
            in_ch = stage.in_ch if r == 0 else stage.out_ch
            stride = stage.stride if r == 0 else 1
            mid = in_ch * stage.expand
            p = f"_blocks.{idx}"
            h = x
            if stage.expand != 1:
                h = g.conv_bn(
                    h, f"{p}._expand_conv", f"{p}._bn0", mid, in_ch, 1, 1, 1, act=True
                )
            h = g.conv_bn(
                h,
                f"{p}._depthwise_conv",
                f"{p}._bn1",
                mid,
                mid,
                stage.kernel,
                stride,
                mid,
                act=True,
            )
            h = g.conv_bn(
                h,
                f"{p}._project_conv",
                f"{p}._bn2",
                stage.out_ch,
                mid,
                1,
                1,
                1,
                act=False,
            )
            # The package skips only on repeats: the first block of a stage has stride [s] (a
            # list), which never equals 1 in its `stride == 1` test, and changes width anyway.
            if r > 0:
                y = f"{p}.add"
                g.nodes.append(onnx.helper.make_node("Add", [h, x], [y], name=f"{p}.add"))
                h = y
            x = h
            idx += 1
    last_ch = LITE0_STAGES[-1].out_ch
    head = g.conv_bn(x, "_conv_head", "_bn1", EMBEDDING_DIM, last_ch, 1, 1, 1, act=True)
    g.nodes.append(
        onnx.helper.make_node("Identity", [head], [FEATURE_MAP_NAME], name="feature_map")
    )
    g.nodes.append(
        onnx.helper.make_node("GlobalAveragePool", [head], ["pooled4d"], name="avg_pool")
    )
    g.nodes.append(
        onnx.helper.make_node("Flatten", ["pooled4d"], [OUTPUT_NAME], name="flatten", axis=1)
    )

    leftover = set(state) - g.used - {"_fc.weight", "_fc.bias"}
    if leftover:
        raise ValueError(
            f"weights not used by the Lite0 graph (wrong architecture?): {sorted(leftover)[:5]}"
        )

    graph = onnx.helper.make_graph(
        g.nodes,
        "efficientnet_lite0_features",
        [
            onnx.helper.make_tensor_value_info(
                INPUT_NAME, onnx.TensorProto.FLOAT, ["batch", 3, "height", "width"]
            )
        ],
        [
            onnx.helper.make_tensor_value_info(
                OUTPUT_NAME, onnx.TensorProto.FLOAT, ["batch", EMBEDDING_DIM]
            ),
            onnx.helper.make_tensor_value_info(
                FEATURE_MAP_NAME,
                onnx.TensorProto.FLOAT,
                ["batch", EMBEDDING_DIM, "fm_height", "fm_width"],
            ),
        ],
        initializer=g.inits,
    )
    model = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="photofind",
        producer_version=str(CONVERTER_VERSION),
    )
    model.ir_version = 8  # readable by every onnxruntime >= 1.11
    onnx.helper.set_model_props(
        model, {"photofind.converter_version": str(CONVERTER_VERSION)}
    )
    onnx.checker.check_model(model)
    return model


def write_model_atomically(
    model: onnx.ModelProto, out_path: str | os.PathLike[str]
) -> None:
    """Serialise ``model`` to a temp file beside ``out_path``, then ``os.replace`` it in.

    Two processes converting at once each write their own temp file; the last replace wins and
    readers never see a half-written file.
    """
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def convert_efficientnet_lite0(
    weights_path: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> None:
    """Read the packaged ``.pth`` and write the feature-extractor ONNX to ``out_path``."""
    state = load_legacy_state_dict(weights_path)
    model = build_lite0_graph(state)
    write_model_atomically(model, out_path)
    logger.info("converted EfficientNet-Lite0 weights %s -> %s", weights_path, out_path)
