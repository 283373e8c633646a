"""``photofind --install-desktop-entry``: for a pip install, what the .deb puts in place.

Writes ``photofind.desktop`` (the same entry as ``resources/photofind.desktop``, with ``Exec``
pointing at this install's ``photofind``) to ``$XDG_DATA_HOME/applications`` and the icon to
``$XDG_DATA_HOME/icons/hicolor/scalable/apps``, then refreshes the desktop database when the tool
is there. File managers then offer "Open with photofind" for JPEG, PNG, WebP, HEIC/HEIF, AVIF,
GIF, TIFF and BMP files, and dropping files on the launcher opens them (``Exec=... %F``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

MIME_TYPES = (
    "image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif",
    "image/gif", "image/tiff", "image/bmp",
)


def entry_text(command: str = "photofind") -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=photofind",
        "GenericName=Photo search by example",
        "Comment=Find photos in your own collection by example: drop an image, see your photos ranked by similarity",
        f"Exec={command} %F",
        "Icon=photofind",
        "Terminal=false",
        "Categories=Graphics;Photography;Viewer;Qt;",
        "Keywords=photo;image;search;similar;duplicates;",
        "MimeType=" + ";".join(MIME_TYPES) + ";",
        "StartupWMClass=photofind",
        "",
    ])


def launcher_command() -> str:
    """How the desktop starts this install: its ``photofind`` script, else this Python."""
    script = Path(sys.executable).with_name("photofind")
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    found = shutil.which("photofind")
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m photofind"


def install(data_home: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the entry and the icon; returns the files written."""
    from photofind.gui.icon import SVG

    base = Path(data_home or os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    apps = base / "applications"
    icons = base / "icons" / "hicolor" / "scalable" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    icons.mkdir(parents=True, exist_ok=True)
    entry, icon = apps / "photofind.desktop", icons / "photofind.svg"
    entry.write_text(entry_text(launcher_command()), encoding="utf-8")
    icon.write_text(SVG, encoding="utf-8")
    tool = shutil.which("update-desktop-database")
    if tool:
        subprocess.run([tool, str(apps)], check=False, capture_output=True, timeout=60)
    return [entry, icon]
