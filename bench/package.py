"""Package sizes and the built app's start-up times.

    python3 bench/package.py [--app dist/photofind/photofind] [--dist dist] [--repeat 5]

Prints the size of the one-folder app, the ``.tar.gz`` and the ``.deb``, then how long the
built executable takes for ``--version`` and for the GUI ``--smoke-test`` (offscreen; the
window stays up for a fixed 1.5 s of that, see ``photofind.gui.app.SMOKE_TEST_MS``), each with
a fresh ``PHOTOFIND_DATA_DIR`` (a first start). "cold" runs after dropping the page cache
(needs root; otherwise only warm figures are printed), "warm" is the median of ``--repeat`` runs.
Standard library only, so any python3 can run it against a build.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def folder_size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_dir())


def drop_page_cache() -> bool:
    """Flush the page cache so the next start reads everything from disk (root only)."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def time_run(cmd: list[str], env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="photofind-bench-") as data:
        start = time.perf_counter()
        subprocess.run(
            cmd,
            env={**env, "PHOTOFIND_DATA_DIR": data},
            check=True,
            cwd=data,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument(
        "--app",
        type=Path,
        help="the built executable (default DIST/photofind/photofind)",
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    app = args.app or args.dist / "photofind" / (
        "photofind.exe" if os.name == "nt" else "photofind"
    )
    if not app.is_file():
        sys.stderr.write(f"no built app at {app}: run python -m photofind.packaging\n")
        return 1

    print("package sizes")
    print(f"  app folder   {folder_size(app.parent) / 1e6:7.1f} MB  {app.parent}")
    for label, pattern in (("tar.gz", "photofind*.tar.gz"), (".deb", "photofind*.deb")):
        for path in sorted(args.dist.glob(pattern)):
            print(f"  {label:<12} {path.stat().st_size / 1e6:7.1f} MB  {path.name}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOFIND_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    cases = {
        "--version": [str(app), "--version"],
        "--smoke-test (GUI)": [str(app), "--smoke-test"],
    }
    print(f"start-up times (s; warm = median of {args.repeat})")
    for label, cmd in cases.items():
        cold = time_run(cmd, env) if drop_page_cache() else None
        warm = [time_run(cmd, env) for _ in range(args.repeat)]
        cold_text = f"cold {cold:5.2f}" if cold is not None else "cold   n/a (not root)"
        print(
            f"  {label:<18} {cold_text}   warm {statistics.median(warm):5.2f}  (min {min(warm):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
