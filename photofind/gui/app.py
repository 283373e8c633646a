"""Starting the desktop app: QApplication, the library, the main window.

``run_app(smoke_test=True)`` opens the window (offscreen works), lets it process events for a
moment and closes it again: a packaging check that Qt, the plugins and the library all load.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from photofind import __version__
from photofind.config import APP_NAME, get_paths
from photofind.core.library import Library
from photofind.logs import add_log_file

if TYPE_CHECKING:
    from photofind.gui.main_window import MainWindow

logger = logging.getLogger(__name__)

SMOKE_TEST_MS = 1500
#: ``--smoke-test`` prints this, then ``time.monotonic()``, once the window is up.
SMOKE_SHOWN_PREFIX = "smoke test: window shown at monotonic "
#: ``--smoke-test`` prints this, a step's name, `` at monotonic `` and the time, for each step of
#: the start-up before the window is up (bench/package.py: where a packaged start-up's time goes).
SMOKE_STEP_PREFIX = "smoke test: step "


#: How long a thread may hold the GIL before a waiting thread can ask for it (Python's default
#: is 5 ms). Shorter keeps the GUI thread responsive while the workers run Python code.
GIL_SWITCH_INTERVAL_S = 0.001


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once) with the app's name, icon and the system palette."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(APP_NAME)
        QCoreApplication.setApplicationName(APP_NAME)
        QCoreApplication.setApplicationVersion(__version__)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        QApplication.setDesktopFileName(APP_NAME)  # matches resources/photofind.desktop
    from photofind.gui.icon import app_icon

    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def open_library(
    data_dir: str | os.PathLike[str] | None = None,
    model: str | None = None,
    device: str = "auto",
    preload: bool = True,
) -> Library:
    """The library as the app opens it, on the GUI thread.

    ``preload``: also import now what worker threads would otherwise import later
    (``preload_worker_modules``). The app passes False and runs that once its window has painted
    (``after_first_paint``): the first window needs none of it (issue 13: the packaged app's
    cold start). Benches that open a window to measure searches keep the default.
    """
    if preload:
        preload_worker_modules()
    library = Library(get_paths(data_dir), model=model, device=device, convert_model_in_child=True)
    # A full garbage collection walks every object of the process while holding the GIL: with
    # Qt, SQLAlchemy, numpy and onnxruntime loaded that is ~100 ms, run by whichever thread
    # allocates next (bench/gui_stall.py caught a query worker collecting during a search).
    # Objects alive now live as long as the app: move them out of the collector's sight (no
    # gc.collect() first: it would cost ~0.1-0.3 s of start-up to free a few leftovers).
    gc.freeze()
    return library


def preload_worker_modules() -> None:
    """Import on the GUI thread what the first search and the first thumbnails would otherwise
    import on a worker thread: a module's import holds the GIL in one piece (onnxruntime ~0.1 s
    of module init, numpy.random ~80 ms, Pillow's plugins and the model table ~100 ms together
    on the 2-core dev machine), which bench/gui_stall.py saw as the window's longest stall.
    Then freezes what they made out of the garbage collector's sight (see ``open_library``)."""
    import numpy.random  # noqa: F401 - ranking spaces and HNSW graphs draw seeded permutations
    import onnxruntime  # noqa: F401

    from photofind.core.images.decode import load_format_plugins

    load_format_plugins()
    if not getattr(sys, "frozen", False):  # a packaged app uses its bundled models only
        from photofind.core.models.builtin_models import load_builtins

        try:
            load_builtins()
        except ImportError as exc:  # the model is then reported missing when first used
            logger.info("built-in model converters unavailable: %s", exc)
    gc.freeze()


class _FirstPaint(QObject):
    """Calls back once, on the event loop's turn after the watched window first painted: a
    paint of one of its widgets, or the window's first update request (the paints happen while
    it is handled; a window that is not exposed, e.g. offscreen, gets only that), or after
    ``timeout_ms`` if neither comes. The filter sits on the application because the window's
    children, not the window, get the paints."""

    def __init__(self, window: QWidget, callback: Callable[[], None], timeout_ms: int) -> None:
        super().__init__(window)
        self._window = window
        self._callback: Callable[[], None] | None = callback
        self._app = QApplication.instance()
        self._app.installEventFilter(self)
        QTimer.singleShot(timeout_ms, self._fire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (
            kind in (QEvent.Type.Paint, QEvent.Type.UpdateRequest)
            and self._callback is not None
            and isinstance(watched, QWidget)
            and watched.window() is self._window
        ):
            self._app.removeEventFilter(self)
            QTimer.singleShot(0, self._fire)
        return False

    def _fire(self) -> None:
        callback, self._callback = self._callback, None
        if callback is None:
            return
        self._app.removeEventFilter(self)
        callback()


def after_first_paint(widget: QWidget, callback: Callable[[], None], timeout_ms: int = 2000) -> None:
    """Run ``callback`` on the GUI thread once ``widget`` has painted for the first time."""
    _FirstPaint(widget, callback, timeout_ms)


def _start_after_first_paint(window: MainWindow) -> None:
    """What the first window does not need, once it has painted (issue 13: start-up)."""
    preload_worker_modules()
    window.start_background()


def run_app(
    data_dir: str | os.PathLike[str] | None = None,
    model: str | None = None,
    device: str = "auto",
    smoke_test: bool = False,
    open_paths: list[str] | None = None,
) -> int:
    """Open the app on the library in ``data_dir`` (default: the user's); returns the exit code.

    ``open_paths``: images to search by, folders to offer to add. When the app already runs on
    this library, they are handed to it and this launch exits 0 (``single_instance.py``).
    ``smoke_test`` (or ``PHOTOFIND_SMOKE_TEST=1`` in the environment, for a packaged build):
    open the window, process events briefly, close, return 0.
    """
    smoke_test = smoke_test or os.environ.get("PHOTOFIND_SMOKE_TEST") == "1"
    steps: list[tuple[str, float]] = []

    def step(name: str) -> None:
        if smoke_test:
            steps.append((name, time.monotonic()))

    step("Python, the command line, QtCore + QtWidgets, the library code loaded")
    paths = get_paths(data_dir)
    add_log_file(paths, catch_uncaught=True)  # started from a menu: no terminal
    app = make_application()
    step("Qt application made")
    from photofind.gui.main_window import MainWindow
    from photofind.gui.single_instance import (
        InstanceServer,
        OpenRequest,
        hand_over,
        server_name,
    )

    request = OpenRequest.from_paths(open_paths or [])
    name = server_name(paths.data_dir)
    if not smoke_test and hand_over(name, request):
        logger.info("photofind already runs on %s: handed the request over", paths.data_dir)
        sys.stderr.write("photofind is already open on this library: it shows your request there.\n")
        return 0

    step("window modules imported")
    try:
        library = open_library(data_dir, model, device, preload=False)
        step("library opened")
    except Exception as exc:  # a broken or newer database, an unwritable data dir...
        logger.exception("Cannot open the library")
        QMessageBox.critical(
            None, "photofind", f"The photo library cannot be opened:\n\n{exc}"
        )
        return 1
    if smoke_test:  # leave the user's settings alone
        scratch = tempfile.mkdtemp(prefix="photofind-smoke-")
        settings = QSettings(
            os.path.join(scratch, "settings.ini"), QSettings.Format.IniFormat
        )
    else:
        settings = QSettings()
    window = MainWindow(
        library, settings, watch=not smoke_test, rescan_on_start=not smoke_test, index_in_child=True,
        defer_start=True,
    )
    step("window built")
    server = None if smoke_test else InstanceServer(name, window.open_request, window)
    window.show()
    after_first_paint(window, lambda: _start_after_first_paint(window))
    if not request.empty:
        QTimer.singleShot(0, lambda: window.open_request(request))
    if smoke_test:
        # bench/package.py times the start-up to here: the first turn of the event loop with the
        # window shown (the clock is the system-wide monotonic one, comparable across processes)
        def shown() -> None:
            lines = [f"{SMOKE_STEP_PREFIX}{n} at monotonic {t:.6f}\n" for n, t in steps]
            sys.stdout.write("".join(lines) + f"{SMOKE_SHOWN_PREFIX}{time.monotonic():.6f}\n")

        QTimer.singleShot(0, shown)
        QTimer.singleShot(SMOKE_TEST_MS, window.close)
    code = app.exec()
    if server is not None:
        server.close()
    window.shutdown()
    library.close()
    if smoke_test:
        shutil.rmtree(scratch, ignore_errors=True)
    return code
