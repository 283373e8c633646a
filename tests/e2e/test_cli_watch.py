"""``watch_library`` end to end: real model, photo-like JPEGs, real filesystem events.

The loop runs in a thread against a library in a temporary data dir over a few photo-like
JPEGs the test makes (``tests/synthetic_photos.py``); a photo copied in while it watches must get
indexed and be found by searching for it.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from photofind.config import get_paths
from photofind.core.indexing.indexer import IndexReport
from photofind.core.library import Library
from photofind.core.watcher import watch_library
from tests.fake_library import library_with
from tests.fakes import FakeEmbedder
from tests.synthetic_photos import write_photo, write_photos

pytestmark = pytest.mark.slow

TIMEOUT = 120.0  # first use converts the model into the temp data dir


def wait_until(predicate, timeout: float = TIMEOUT, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def test_watch_indexes_a_photo_copied_in(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_photos(folder, [0, 100, 200, 300, 400])
    arrival = write_photo(tmp_path / "elsewhere" / "555.jpg", 555)

    lib = Library(get_paths(tmp_path / "data"))
    lib.add_folder(folder)
    reports: list[IndexReport] = []
    reports_lock = threading.Lock()
    errors: list[BaseException] = []
    result: list[int] = []
    stop = threading.Event()

    def on_report(report: IndexReport) -> None:
        with reports_lock:
            reports.append(report)

    def run() -> None:
        try:
            result.append(watch_library(lib, debounce_s=0.3, on_report=on_report, stop=stop))
        except BaseException as exc:  # noqa: BLE001 pragma: no cover - surfaced by the asserts below
            errors.append(exc)

    thread = threading.Thread(target=run, name="watch-library")
    thread.start()
    try:
        assert wait_until(lambda: bool(reports) or bool(errors)), "initial index run never finished"
        assert not errors, errors
        assert reports[0].added == 5 and not reports[0].skipped
        assert lib.repo.stats().photos == 5

        shutil.copy(arrival, folder / "new-arrival.jpg")
        assert wait_until(lambda: lib.repo.stats().photos == 6 or bool(errors)), "new photo not indexed"
        assert not errors, errors
        assert wait_until(lambda: lib.repo.stats().embedded == 6)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert result == [0]
    assert sum(r.added for r in reports) == 6

    hits = lib.searcher().search_image(str(arrival), k=3)
    assert hits and Path(hits[0].path) == folder / "new-arrival.jpg"
    assert hits[0].score > 0.99
    lib.close()


def test_cli_watch_reports_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """``photofind watch``: prints one summary per index run, exits 0 on SIGINT."""
    folder = tmp_path / "photos"
    write_photos(folder, [1, 101])
    arrival = write_photo(tmp_path / "elsewhere" / "201.jpg", 201)
    env = dict(os.environ, PHOTOFIND_DATA_DIR=str(tmp_path / "data"))
    subprocess.run([sys.executable, "-m", "photofind", "folders", "add", str(folder)], env=env,
                   check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([sys.executable, "-m", "photofind", "watch", "--debounce", "0.3"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    # stderr is read all along too: a child whose unread pipe fills up blocks on its next log line
    assert proc.stderr is not None
    stderr, errors = proc.stderr, []
    threading.Thread(target=lambda: errors.extend(stderr), daemon=True).start()
    try:
        first = lines.get(timeout=TIMEOUT)  # the initial run's summary
        assert first.startswith("2 added"), first
        shutil.copy(arrival, folder / "201.jpg")
        second = lines.get(timeout=TIMEOUT)
        assert second.startswith("1 added"), second
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, "".join(errors)[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_busy_library_is_reported_retried_while_busy_and_indexed_once_free(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While another writer holds the library, the watcher's initial run is refused (logged as
    busy) and retried, again and again; once the writer lets go, the retry indexes the folder,
    with no file event to prompt it."""
    folder = tmp_path / "photos"
    write_photos(folder, [2])
    paths = get_paths(tmp_path / "data")
    lib = library_with(paths, FakeEmbedder())
    lib.add_folder(folder)
    other = Library(paths)  # another photofind, with its own hold on the writer lock
    reports: list[IndexReport] = []
    stop = threading.Event()

    def busy_warnings() -> int:
        return sum(
            "is busy" in r.getMessage() and "Retrying" in r.getMessage()
            for r in list(caplog.records) if r.name == "photofind.core.watcher"
        )

    caplog.set_level(logging.WARNING, logger="photofind.core.watcher")
    thread = threading.Thread(
        target=watch_library, args=(lib, 0.2, reports.append, stop), kwargs={"busy_retry_s": 0.1},
    )
    try:
        with other.writing():  # "another photofind is indexing"
            thread.start()
            assert wait_until(lambda: busy_warnings() >= 2, timeout=30), caplog.text  # refused twice
            assert reports == [] and lib.repo.stats().photos == 0
        assert wait_until(lambda: bool(reports), timeout=30), caplog.text
        assert reports[0].added == 1 and not reports[0].cancelled
        assert lib.repo.stats(FakeEmbedder.model_id).embedded == 1
    finally:
        stop.set()
        if thread.ident is not None:
            thread.join(timeout=60)
        other.close()
    assert not thread.is_alive()
    assert len(reports) == 1  # indexed once, by the retry
    lib.close()
