"""``python -m photofind.packaging``: build the installable app (see ``build.py``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    if sys.version_info < (3, 11):
        sys.stderr.write("building photofind needs Python 3.11+ (tomllib)\n")
        return 2
    from photofind.packaging.build import build

    parser = argparse.ArgumentParser(
        prog="python -m photofind.packaging",
        description="Build the one-folder app with PyInstaller (and a .deb and .tar.gz on Linux).",
    )
    parser.add_argument(
        "--cuda",
        action="store_true",
        help="build with onnxruntime-gpu (NVIDIA CUDA 12 + cuDNN 9 on the target) "
        "instead of the CPU onnxruntime, in its own venv",
    )
    parser.add_argument(
        "--venv", type=Path, help="build venv (default build/venv-package[-cuda])"
    )
    parser.add_argument("--dist", type=Path, help="output folder (default dist/)")
    parser.add_argument(
        "--deb-compression",
        choices=("gzip", "xz"),
        default="gzip",
        help="gzip (fast, default) or xz (smaller .deb, minutes slower)",
    )
    parser.add_argument(
        "--no-installers", action="store_true", help="only the PyInstaller folder"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="[package] %(message)s", stream=sys.stderr
    )

    result = build(
        cuda=args.cuda,
        venv_dir=args.venv,
        dist_dir=args.dist,
        installers=not args.no_installers,
        deb_compression=args.deb_compression,
    )
    print(f"photofind {result.version}: {result.app_dir}")
    for path in result.artifacts:
        print(f"  {path}  ({path.stat().st_size / 1e6:.1f} MB)")
    print("  times: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
