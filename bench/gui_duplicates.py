"""Is the Find duplicates view usable on a large library? (issue 14: "usable on a 100k library")

Opens the real main window (offscreen unless a display is set) on a kept library (e.g. the
100k-photo library ``bench/gui_query.py --photos 100000 --keep DIR`` builds), chooses
Library -> Find duplicates as a user would, and measures on the GUI thread's clock: the time
until the groups are shown, the longest gap of a 10 ms ``QTimer`` tick while the search runs in
the background and while pages of groups and their thumbnails arrive, and the time to show each
further page ("Show more groups"). Prints the figures and the load average.

    python bench/gui_duplicates.py DATA_DIR [--pages 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QSettings, QTimer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from photofind.gui.app import make_application, open_library  # noqa: E402
from photofind.gui.duplicates import show_duplicates  # noqa: E402
from photofind.gui.main_window import MainWindow  # noqa: E402


def wait_until(app, condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.002)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="a library's data dir (kept, e.g. by gui_query.py --keep)")
    parser.add_argument("--pages", type=int, default=3, help="further pages of groups to show")
    args = parser.parse_args()

    app = make_application()
    library = open_library(args.data_dir, device="cpu")
    scratch = tempfile.mkdtemp(prefix="photofind-dupbench-")
    settings = QSettings(os.path.join(scratch, "gui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(library, settings, watch=False, rescan_on_start=False)
    window.resize(1280, 800)
    window.show()
    photos = library.repo.count_passing()
    wait_until(app, lambda: False, 3.0)  # let the window settle (browse page, warm-up)

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    view = show_duplicates(window)
    found = wait_until(app, lambda: view.groups or "No duplicates" in view.status.text(), 600)
    shown_s = time.perf_counter() - started
    if not found:
        print("the duplicates view showed nothing within 600 s")
        return 1
    wait_until(app, lambda: False, 2.0)  # first page's thumbnails
    page_s = []
    for _ in range(args.pages):
        if not view.more.isVisible():
            break
        before = view.shown
        t0 = time.perf_counter()
        view.more.click()
        wait_until(app, lambda: view.shown > before, 30)
        page_s.append(time.perf_counter() - t0)
        wait_until(app, lambda: False, 1.0)
    timer.stop()
    gaps = np.diff(np.asarray(ticks)) * 1000.0
    groups = view.groups
    load = os.getloadavg()
    print(f"library:            {args.data_dir} ({photos:,} photos)")
    print(f"groups found:       {len(groups)} ({sum(len(g.photos) for g in groups)} photos in groups)")
    print(f"Find duplicates -> groups shown: {shown_s:.1f} s (search in the background)")
    if page_s:
        print(f"Show more groups (about 200 photos a page): median {np.median(page_s) * 1000:.0f} ms, max {max(page_s) * 1000:.0f} ms over {len(page_s)} pages")
    print(f"GUI stall max {gaps.max():.0f} ms, p99 {np.percentile(gaps, 99):.0f} ms over {len(ticks)} ticks of 10 ms")
    print(f"load average:       {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    view.close()
    window.shutdown()
    library.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
