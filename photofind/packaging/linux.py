"""Linux installers for the one-folder app: a ``.tar.gz`` of the folder and a ``.deb``.

The ``.deb`` puts the folder in ``/opt/photofind``, links ``/usr/bin/photofind`` to it, and
installs the ``.desktop`` entry and the icons; no maintainer scripts (the desktop and icon caches
update through dpkg triggers). Standard library plus ``dpkg-deb``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tarfile
from pathlib import Path

PACKAGE = "photofind"
INSTALL_DIR = "/opt/photofind"
MAINTAINER = "photofind developers <photofind@users.noreply.github.com>"
DESCRIPTION = (
    "Find photos in your own collection by example\n"
    " Drop an image on the window and see your photos ranked by how much they look like it.\n"
    " Everything runs on your machine. Includes the photofind command line."
)
# What the bundled Qt needs from the system (PyInstaller leaves out what every desktop has).
DEPENDS = "libc6, libegl1, libgl1, libfontconfig1, libxkbcommon0, libdbus-1-3, libglib2.0-0 | libglib2.0-0t64"
# The X11 / Wayland windowing libraries: apt installs them with the package; on a desktop
# they are there already. (Recommends, so the package still installs on a headless machine.)
RECOMMENDS = (
    "libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, "
    "libxcb-randr0, libxcb-render-util0, libxcb-image0, libxcb-xinerama0, libwayland-client0, "
    "libwayland-cursor0, libwayland-egl1"
)


def machine() -> str:
    """``x86_64`` / ``aarch64``: the architecture name used in the tarball's file name."""
    return platform.machine() or "unknown"


def deb_arch() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine(), machine())


def have_dpkg_deb() -> bool:
    return shutil.which("dpkg-deb") is not None


def _folder_kib(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*")) // 1024


def make_tarball(app_dir: Path, out: Path) -> Path:
    """Write ``out`` (``.tar.gz``): the app folder as ``photofind/``, to unpack anywhere."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(app_dir, arcname=app_dir.name)
    os.replace(tmp, out)
    return out


def control_text(
    version: str, arch: str, installed_kib: int, cuda: bool = False
) -> str:
    depends = DEPENDS
    description = DESCRIPTION
    if cuda:  # onnxruntime-gpu loads the CUDA 12 and cuDNN 9 libraries at run time
        description += (
            "\n This build runs the model on NVIDIA GPUs (needs CUDA 12 and cuDNN 9)."
        )
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {depends}\n"
        f"Recommends: {RECOMMENDS}\n"
        "Section: graphics\n"
        "Priority: optional\n"
        "Homepage: https://github.com/photofind/photofind\n"
        f"Description: {description}\n"
    )


def stage_deb_tree(
    app_dir: Path, version: str, resources: Path, stage: Path, cuda: bool = False
) -> Path:
    """The file tree of the package under ``stage`` (which is replaced)."""
    if stage.exists():
        shutil.rmtree(stage)
    opt = stage / INSTALL_DIR.lstrip("/")
    try:  # hard links: the tree is only read by dpkg-deb, and 300 MB need not be copied
        shutil.copytree(app_dir, opt, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(opt, ignore_errors=True)
        shutil.copytree(app_dir, opt, symlinks=True)
    bin_dir = stage / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / PACKAGE).symlink_to(f"{INSTALL_DIR}/{PACKAGE}")
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copyfile(resources / "photofind.desktop", apps / "photofind.desktop")
    icons = stage / "usr" / "share" / "icons" / "hicolor"
    for src, sub in (("photofind.png", "256x256"), ("photofind.svg", "scalable")):
        if (resources / src).is_file():
            (icons / sub / "apps").mkdir(parents=True)
            shutil.copyfile(resources / src, icons / sub / "apps" / src)
    debian = stage / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(
        control_text(version, deb_arch(), _folder_kib(stage), cuda), encoding="utf-8"
    )
    for path in [
        stage,
        *stage.rglob("*"),
    ]:  # dpkg-deb wants sane modes (umask may differ)
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return stage


def make_deb(
    app_dir: Path,
    version: str,
    out_dir: Path,
    resources: Path,
    stage: Path,
    cuda: bool = False,
    compression: str = "gzip",
) -> Path:
    """Build ``photofind_VERSION_ARCH.deb`` in ``out_dir`` with ``dpkg-deb``.

    ``compression``: ``gzip`` (default: ~15 s on 2 cores, ~25 % bigger) or ``xz`` (smallest,
    but minutes for the 300 MB of Qt, onnxruntime and numpy).
    """
    stage_deb_tree(app_dir, version, resources, stage, cuda)
    name = f"{PACKAGE}{'-cuda' if cuda else ''}_{version}_{deb_arch()}.deb"
    out = out_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "dpkg-deb",
            "--root-owner-group",
            f"-Z{compression}",
            "--build",
            str(stage),
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(stage)
    return out
