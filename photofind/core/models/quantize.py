"""The int8 variant of the default model: static QDQ quantisation with onnxruntime.

The float32 EfficientNet-Lite0 graph (``efficientnet_lite.py``) becomes an int8 one with
``onnxruntime.quantization``: ``quant_pre_process`` (shape inference; graph optimisation skipped,
so tensor names stay the converter's), then ``quantize_static`` in QDQ format with uint8
activations and int8 weights quantised per output channel, MinMax ranges.

Deterministic and offline: the activation ranges were computed once from real photos
(``python -m photofind.core.models.quantize calibrate``, from ``../shared/data``) and ship in
``lite0_int8_calibration.json`` beside this module (an onnxruntime calibration cache: per tensor
min/max, no photos). Building the int8 model reads that file through ``quantize_static``'s
``calibration_cache_path``, so no calibration inference runs and every machine with the same
float32 model and onnxruntime produces the same bytes. The ranges' hash is part of the int8
model id, so re-calibrating keeps old and new vectors apart.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: The committed calibration cache (per-tensor activation ranges of the 288 px float32 graph).
CALIBRATION_FILE = Path(__file__).with_name("lite0_int8_calibration.json")
#: Bump whenever the quantisation recipe below changes (part of the int8 model id).
QUANTIZER_VERSION = 1
#: Photos per calibration batch (only per-tensor min/max are kept between batches).
_CALIB_BATCH = 8
#: What is quantised: the convolutions and the residual adds (ReLU6 clips follow their conv's
#: range). Global average pooling stays float32: its uint8 output would round the embedding.
QUANT_OPTIONS: dict[str, object] = {"op_types_to_quantize": ["Conv", "Add", "Clip"]}


def calibration_hash(path: Path = CALIBRATION_FILE) -> str:
    """Short hash of the calibration cache (part of the int8 model id and file name)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def quantize_lite0(
    float_model: str | Path,
    out_path: str | Path,
    calibration: Path = CALIBRATION_FILE,
    **options: object,
) -> None:
    """Write the int8 QDQ model for ``float_model`` to ``out_path`` (atomically) from the
    committed ranges in ``calibration``. No photos are read."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    from photofind.core.models.efficientnet_lite import write_model_atomically

    import onnx

    from photofind.core.models.errors import ModelNotAvailable

    if not calibration.is_file():
        raise ModelNotAvailable(f"the int8 model's calibration ranges are missing: {calibration}")
    if "calibration_cache_path" not in inspect.signature(quantize_static).parameters:
        raise ModelNotAvailable(
            "the int8 model needs onnxruntime >= 1.31 (quantize_static's calibration_cache_path)"
        )
    with tempfile.TemporaryDirectory(prefix="photofind-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(float_model), str(pre), skip_optimization=True)
        cache = Path(tmp) / "calibration.json"  # a copy: quantize_static never writes ours
        shutil.copyfile(calibration, cache)
        out_tmp = Path(tmp) / "int8.onnx"
        quantize_static(
            str(pre),
            str(out_tmp),
            calibration_data_reader=None,
            calibration_cache_path=str(cache),
            **{
                "quant_format": QuantFormat.QDQ,
                "activation_type": QuantType.QUInt8,
                "weight_type": QuantType.QInt8,
                "per_channel": True,
                "calibrate_method": CalibrationMethod.MinMax,
                **QUANT_OPTIONS,
                **options,
            },
        )
        model = onnx.load(str(out_tmp))
    onnx.helper.set_model_props(
        model,
        {
            "photofind.quantizer_version": str(QUANTIZER_VERSION),
            "photofind.calibration": calibration_hash(calibration),
        },
    )
    write_model_atomically(model, out_path)
    logger.info("quantised %s -> %s (int8 QDQ, per-channel weights)", float_model, out_path)


# --- calibration (run once by a developer; needs the benchmark photos) -----------------------


def calibration_photos(data_dir: Path, per_set: int = 100) -> list[Path]:
    """An evenly spaced, sorted sample of ``per_set`` photos from each set in ``data_dir``."""
    photos: list[Path] = []
    for name in ("corel1k", "ukbench1000"):
        files = sorted((data_dir / name / "images").iterdir())
        step = max(1, len(files) // per_set)
        photos += files[::step][:per_set]
    return photos


class _PhotoReader:
    """A ``CalibrationDataReader``: batches of preprocessed photos, in a fixed order."""

    def __init__(self, photos: Sequence[Path], input_name: str) -> None:
        from photofind.core.images.decode import load_for_model
        from photofind.core.models.builtin_models import LITE0_PREPROCESS

        self._batches: Iterator[dict[str, np.ndarray]] = (
            {
                input_name: np.stack(
                    [load_for_model(str(p), LITE0_PREPROCESS) for p in photos[i : i + _CALIB_BATCH]]
                )
            }
            for i in range(0, len(photos), _CALIB_BATCH)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def calibrate(float_model: Path, photos: Sequence[Path], out_json: Path) -> None:
    """Compute MinMax activation ranges of ``float_model`` over ``photos`` into ``out_json``."""
    from onnxruntime.quantization import CalibrationMethod, quant_pre_process
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    from photofind.core.models.efficientnet_lite import INPUT_NAME

    with tempfile.TemporaryDirectory(prefix="photofind-calib-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(float_model), str(pre), skip_optimization=True)
        calibrator = create_calibrator(
            pre,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"max_intermediate_outputs": 4},
        )
        calibrator.collect_data(_PhotoReader(photos, INPUT_NAME))
        ranges = calibrator.compute_data()
        save_tensors_data(ranges, out_json)
    # sorted keys: the same ranges always give the same file (and model id)
    payload = json.loads(out_json.read_text())
    out_json.write_text(json.dumps(payload, sort_keys=True, indent=0) + "\n")
    logger.info("calibrated %d tensors on %d photos -> %s", len(ranges.data), len(photos), out_json)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m photofind.core.models.quantize",
        description="Recompute the int8 calibration ranges from the benchmark photos.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cal = sub.add_parser("calibrate", help="write lite0_int8_calibration.json")
    default_data = Path(__file__).resolve().parents[4] / "shared" / "data"
    cal.add_argument("--data", type=Path, default=default_data, help=f"(default {default_data})")
    cal.add_argument("--per-set", type=int, default=100, help="photos per data set (default 100)")
    cal.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    cal.add_argument("--models-dir", type=Path, help="where the float32 model is converted")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from photofind.config import get_paths
    from photofind.core.models.builtin_models import DEFAULT_MODEL, load_builtins, prepare_builtin

    models_dir = args.models_dir or get_paths().models_dir
    info = prepare_builtin(load_builtins()[DEFAULT_MODEL], Path(models_dir))
    photos = calibration_photos(args.data, args.per_set)
    calibrate(info.onnx_path, photos, args.out)
    sys.stdout.write(f"{args.out}: ranges from {len(photos)} photos of {args.data} (hash {calibration_hash(args.out)})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
