"""Build-time step: convert the built-in models into a folder the packaged app ships.

Runs inside the build venv (it needs the weights package and the converter, which the packaged
app does not): ``python -m photofind.packaging.models OUT_DIR [NAME ...]``. ``OUT_DIR`` gets one
``.onnx`` per model plus ``manifest.json``, the format ``registry.bundled_models_dir()`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from photofind.core.models.registry import (
    BUNDLE_MANIFEST,
    DEFAULT_MODEL,
    ENV_BUNDLED_MODELS,
    LITE0_INT8,
    bundle_manifest_entry,
    resolve_model,
)

logger = logging.getLogger(__name__)


#: What a packaged app ships: the int8 model (the default on CPU) and the float32 one it was
#: made from (CUDA, and the searches of a library still moving to int8).
BUNDLED = (DEFAULT_MODEL, LITE0_INT8)


def stage_models(out_dir: Path, names: Sequence[str] = BUNDLED) -> Path:
    """Convert ``names`` with photofind's own converters into ``out_dir``; returns the manifest.

    The model ids are exactly those a source install computes, so a library indexed by one
    is searchable by the other.
    """
    if os.environ.get(ENV_BUNDLED_MODELS):
        raise RuntimeError(f"unset {ENV_BUNDLED_MODELS} to convert models for a bundle")
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    manifest: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="photofind-models-") as tmp:
        for name in names:
            info = resolve_model(name, tmp)
            target = out_dir / info.onnx_path.name
            shutil.copyfile(info.onnx_path, target)
            manifest[name] = bundle_manifest_entry(info, target.name)
            logger.info("bundled %s as %s (%s)", name, target.name, info.model_id)
    path = out_dir / BUNDLE_MANIFEST
    path.write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(
            "usage: python -m photofind.packaging.models OUT_DIR [NAME ...]\n"
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stage_models(Path(args[0]), args[1:] or BUNDLED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
