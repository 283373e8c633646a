"""Start-up and shut-down: the smoke test, settings that persist, the start-up rescan, and no
photofind thread outliving the window."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from photofind.gui.app import run_app
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, photo_thread_names


def test_smoke_test_opens_and_closes(qapp, data_dir: Path, capsys) -> None:
    assert run_app(data_dir=data_dir, device="cpu", smoke_test=True) == 0
    assert not photo_thread_names()
    # bench/package.py reads where the start-up went from these lines: each step, in order,
    # then the window shown, on one monotonic clock
    from photofind.gui.app import SMOKE_SHOWN_PREFIX, SMOKE_STEP_PREFIX

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("smoke test: ")]
    steps = [line[len(SMOKE_STEP_PREFIX):].rpartition(" at monotonic ") for line in lines[:-1]]
    assert [name for name, _, _ in steps] == [
        "Python, the command line, QtCore + QtWidgets, the library code loaded",
        "Qt application made",
        "window modules imported",
        "library opened",
        "window built",
    ]
    assert lines[-1].startswith(SMOKE_SHOWN_PREFIX)
    times = [float(at) for _, _, at in steps] + [float(lines[-1][len(SMOKE_SHOWN_PREFIX):])]
    assert times == sorted(times)


def test_settings_remember_count_and_geometry(make_window, qtbot, settings) -> None:
    window = make_window()
    window.results.count.setValue(33)
    window.resize(1100, 700)
    window.splitter.setSizes([350, 750])
    window.close()
    settings.sync()
    again = make_window()
    assert again.results.count.value() == 33
    assert abs(again.splitter.sizes()[0] - 350) <= 10


def test_window_is_usable_at_once_and_rescans_in_background(
    make_window, qtbot, library, corel_dir, spare_names, tmp_path
) -> None:
    # A folder added while the app was closed (e.g. by the CLI) is indexed by the start-up rescan.
    folder = tmp_path / "added-by-cli"
    folder.mkdir()
    for name in spare_names[500:503]:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    library.add_folder(folder)
    window = make_window(rescan_on_start=True)
    assert window.isVisible()
    qtbot.waitUntil(
        lambda: window.results.model.rowCount() >= 100, timeout=TIMEOUT_MS
    )  # browsing at once
    qtbot.waitUntil(
        lambda: any(
            r.path == str(folder.resolve()) and r.photo_count == 3
            for r in window.library_panel.folders
        ),
        timeout=TIMEOUT_MS,
    )
    assert all(r.last_scan_at is not None for r in window.library_panel.folders)


def test_a_deferred_start_waits_for_start_background(
    make_window, qtbot, library, corel_dir, spare_names, tmp_path
) -> None:
    """The app (``defer_start``) browses at once but loads the model and rescans only once its
    window has painted (``start_background``)."""
    folder = tmp_path / "added-while-closed"
    folder.mkdir()
    for name in spare_names[510:512]:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    library.add_folder(folder)
    window = make_window(rescan_on_start=True, defer_start=True)
    qtbot.waitUntil(lambda: window.results.model.rowCount() >= 100, timeout=TIMEOUT_MS)
    qtbot.wait(300)
    assert library._embedder is None  # no warm-up yet
    (added,) = [r for r in library.repo.folders() if r.path == str(folder.resolve())]
    assert added.photo_count == 0 and added.last_scan_at is None  # no rescan yet
    window.start_background()
    qtbot.waitUntil(lambda: library._embedder is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: any(
            r.path == str(folder.resolve()) and r.photo_count == 2 for r in window.library_panel.folders
        ),
        timeout=TIMEOUT_MS,
    )


def test_closing_the_window_stops_every_photofind_thread(
    make_window, qtbot, library, photo_dir, tmp_path, corel_dir, spare_names
) -> None:
    """Closing mid-work (an index run, a search, thumbnails, the watcher) joins every thread
    before the library closes, so nothing opens the database after it (0.2 did: "unable to
    open database file" once a bench removed its temp dir)."""
    folder = tmp_path / "closing"
    folder.mkdir()
    for name in spare_names[600:680]:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    window = make_window(watch=True)
    qtbot.waitUntil(lambda: window.results.model.rowCount() >= 100, timeout=TIMEOUT_MS)
    window.library_panel.add_requested.emit(str(folder))
    qtbot.waitUntil(
        lambda: "Indexing" in window.status.index_status.label.text(), timeout=TIMEOUT_MS
    )
    drop(window.query_panel, file_mime(photo_dir / "705.jpg"))
    assert window.watch.running
    assert {"photofind-index", "photofind-query", "photofind-watcher"} <= set(photo_thread_names())

    window.close()
    assert not photo_thread_names()
    library.close()
    shutil.rmtree(library.paths.data_dir)  # what the bench did; no thread may still use it
    qtbot.wait(300)
    assert not photo_thread_names()


def test_the_app_indexes_in_a_child_process_and_searches_the_new_photos(
    make_window, qtbot, library, tmp_path, corel_dir, spare_names
) -> None:
    """The app's index service runs ``photofind index`` as a child process: the window's
    process never runs the index job's threads, and what the child indexed is searched."""
    folder = tmp_path / "via-child"
    folder.mkdir()
    for name in spare_names[700:712]:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    def decoders() -> set[int]:
        return {t.ident or 0 for t in threading.enumerate() if "decode" in t.name}

    window = make_window(index_in_child=True)
    before, during, reports = decoders(), [], []
    window.index.progress.connect(lambda _p: during.append(decoders()))
    window.index.finished.connect(reports.append)
    window.library_panel.add_requested.emit(str(folder))
    # a new Python process imports photofind and onnxruntime first: ~8 s on a loaded 2-core machine
    qtbot.waitUntil(lambda: bool(reports), timeout=4 * TIMEOUT_MS)
    assert reports[0].added == 12 and not reports[0].cancelled
    assert during and all(seen <= before for seen in during)  # no decoder ran in this process
    query = folder / spare_names[705]
    drop(window.query_panel, file_mime(query))
    qtbot.waitUntil(
        lambda: window.results.model.rowCount() > 0 and window.results.model.mode == "search",
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: not window.results.searching, timeout=TIMEOUT_MS)
    assert window.results.model.item(0).path == str(query)


def test_after_first_paint_runs_once_after_the_window_is_up(qapp, qtbot) -> None:
    from PySide6.QtWidgets import QLabel, QMainWindow

    from photofind.gui.app import after_first_paint

    calls: list[bool] = []
    window = QMainWindow()
    window.setCentralWidget(QLabel("photos"))
    qtbot.addWidget(window)
    window.show()
    after_first_paint(window, lambda: calls.append(window.isVisible()), timeout_ms=60_000)
    assert not calls  # not before the event loop has handled the window
    qtbot.waitUntil(lambda: bool(calls), timeout=TIMEOUT_MS)
    window.update()
    qtbot.wait(100)
    assert calls == [True]  # once


def test_a_window_that_never_paints_still_gets_the_callback(qapp, qtbot) -> None:
    from PySide6.QtWidgets import QWidget

    from photofind.gui.app import after_first_paint

    calls: list[int] = []
    hidden = QWidget()
    qtbot.addWidget(hidden)
    after_first_paint(hidden, lambda: calls.append(1), timeout_ms=50)
    qtbot.waitUntil(lambda: calls == [1], timeout=TIMEOUT_MS)


def test_the_window_shows_before_the_model_runtime_and_image_plugins_load(data_dir: Path) -> None:
    """Start-up (issue 13): onnxruntime and Pillow's extra plugins are not needed by the first
    window; they load right after it has painted, on the GUI thread (not later on a worker,
    where an import would hold the GIL while the user works)."""
    import subprocess
    import sys

    script = """
import sys
from PySide6.QtCore import QTimer
from photofind.gui.app import make_application, run_app
app = make_application()
late = ("onnxruntime", "pillow_heif", "numpy.random")
QTimer.singleShot(0, lambda: print("first turn", [m for m in late if m in sys.modules], flush=True))
QTimer.singleShot(0, lambda: QTimer.singleShot(1000, lambda: print("later", [m for m in late if m in sys.modules], flush=True)))
sys.exit(run_app(data_dir=sys.argv[1], device="cpu", smoke_test=True))
"""
    out = subprocess.run(
        [sys.executable, "-c", script, str(data_dir)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith(("first turn", "later"))]
    assert lines == ["first turn []", "later ['onnxruntime', 'pillow_heif', 'numpy.random']"], out.stdout
