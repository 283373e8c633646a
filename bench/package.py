"""Package sizes and the built app's start-up times.

    python3 bench/package.py [--app dist/photofind/photofind] [--dist dist] [--repeat 5]

Prints the size of the one-folder app, the ``.tar.gz`` and the ``.deb``, then how long the
built executable takes for ``--version``, for the GUI ``--smoke-test`` to show its window
(launch to the first turn of the event loop with the window up: the start-up a user waits for),
and for the whole smoke test (the window stays up a fixed 1.5 s of that, see
``photofind.gui.app.SMOKE_TEST_MS``), each with a fresh ``PHOTOFIND_DATA_DIR`` (a first start). "cold" runs after dropping the page cache
(needs root; otherwise only warm figures are printed; the median of ``--cold-repeat`` runs, each
printed), "warm" is the median of ``--repeat`` runs.
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


#: what ``--smoke-test`` prints once its window is up (photofind.gui.app.SMOKE_SHOWN_PREFIX)
SHOWN_PREFIX = "smoke test: window shown at monotonic "
#: and, just before it, each start-up step it timed (photofind.gui.app.SMOKE_STEP_PREFIX)
STEP_PREFIX = "smoke test: step "


def time_run(cmd: list[str], env: dict[str, str]) -> tuple[float, float | None, dict[str, float]]:
    """Seconds the command took, seconds from launch until it said its window was up, and
    seconds from launch to the end of each start-up step it reported (builds that report them)."""
    with tempfile.TemporaryDirectory(prefix="photofind-bench-") as data:
        start = time.monotonic()
        proc = subprocess.run(
            cmd,
            env={**env, "PHOTOFIND_DATA_DIR": data},
            check=True,
            cwd=data,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=120,
        )
        total = time.monotonic() - start
        shown = [
            float(line[len(SHOWN_PREFIX):]) - start
            for line in proc.stdout.splitlines()
            if line.startswith(SHOWN_PREFIX)
        ]
        steps = {}
        for line in proc.stdout.splitlines():
            if line.startswith(STEP_PREFIX):
                name, _, at = line[len(STEP_PREFIX):].rpartition(" at monotonic ")
                steps[name] = float(at) - start
        return total, (shown[0] if shown else None), steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument(
        "--app",
        type=Path,
        help="the built executable (default DIST/photofind/photofind)",
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cold-repeat", type=int, default=3, help="cold runs (each after dropping the page cache)")
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
    print(f"start-up times (s; cold = median of {args.cold_repeat}, each after dropping the page cache; "
          f"warm = median of {args.repeat})")
    for label, cmd in cases.items():
        colds = []
        for _ in range(args.cold_repeat):
            if not drop_page_cache():
                break
            colds.append(time_run(cmd, env))
        warm = [time_run(cmd, env) for _ in range(args.repeat)]
        rows = [(label, 0)]
        if label.startswith("--smoke-test"):
            rows = [("window shown", 1), ("whole smoke test", 0)]
        for row_label, part in rows:
            warm_s = [w[part] for w in warm if w[part] is not None]
            if not warm_s:
                print(f"  {row_label:<18} (the app did not report its window)")
                continue
            cold_runs = [c[part] for c in colds if c[part] is not None]
            cold_s = statistics.median(cold_runs) if cold_runs else None
            cold_text = (
                f"cold {cold_s:5.2f} ({' / '.join(f'{c:.2f}' for c in cold_runs)})"
                if cold_s is not None else "cold   n/a (not root)"
            )
            print(
                f"  {row_label:<18} {cold_text}   warm {statistics.median(warm_s):5.2f}  (min {min(warm_s):.2f})"
            )
        if label.startswith("--smoke-test"):
            print_steps(colds, warm)
    return 0


Run = tuple[float, float | None, dict[str, float]]


def step_spans(runs: list[Run], begin: str | None, end: str | None) -> list[float]:
    """Seconds from step ``begin`` (None: launch) to step ``end`` (None: window shown), per run."""
    out = []
    for _, shown, steps in runs:
        stop = shown if end is None else steps.get(end)
        start = 0.0 if begin is None else steps.get(begin)
        if stop is not None and start is not None:
            out.append(stop - start)
    return out


def print_steps(colds: list[Run], warm: list[Run]) -> None:
    """Where the window's start-up goes: each step's share, medians of the cold and warm runs."""
    names: list[str | None] = list(warm[0][2]) if warm and warm[0][2] else []
    if not names:
        return
    print("  where the window's start-up goes (s, each step's own time; cold / warm medians):")
    for begin, end in zip([None, *names], [*names, None]):
        cold_s, warm_s = step_spans(colds, begin, end), step_spans(warm, begin, end)
        cold_text = f"{statistics.median(cold_s):5.2f}" if cold_s else "  n/a"
        warm_text = f"{statistics.median(warm_s):5.2f}" if warm_s else "  n/a"
        print(f"    {cold_text} / {warm_text}  {end or 'first event-loop turn with the window up'}")


if __name__ == "__main__":
    sys.exit(main())
