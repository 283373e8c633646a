"""What a model needs from the pipeline, declared as data.

A ``PreprocessSpec`` tells the decoder how to turn a photo into the model's input tensor;
a ``ModelInfo`` names a ready-to-run ONNX file and everything needed to interpret it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class PreprocessSpec:
    """How a decoded RGB photo becomes one input tensor.

    ``mean`` and ``std`` are in 0..255 units and apply per channel in ``channel_order``:
    ``x = (pixel - mean) / std``. ``resize`` is ``"center_crop"`` (shorter side to ``size``,
    then the central ``size`` x ``size`` square) or ``"squash"`` (whole image to
    ``size`` x ``size``, aspect ratio not kept).
    """

    size: int = 224
    resize: Literal["center_crop", "squash"] = "center_crop"
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)
    std: tuple[float, float, float] = (128.0, 128.0, 128.0)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    layout: Literal["NCHW", "NHWC"] = "NCHW"


@dataclass(frozen=True)
class ModelInfo:
    """A model ready to run: the ONNX file, its output, its preprocessing and its identity.

    ``model_id`` is stored with every embedding; it changes whenever the weights, the graph
    converter or the preprocessing change, so stale embeddings are never mixed with new ones.
    """

    name: str
    model_id: str
    onnx_path: Path
    dim: int
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    input_name: str | None = None
    output_name: str | None = None
