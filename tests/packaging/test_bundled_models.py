"""A packaged app finds its pre-converted model and never needs the converter (or onnx)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from photofind.core.models import registry
from photofind.core.models.registry import (
    DEFAULT_MODEL,
    LITE0_INT8,
    ENV_BUNDLED_MODELS,
    ModelNotAvailable,
    available_models,
    resolve_model,
)
from photofind.packaging.models import stage_models

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The default model staged the way the build does it (real converter)."""
    out = tmp_path_factory.mktemp("bundle") / "models"
    stage_models(out)
    return out


def test_staged_bundle_holds_the_model_and_a_manifest(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert list(manifest) == [DEFAULT_MODEL, LITE0_INT8]
    entry = manifest[DEFAULT_MODEL]
    assert (bundle / entry["file"]).is_file() and entry["file"].endswith(".onnx")
    assert entry["dim"] == 1280 and entry["output_name"] == "embedding"


def test_bundled_model_has_the_same_identity_as_a_converted_one(
    bundle: Path, tmp_path: Path, monkeypatch
) -> None:
    converted = resolve_model(None, tmp_path / "converted")
    monkeypatch.setenv(ENV_BUNDLED_MODELS, str(bundle))
    models_dir = tmp_path / "user-models"
    bundled = resolve_model(None, models_dir)
    assert (
        bundled.onnx_path.parent == bundle
    )  # used in place: nothing written to models_dir
    assert not models_dir.exists()
    assert (
        bundled.model_id,
        bundled.dim,
        bundled.preprocess,
        bundled.input_name,
        bundled.output_name,
    ) == (
        converted.model_id,
        converted.dim,
        converted.preprocess,
        converted.input_name,
        converted.output_name,
    )
    assert bundled.onnx_path.read_bytes() == converted.onnx_path.read_bytes()
    assert DEFAULT_MODEL in available_models(models_dir)


def test_bundled_model_is_used_without_the_converter(
    bundle: Path, tmp_path: Path, monkeypatch
) -> None:
    def no_converter() -> dict:
        raise ImportError(
            "No module named 'onnx'"
        )  # what a frozen app without onnx sees

    monkeypatch.setenv(ENV_BUNDLED_MODELS, str(bundle))
    monkeypatch.setattr(registry, "_builtins", no_converter)
    assert resolve_model(DEFAULT_MODEL, tmp_path).onnx_path.parent == bundle
    int8 = resolve_model(LITE0_INT8, tmp_path)
    assert int8.onnx_path.parent == bundle
    # the int8 model's float32 predecessor (searches during an upgrade) is the bundled file too
    assert registry.previous_variants(int8)[0].onnx_path == resolve_model(DEFAULT_MODEL, tmp_path).onnx_path
    assert available_models(tmp_path) == [DEFAULT_MODEL, LITE0_INT8]
    with pytest.raises(ModelNotAvailable, match="not bundled"):
        resolve_model("opennsfw", tmp_path)


def test_missing_bundled_file_falls_back_to_converting(
    tmp_path: Path, monkeypatch
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text(
        json.dumps({DEFAULT_MODEL: {"file": "gone.onnx"}})
    )
    monkeypatch.setenv(ENV_BUNDLED_MODELS, str(bundle))
    info = resolve_model(None, tmp_path / "models")
    assert info.onnx_path.parent == tmp_path / "models"


def test_cli_import_does_not_import_onnx() -> None:
    code = "import sys, photofind.cli, photofind.core.library; print('onnx' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != ENV_BUNDLED_MODELS}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env=env,
    )
    assert out.stdout.strip() == "False"
