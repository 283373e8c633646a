"""Models a packaged app ships already converted, and the manifest that lists them.

A packaged app (PyInstaller) ships its built-in models already converted, in a ``models/`` folder
with a ``manifest.json`` (name -> file, model id, dim, preprocessing, input/output names), found
through ``PHOTOFIND_BUNDLED_MODELS`` or next to the frozen executable. Bundled models are used
as they are, so the frozen app needs neither the weights packages nor the converters. The
manifest is written at build time by ``photofind.packaging.models``.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from photofind.core.models.model_json import (
    read_model_list,
    spec_from_json,
    spec_to_json,
)
from photofind.core.models.spec import ModelInfo

logger = logging.getLogger(__name__)

#: Folder of pre-converted models shipped with a packaged app (overrides the frozen default).
ENV_BUNDLED_MODELS = "PHOTOFIND_BUNDLED_MODELS"
BUNDLE_MANIFEST = "manifest.json"


def bundled_models_dir() -> Path | None:
    """Where a packaged app keeps its pre-converted models, or None when running from source.

    ``PHOTOFIND_BUNDLED_MODELS`` wins; a frozen (PyInstaller) app looks in ``models/`` of its
    bundle (``sys._MEIPASS``, which is the ``_internal`` folder of a one-folder build).
    """
    override = os.environ.get(ENV_BUNDLED_MODELS)
    if override:
        return Path(override)
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "models"
    return None


def bundle_manifest() -> dict[str, dict]:
    """Name -> manifest entry of the bundled models; empty when there is no (readable) bundle."""
    folder = bundled_models_dir()
    if folder is None:
        return {}
    return read_model_list(folder / BUNDLE_MANIFEST, "bundled model manifest")


def bundled_model(name: str) -> ModelInfo | None:
    """The pre-converted model ``name`` shipped with a packaged app, if there is one."""
    entry = bundle_manifest().get(name)
    if entry is None:
        return None
    path = bundled_models_dir() / entry["file"]  # type: ignore[operator]
    if not path.is_file():
        logger.warning("bundled model %s is listed but %s is missing", name, path)
        return None
    return ModelInfo(
        name=name,
        model_id=entry["model_id"],
        onnx_path=path,
        dim=int(entry["dim"]),
        preprocess=spec_from_json(entry["spec"]),
        input_name=entry.get("input_name"),
        output_name=entry.get("output_name"),
    )


def bundle_manifest_entry(info: ModelInfo, file_name: str) -> dict:
    """The manifest entry for ``info`` copied into a bundle as ``file_name`` (build time)."""
    return {
        "file": file_name,
        "model_id": info.model_id,
        "dim": info.dim,
        "spec": spec_to_json(info.preprocess),
        "input_name": info.input_name,
        "output_name": info.output_name,
    }
