"""How long does the GUI event loop stall while the app indexes in the background?

Opens the main window (offscreen unless a display is set) on a fresh library, adds a folder
(default: corel1k, 1000 photos) through the window as a user would, and lets the index service
run while a ``QTimer`` ticks every 10 ms on the GUI thread. Every few seconds a search is
dropped too, so the query and thumbnail queues run alongside. Prints the longest gap
between ticks, the 99th percentile and the indexing rate. Bar: max stall < 100 ms.

    python bench/gui_stall.py [FOLDER] [--keep DATA_DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QMimeData, QSettings, QTimer, QUrl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from photofind.gui.app import make_application, open_library
from photofind.gui.main_window import MainWindow

TICK_MS = 10
BAR_MS = 100.0


def start_stall_sampler(ticks: list[float], out: list[tuple[float, str]]) -> None:
    """A daemon thread that records the GUI thread's Python stack whenever a tick is late."""
    import threading
    import traceback

    gui = threading.get_ident()

    def sample() -> None:
        while True:
            time.sleep(0.02)
            if ticks and time.perf_counter() - ticks[-1] > 0.06:
                frame = sys._current_frames().get(gui)
                stack = (
                    "".join(traceback.format_stack(frame)[-6:])
                    if frame
                    else "(no frame)"
                )
                out.append((time.perf_counter() - ticks[-1], stack))

    threading.Thread(target=sample, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        nargs="?",
        default=str(REPO / ".." / "shared" / "data" / "corel1k" / "images"),
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="print the GUI thread's stack during stalls",
    )
    parser.add_argument(
        "--keep", help="use (and keep) this data dir instead of a temporary one"
    )
    parser.add_argument(
        "--in-process", action="store_true",
        help="index on a thread of the app's process (as photofind 0.2 did) instead of a child process",
    )
    args = parser.parse_args()
    folder = Path(args.folder).resolve()
    n_files = sum(1 for p in folder.rglob("*") if p.is_file())

    app = make_application()
    data_dir = (
        Path(args.keep)
        if args.keep
        else Path(tempfile.mkdtemp(prefix="photofind-stall-"))
    )
    library = open_library(data_dir, device="cpu")
    settings = QSettings(str(data_dir / "bench-gui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        library, settings, watch=False, rescan_on_start=False, index_in_child=not args.in_process
    )
    window.resize(1280, 800)
    window.show()

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    reports = []
    window.index.finished.connect(reports.append)
    phases: dict[str, float] = {}

    def on_progress(progress) -> None:  # type: ignore[no-untyped-def]
        phases.setdefault(progress.phase, time.perf_counter())

    window.index.progress.connect(on_progress)
    queries = sorted(folder.glob("*.jpg"))[::97] or sorted(folder.rglob("*.jpg"))[:10]
    searches = {"n": 0}
    asked: list[float] = []  # when the query now running was dropped
    latencies: list[float] = []

    def on_results() -> None:  # a newer drop supersedes an older one: it never answers
        if asked and window.results.model.mode == "search" and not window.results.searching:
            latencies.append(time.perf_counter() - asked.pop())

    window.results.model.modelReset.connect(on_results)

    def drop_query() -> None:
        if queries and not reports:
            mime = QMimeData()
            mime.setUrls(
                [QUrl.fromLocalFile(str(queries[searches["n"] % len(queries)]))]
            )
            asked[:] = [time.perf_counter()]
            window.query_panel.handle_mime(mime)
            searches["n"] += 1

    query_timer = QTimer()
    query_timer.setInterval(3000)
    query_timer.timeout.connect(drop_query)

    def finished_check() -> None:
        if reports:
            app.quit()

    done_timer = QTimer()
    done_timer.setInterval(200)
    done_timer.timeout.connect(finished_check)

    stalls: list[tuple[float, str]] = []
    if args.trace:
        start_stall_sampler(ticks, stalls)
    started = time.perf_counter()
    timer.start()
    query_timer.start()
    done_timer.start()
    window.library_panel.add_requested.emit(str(folder))
    app.exec()
    elapsed = time.perf_counter() - started
    window.shutdown()
    library.close()

    report = reports[0]
    gaps = np.diff(np.asarray(ticks)) * 1000.0
    max_gap = float(gaps.max()) if len(gaps) else float("nan")
    p99 = float(np.percentile(gaps, 99)) if len(gaps) else float("nan")
    print(f"folder:            {folder} ({n_files} files)")
    print(
        f"indexed:           {report.embedded} photos, {len(report.skipped)} skipped, {elapsed:.1f} s wall"
    )
    print(
        f"indexing rate:     {report.photos_per_second:.1f} photos/s (embedding phase)"
    )
    print(f"searches dropped:  {searches['n']} during the run")
    if latencies:
        print(
            f"search latency:    median {np.median(latencies) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms (drop -> results, while indexing)"
        )
    print(f"timer ticks:       {len(ticks)} at {TICK_MS} ms")
    print(f"GUI stall max:     {max_gap:.1f} ms")
    print(f"GUI stall p99:     {p99:.1f} ms")
    print(f"GUI stall median:  {float(np.median(gaps)):.1f} ms")
    worst = np.argsort(gaps)[::-1][:5]
    marks = ", ".join(f"{k} at {v - started:.1f} s" for k, v in phases.items())
    print(f"phases:            {marks}")
    print(
        "worst gaps:        "
        + ", ".join(f"{gaps[i]:.0f} ms at {ticks[i] - started:.1f} s" for i in worst)
    )
    print(f"bar (max < {BAR_MS:.0f} ms): {'PASS' if max_gap < BAR_MS else 'FAIL'}")
    for when, stack in stalls[:12]:
        print(f"--- GUI thread {when * 1000:.0f} ms late:\n{stack}")
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if max_gap < BAR_MS else 1


if __name__ == "__main__":
    sys.exit(main())
