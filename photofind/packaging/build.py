"""The build pipeline behind ``python -m photofind.packaging`` (standard library only).

1. A build venv of its own (``build/venv-package``, or ``build/venv-package-cuda``) with
   photofind (``-e . --no-deps``), its dependencies from ``pyproject.toml`` with exactly one
   onnxruntime (the CPU build, or ``onnxruntime-gpu`` for ``--cuda``: never both in one
   environment), and the ``package`` extra (PyInstaller).
2. The built-in model converted by photofind's own converter into ``build/bundle-models``.
3. PyInstaller with ``build.spec``: ``dist/photofind/`` (one folder).
4. On Linux: ``dist/photofind-VERSION-linux-ARCH.tar.gz`` and, where ``dpkg-deb`` exists,
   ``dist/photofind_VERSION_ARCH.deb``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ORT_CPU, ORT_GPU = "onnxruntime", "onnxruntime-gpu"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def read_version(root: Path = ROOT) -> str:
    """``photofind.__version__``, read from the source (the one place the version lives)."""
    text = (root / "photofind" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise RuntimeError("photofind/__init__.py has no __version__")
    return match.group(1)


def build_requirements(pyproject: Path, cuda: bool = False) -> list[str]:
    """The build venv's requirements: the app's dependencies with exactly one onnxruntime.

    The platform-dependent onnxruntime / onnxruntime-gpu pair of ``pyproject.toml`` is replaced
    by the one asked for (keeping its version bound), then the ``package`` extra is added.
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = ORT_GPU if cuda else ORT_CPU
    reqs: list[str] = []
    ort_bound = ""
    for req in project["dependencies"]:
        match = _NAME.match(req)
        name = match.group(1).lower().replace("_", "-") if match else ""
        if name in (ORT_CPU, ORT_GPU):
            spec = req.split(";", 1)[0][match.end() :].strip()  # type: ignore[union-attr]
            ort_bound = ort_bound or spec
            continue
        reqs.append(req)
    reqs.append(f"{wanted}{ort_bound}")
    reqs += project.get("optional-dependencies", {}).get("package", [])
    return reqs


@dataclass
class BuildResult:
    app_dir: Path
    version: str
    artifacts: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(cmd: list[str | os.PathLike[str]], **kwargs: object) -> None:
    logger.info("$ %s", " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


def ensure_build_venv(venv_dir: Path, cuda: bool = False, root: Path = ROOT) -> Path:
    """Create (or update) the build venv; returns its python."""
    python = _venv_python(venv_dir)
    if not python.exists():
        logger.info("creating build venv %s", venv_dir)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    other = ORT_CPU if cuda else ORT_GPU
    probe = subprocess.run(
        [str(python), "-m", "pip", "show", "-q", other],
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        raise RuntimeError(
            f"{venv_dir} already has {other}; onnxruntime and onnxruntime-gpu must never share "
            "an environment: delete it or use another --venv"
        )
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    _run([*pip, *build_requirements(root / "pyproject.toml", cuda)])
    _run([*pip, "--no-deps", "-e", root])
    return python


def build(
    *,
    cuda: bool = False,
    venv_dir: Path | None = None,
    dist_dir: Path | None = None,
    work_dir: Path | None = None,
    installers: bool = True,
    deb_compression: str = "gzip",
    root: Path = ROOT,
) -> BuildResult:
    """Run the whole build; see the module docstring."""
    venv_dir = venv_dir or root / "build" / (
        "venv-package-cuda" if cuda else "venv-package"
    )
    dist_dir = dist_dir or root / "dist"
    work_dir = work_dir or root / "build"
    version = read_version(root)
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    python = ensure_build_venv(venv_dir, cuda, root)
    seconds["venv"] = time.perf_counter() - t

    t = time.perf_counter()
    models_dir = work_dir / "bundle-models"
    env = {k: v for k, v in os.environ.items() if k != "PHOTOFIND_BUNDLED_MODELS"}
    _run([python, "-m", "photofind.packaging.models", models_dir], cwd=root, env=env)
    seconds["model"] = time.perf_counter() - t

    t = time.perf_counter()
    env["PHOTOFIND_BUNDLE_MODELS_SRC"] = str(models_dir)
    _run(
        [
            python,
            "-m",
            "PyInstaller",
            root / "build.spec",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            dist_dir,
            "--workpath",
            work_dir / "pyinstaller",
        ],
        cwd=root,
        env=env,
    )
    seconds["pyinstaller"] = time.perf_counter() - t
    app_dir = dist_dir / ("photofind.app" if sys.platform == "darwin" else "photofind")
    result = BuildResult(app_dir=app_dir, version=version, seconds=seconds)

    if installers and sys.platform.startswith("linux"):
        from photofind.packaging import linux

        variant = "-cuda" if cuda else ""
        t = time.perf_counter()
        result.artifacts.append(
            linux.make_tarball(
                app_dir,
                dist_dir
                / f"photofind-{version}{variant}-linux-{linux.machine()}.tar.gz",
            )
        )
        seconds["tar.gz"] = time.perf_counter() - t
        if linux.have_dpkg_deb():
            t = time.perf_counter()
            result.artifacts.append(
                linux.make_deb(
                    app_dir,
                    version,
                    dist_dir,
                    root / "resources",
                    work_dir / "deb",
                    cuda=cuda,
                    compression=deb_compression,
                )
            )
            seconds["deb"] = time.perf_counter() - t
        else:
            logger.warning("dpkg-deb not found: no .deb made")
    return result
