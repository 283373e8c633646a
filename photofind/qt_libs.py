"""Before the window opens: are the system libraries Qt's X11 (xcb) platform plugin needs there?

Qt 6.5+ on Linux needs ``libxcb-cursor0`` and several other xcb libraries that a minimal
Debian/Ubuntu or Fedora does not have; without them Qt aborts with a generic "could not load the
Qt platform plugin" message. ``check`` finds the missing ones first and says, in one line, which
packages to install (the .deb depends on them already; this is for the pip install).
No Qt import here: this runs before Qt is loaded.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SystemLibrary:
    soname: str
    apt: str  # Debian / Ubuntu package
    dnf: str  # Fedora package


#: What Qt's xcb platform plugin (libqxcb.so -> libQt6XcbQpa.so.6) loads from the system.
XCB_LIBRARIES: tuple[SystemLibrary, ...] = (
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
)


def uses_xcb(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will start its xcb plugin: on Linux, with QT_QPA_PLATFORM unset (outside a
    Wayland session) or naming xcb first."""
    env = os.environ if env is None else env
    if not (platform or sys.platform).startswith("linux"):
        return False
    wanted = env.get("QT_QPA_PLATFORM", "").strip()
    if wanted:
        return wanted.split(";")[0].split(":")[0] == "xcb"
    return not (env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"))


def missing_libraries(load: Callable[[str], object] = ctypes.CDLL) -> list[SystemLibrary]:
    """The xcb libraries the dynamic loader cannot find."""
    missing = []
    for lib in XCB_LIBRARIES:
        try:
            load(lib.soname)
        except OSError:
            missing.append(lib)
    return missing


def install_message(missing: list[SystemLibrary]) -> str:
    """One line: what is missing and the exact commands that install it."""
    apt = " ".join(dict.fromkeys(m.apt for m in missing))
    dnf = " ".join(dict.fromkeys(m.dnf for m in missing))
    names = ", ".join(m.soname for m in missing)
    return (
        f"photofind: the window cannot open: Qt's X11 platform needs system libraries that are "
        f"missing ({names}). Install them with: sudo apt install {apt}  (Fedora: sudo dnf install {dnf})"
    )


def check(
    env: Mapping[str, str] | None = None, load: Callable[[str], object] = ctypes.CDLL
) -> str | None:
    """None when the window can open as far as the system libraries go, else the message."""
    if not uses_xcb(env):
        return None
    missing = missing_libraries(load)
    return install_message(missing) if missing else None
