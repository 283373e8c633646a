"""GUI test fixtures: offscreen Qt, one indexed library of 100 real photos per session.

The session library (10 Corel photos of each of 10 classes) is indexed once with the core; each
test gets its own copy of that data directory (database, HNSW file, converted model), so tests
never see each other's changes and none pays the indexing cost again.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import pytest

from photofind.config import get_paths
from photofind.core.library import Library

PER_CLASS = 10


def corel_labels(corel_dir: Path) -> dict[str, str]:
    """image file name -> class name."""
    with open(corel_dir / "labels.csv", newline="") as fh:
        return {Path(r["image"]).name: r["class_name"] for r in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def labels(corel_dir: Path) -> dict[str, str]:
    return corel_labels(corel_dir)


@pytest.fixture(scope="session")
def subset_names(labels: dict[str, str]) -> list[str]:
    """The first ``PER_CLASS`` photos of every class."""
    taken: dict[str, int] = {}
    names = []
    for name, cls in sorted(labels.items(), key=lambda kv: int(Path(kv[0]).stem)):
        if taken.get(cls, 0) < PER_CLASS:
            taken[cls] = taken.get(cls, 0) + 1
            names.append(name)
    return names


@pytest.fixture(scope="session")
def spare_names(labels: dict[str, str], subset_names: list[str]) -> list[str]:
    """Corel photos that are not in the session library (new content for index runs)."""
    used = set(subset_names)
    return [n for n in sorted(labels, key=lambda n: int(Path(n).stem)) if n not in used]


@pytest.fixture(scope="session")
def photo_dir(
    tmp_path_factory: pytest.TempPathFactory, corel_dir: Path, subset_names: list[str]
) -> Path:
    folder = tmp_path_factory.mktemp("photos") / "corel100"
    folder.mkdir()
    for name in subset_names:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def library_template(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path) -> Path:
    data = tmp_path_factory.mktemp("template") / "data"
    lib = Library(get_paths(data), device="cpu")
    lib.add_folder(photo_dir)
    report = lib.run_index()
    assert report.embedded == len(list(photo_dir.iterdir()))
    lib.close()
    return data


@pytest.fixture
def data_dir(tmp_path: Path, library_template: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(library_template, target)
    return target


@pytest.fixture
def library(data_dir: Path) -> Iterator[Library]:
    lib = Library(get_paths(data_dir), device="cpu")
    yield lib
    lib.close()


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, library: Library, settings):  # type: ignore[no-untyped-def]
    """Build a main window on the test's library (watching and start-up rescan off by default)."""
    from photofind.gui.main_window import MainWindow

    windows = []

    def make(**options):  # type: ignore[no-untyped-def]
        options.setdefault("watch", False)
        options.setdefault("rescan_on_start", False)
        window = MainWindow(library, settings, **options)
        windows.append(window)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        return window

    yield make
    for window in windows:
        window.shutdown()


@pytest.fixture
def ranked_library(tmp_path: Path, corel_dir: Path, spare_names: list[str]) -> Iterator[Library]:
    """A library large enough for the default ranking (a learned space needs
    ``RankingSettings().min_photos`` photos), embedded by the fast ``FakeEmbedder``."""
    from photofind.core.search.ranking import RankingSettings
    from tests.fakes import FakeEmbedder

    n = RankingSettings().min_photos + 40
    folder = tmp_path / "ranked"
    folder.mkdir()
    for name in spare_names[:n]:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    lib = Library(get_paths(tmp_path / "ranked-data"), embedder=FakeEmbedder())
    lib.add_folder(folder)
    assert lib.run_index().embedded == n
    yield lib
    lib.close()


@pytest.fixture(autouse=True)
def _clear_clipboard(qapp) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Empty the clipboard after each test.

    A test that puts Python-made ``QMimeData`` on the clipboard hands Qt an object that Qt's
    own exit handlers would delete after Python has shut down, which crashes the test process
    at exit (SIGSEGV in shiboken, seen with PySide6 6.11). A real user's clipboard is filled by
    other applications, so the app itself never leaves such an object behind.
    """
    yield
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().clear()
