"""Open with photofind: ``photofind IMAGE...`` / ``photofind FOLDER``, the desktop entry's MIME
types, and one running app per library (a second launch hands its request over; two real
processes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from photofind.__main__ import split_open_paths
from photofind.gui import desktop_entry
from photofind.gui.single_instance import OpenRequest, server_name

REPO = Path(__file__).resolve().parents[2]
MIME = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif", "image/gif", "image/tiff", "image/bmp"}


def test_command_line_paths_are_opened_and_commands_still_work(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jpg", tmp_path / "b.png"
    a.write_bytes(b"x")
    b.write_bytes(b"x")
    assert split_open_paths([str(a), str(b)]) == ([str(a), str(b)], [])
    assert split_open_paths(["--data-dir", str(tmp_path), str(a)]) == ([str(a)], ["--data-dir", str(tmp_path)])
    assert split_open_paths([str(tmp_path)]) == ([str(tmp_path)], [])
    assert split_open_paths(["search", str(a)]) == ([], ["search", str(a)])
    assert split_open_paths(["--version"]) == ([], ["--version"])
    assert split_open_paths(["nope.jpg"]) == ([], ["nope.jpg"])  # argparse says what is wrong
    request = OpenRequest.from_paths([str(a), str(tmp_path)])
    assert request.images == [str(a)] and request.folders == [str(tmp_path)]
    assert OpenRequest.decode(request.encode()) == request
    assert server_name(tmp_path / "lib1") != server_name(tmp_path / "lib2")


def test_desktop_entry_declares_the_image_types_and_opens_files(tmp_path: Path) -> None:
    shipped = (REPO / "resources" / "photofind.desktop").read_text()
    assert shipped == desktop_entry.entry_text("photofind")  # the .deb's and pip's are the same
    lines = dict(line.split("=", 1) for line in shipped.splitlines() if "=" in line)
    assert set(lines["MimeType"].rstrip(";").split(";")) == MIME
    assert lines["Exec"] == "photofind %F"
    written = desktop_entry.install(tmp_path / "share")
    entry = tmp_path / "share" / "applications" / "photofind.desktop"
    assert entry in written and (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "photofind.svg").is_file()
    exec_line = next(line for line in entry.read_text().splitlines() if line.startswith("Exec="))
    assert exec_line.endswith(" %F") and "photofind" in exec_line
    validate = shutil.which("desktop-file-validate")
    if validate:
        proc = subprocess.run([validate, str(entry)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_open_request_searches_and_offers_to_add_a_folder(make_window, qtbot, photo_dir: Path, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QMessageBox

    from tests.gui.helpers import TIMEOUT_MS, search_done

    window = make_window()
    window.open_request(OpenRequest([str(photo_dir / "705.jpg")], []))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    assert Path(window.results.model.item(0).path).name == "705.jpg"
    extra = tmp_path / "more photos"
    extra.mkdir()
    shutil.copy2(photo_dir / "5.jpg", extra / "x.jpg")
    window.open_request(OpenRequest([], [str(extra)]))
    box = window.folder_offer
    assert box.isVisible() and str(extra) in box.text()
    add = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)
    add.click()
    qtbot.waitUntil(lambda: str(extra) in {f.path for f in window.library_panel.folders}, timeout=TIMEOUT_MS)


def _log(log_dir: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(log_dir.glob("photofind.log*")))


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def,type-arg]
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the first app exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the first app")
        time.sleep(0.2)


@pytest.mark.slow
def test_a_second_launch_hands_its_query_to_the_running_app(data_dir: Path, photo_dir: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PHOTOFIND_DATA_DIR=str(data_dir), PHOTOFIND_LOG_DIR=str(logs),
               PYTHONPATH=str(REPO), XDG_CONFIG_HOME=str(tmp_path / "config"))
    first = subprocess.Popen(
        [sys.executable, "-m", "photofind", "--device", "cpu", str(photo_dir / "705.jpg")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(lambda: "listening for other launches" in _log(logs) and "705.jpg" in _log(logs), first)
        second = subprocess.run(
            [sys.executable, "-m", "photofind", "--device", "cpu", str(photo_dir / "405.jpg"), str(photo_dir / "5.jpg")],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert second.returncode == 0, second.stderr
        assert "already open" in second.stderr
        _wait_for(lambda: "another launch asks to open 2 images" in _log(logs), first)
        _wait_for(lambda: "405.jpg" in _log(logs).split("another launch asks")[-1], first)
        # a folder: handed over as well (the running window offers to add it)
        third = subprocess.run([sys.executable, "-m", "photofind", str(tmp_path)], env=env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert third.returncode == 0, third.stderr
        _wait_for(lambda: "0 images, 1 folders" in _log(logs), first)
        assert first.poll() is None  # the first app still runs; only one ever had the library
    finally:
        first.terminate()
        try:
            first.wait(timeout=30)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
