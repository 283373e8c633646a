"""A fresh machine without Qt's xcb libraries gets one line saying what to install, not Qt's
generic plugin abort (the missing library is simulated: this machine may well have it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from photofind import qt_libs

REPO = Path(__file__).resolve().parents[1]


def test_only_the_xcb_platform_on_linux_is_checked() -> None:
    assert qt_libs.uses_xcb({}, "linux")
    assert qt_libs.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert qt_libs.uses_xcb({"QT_QPA_PLATFORM": "xcb;wayland"}, "linux")
    assert not qt_libs.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not qt_libs.uses_xcb({"QT_QPA_PLATFORM": "wayland"}, "linux")
    assert not qt_libs.uses_xcb({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not qt_libs.uses_xcb({}, "darwin") and not qt_libs.uses_xcb({}, "win32")
    assert qt_libs.check({"QT_QPA_PLATFORM": "offscreen"}, load=_refuse("libxcb-cursor.so.0")) is None


def _refuse(*sonames: str):  # type: ignore[no-untyped-def]
    def load(name: str) -> object:
        if name in sonames:
            raise OSError(f"{name}: cannot open shared object file")
        return object()

    return load


def test_message_names_the_missing_libraries_and_the_commands() -> None:
    message = qt_libs.check({}, load=_refuse("libxcb-cursor.so.0", "libxcb-icccm.so.4"))
    assert message is not None and "\n" not in message
    assert "libxcb-cursor.so.0" in message
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 " in message
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in message
    assert qt_libs.check({}, load=_refuse()) is None


def test_the_app_exits_1_with_the_install_line_before_qt_starts(tmp_path: Path) -> None:
    """A real ``photofind`` process with the loader refusing libxcb-cursor (sitecustomize)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import ctypes\n"
        "_real = ctypes.CDLL\n"
        "class CDLL(_real):\n"
        "    def __init__(self, name, *a, **k):\n"
        "        if name == 'libxcb-cursor.so.0':\n"
        "            raise OSError(name + ': cannot open shared object file: No such file or directory')\n"
        "        super().__init__(name, *a, **k)\n"
        "ctypes.CDLL = CDLL\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}", PHOTOFIND_DATA_DIR=str(tmp_path / "data"), DISPLAY=":77")
    proc = subprocess.run([sys.executable, "-m", "photofind"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo apt install libxcb-cursor0" in lines[0] and "dnf" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "qt.qpa" not in proc.stderr
