"""The packaging helpers: one onnxruntime per build venv, the .deb layout, the version."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import photofind

pytest.importorskip("tomllib")  # building needs Python 3.11+

from photofind.packaging import linux
from photofind.packaging.build import build_requirements, read_version

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = REPO_ROOT / "pyproject.toml"


def _names(reqs: list[str]) -> list[str]:
    return [
        r.split(";")[0]
        .split(">")[0]
        .split("=")[0]
        .split("!")[0]
        .split("<")[0]
        .strip()
        .lower()
        for r in reqs
    ]


@pytest.mark.parametrize(
    "cuda, wanted", [(False, "onnxruntime"), (True, "onnxruntime-gpu")]
)
def test_build_venv_gets_exactly_one_onnxruntime(cuda: bool, wanted: str) -> None:
    reqs = build_requirements(PYPROJECT, cuda=cuda)
    names = _names(reqs)
    assert [n for n in names if n.startswith("onnxruntime")] == [wanted]
    ort = next(r for r in reqs if _names([r]) == [wanted])
    assert ";" not in ort and ">=" in ort  # marker dropped, version bound kept
    assert "pyinstaller" in names and "pyside6-essentials" in names and "onnx" in names


def test_version_comes_from_the_package() -> None:
    assert read_version(REPO_ROOT) == photofind.__version__


def _fake_app(tmp_path: Path) -> Path:
    app = tmp_path / "dist" / "photofind"
    (app / "_internal" / "models").mkdir(parents=True)
    exe = app / "photofind"
    exe.write_text("#!/bin/sh\necho photofind\n")
    exe.chmod(0o755)
    (app / "_internal" / "models" / "manifest.json").write_text("{}")
    return app


def test_deb_tree_layout(tmp_path: Path) -> None:
    app = _fake_app(tmp_path)
    stage = linux.stage_deb_tree(
        app, "1.2.3", REPO_ROOT / "resources", tmp_path / "stage"
    )
    assert (stage / "opt/photofind/photofind").is_file()
    assert (stage / "opt/photofind/_internal/models/manifest.json").is_file()
    link = stage / "usr/bin/photofind"
    assert link.is_symlink() and str(link.readlink()) == "/opt/photofind/photofind"
    assert (stage / "usr/share/applications/photofind.desktop").is_file()
    assert (stage / "usr/share/icons/hicolor/256x256/apps/photofind.png").is_file()
    assert (stage / "usr/share/icons/hicolor/scalable/apps/photofind.svg").is_file()
    control = (stage / "DEBIAN/control").read_text()
    assert "Package: photofind\n" in control and "Version: 1.2.3\n" in control
    assert control.endswith("\n") and "Depends: " in control


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb not installed")
def test_deb_and_tarball_are_valid(tmp_path: Path) -> None:
    app = _fake_app(tmp_path)
    deb = linux.make_deb(
        app, "1.2.3", tmp_path / "out", REPO_ROOT / "resources", tmp_path / "stage"
    )
    assert deb.name == f"photofind_1.2.3_{linux.deb_arch()}.deb"
    info = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Package", "Version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "photofind" in info and "1.2.3" in info
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert "./opt/photofind/photofind" in listing and "root/root" in listing
    assert "./usr/bin/photofind -> /opt/photofind/photofind" in listing

    tgz = linux.make_tarball(app, tmp_path / "out" / "photofind.tar.gz")
    with tarfile.open(tgz) as tar:
        assert "photofind/photofind" in tar.getnames()
