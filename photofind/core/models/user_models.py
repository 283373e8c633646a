"""User-registered ONNX image models, kept in ``models_dir/registry.json``.

Any ONNX image model with one image input can be registered under a name. It is checked with a
dry run on a blank image, which also gives its embedding dimension. The file is referenced, not
copied: its sha256 is part of the model id, so if the file changes its model id changes, and if
it vanishes resolving the name fails.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock

from photofind.core.models.builtin_models import BUILTIN_NAMES
from photofind.core.models.errors import ModelNotAvailable
from photofind.core.models.model_ids import file_hash, spec_hash
from photofind.core.models.model_json import (
    read_model_list,
    spec_from_json,
    spec_to_json,
)
from photofind.core.models.spec import ModelInfo, PreprocessSpec

logger = logging.getLogger(__name__)

REGISTRY_FILE = "registry.json"


def _registry_path(models_dir: Path) -> Path:
    return Path(models_dir) / REGISTRY_FILE


def read_user_registry(models_dir: Path) -> dict[str, dict]:
    """Name -> entry of every registered model; an unreadable file counts as empty (logged)."""
    return read_model_list(_registry_path(models_dir), "model registry")


def _write_registry(models_dir: Path, data: dict[str, dict]) -> None:
    path = _registry_path(models_dir)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _dry_run(
    onnx_path: Path, spec: PreprocessSpec, output_name: str | None
) -> tuple[str, str, int]:
    """Run the model once on a blank image: returns (input name, output name, dim)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(
            str(onnx_path), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ValueError(f"{onnx_path} is not a loadable ONNX model: {exc}") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ValueError(
            f"{onnx_path} has {len(inputs)} inputs; an image model needs exactly one"
        )
    outputs = [o.name for o in session.get_outputs()]
    out = output_name or outputs[0]
    if out not in outputs:
        raise ValueError(f"{onnx_path} has no output {out!r} (outputs: {outputs})")
    s = spec.size
    shape = (1, 3, s, s) if spec.layout == "NCHW" else (1, s, s, 3)
    try:
        (y,) = session.run([out], {inputs[0].name: np.zeros(shape, np.float32)})
    except Exception as exc:
        raise ValueError(
            f"{onnx_path} does not accept a {spec.layout} image of shape {shape}: {exc}"
        ) from exc
    dim = int(np.prod(y.shape[1:]))
    if y.shape[0] != 1 or dim < 1:
        raise ValueError(f"output {out!r} has shape {y.shape}; expected (batch, dim)")
    return inputs[0].name, out, dim


def register_model(
    name: str,
    onnx_path: str | os.PathLike[str],
    spec: PreprocessSpec,
    output_name: str | None,
    models_dir: str | os.PathLike[str],
) -> ModelInfo:
    """Register a user ONNX image model under ``name`` (replacing an earlier one of that name).

    The model is checked with a dry run, which also gives its embedding dimension. The file is
    referenced, not copied: if it changes, its model id changes; if it vanishes, resolving fails.
    """
    if not name or name in BUILTIN_NAMES:
        raise ValueError(
            f"cannot register a model named {name!r} (empty or a built-in name)"
        )
    path = Path(onnx_path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    input_name, out, dim = _dry_run(path, spec, output_name)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    stat = path.stat()
    entry = {
        "onnx_path": str(path),
        "spec": spec_to_json(spec),
        "input_name": input_name,
        "output_name": out,
        "dim": dim,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": file_hash(path),
    }
    with FileLock(str(_registry_path(models_dir)) + ".lock"):
        data = read_user_registry(models_dir)
        data[name] = entry
        _write_registry(models_dir, data)
    logger.info("registered model %s (%s, dim %d)", name, path, dim)
    return user_model_info(name, entry)


def user_model_info(name: str, entry: dict) -> ModelInfo:
    """The registered model ``name`` from its registry entry (its file re-hashed if changed)."""
    path = Path(entry["onnx_path"])
    if not path.is_file():
        raise ModelNotAvailable(
            f"model {name!r}: its ONNX file {path} is gone; register it again"
        )
    stat = path.stat()
    digest = entry.get("sha256", "")
    if (stat.st_size, stat.st_mtime_ns) != (
        entry.get("size"),
        entry.get("mtime_ns"),
    ) or not digest:
        digest = file_hash(
            path
        )  # the file changed since registration: so does the model id
    spec = spec_from_json(entry["spec"])
    return ModelInfo(
        name=name,
        model_id=f"{name}:{digest[:12]}:user:{spec_hash(spec, entry['output_name'])}",
        onnx_path=path,
        dim=int(entry["dim"]),
        preprocess=spec,
        input_name=entry.get("input_name"),
        output_name=entry["output_name"],
    )
