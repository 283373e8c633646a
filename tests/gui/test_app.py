"""Start-up: the smoke test, settings that persist, the start-up rescan."""

from __future__ import annotations

import shutil
from pathlib import Path

from photofind.gui.app import run_app
from tests.gui.helpers import TIMEOUT_MS


def test_smoke_test_opens_and_closes(qapp, data_dir: Path) -> None:
    assert run_app(data_dir=data_dir, device="cpu", smoke_test=True) == 0


def test_settings_remember_count_and_geometry(make_window, qtbot, settings) -> None:
    window = make_window()
    window.count.setValue(33)
    window.resize(1100, 700)
    window.splitter.setSizes([350, 750])
    window.close()
    settings.sync()
    again = make_window()
    assert again.count.value() == 33
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
        lambda: window.model.rowCount() >= 100, timeout=TIMEOUT_MS
    )  # browsing at once
    qtbot.waitUntil(
        lambda: any(
            r.path == str(folder.resolve()) and r.photo_count == 3
            for r in window.folder_panel.folders
        ),
        timeout=TIMEOUT_MS,
    )
    assert all(r.last_scan_at is not None for r in window.folder_panel.folders)
