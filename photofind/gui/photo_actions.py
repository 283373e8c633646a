"""What the user can do with one photo of the results: open, reveal, copy its path.

The system viewer and file manager are reached through ``QDesktopServices`` (or the platform's
own "select this file" command); tests swap ``open_url`` for a recorder.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication


def open_url(url: QUrl) -> bool:
    return QDesktopServices.openUrl(url)


def open_photo(path: str) -> bool:
    """Open the photo in the system's default viewer."""
    return open_url(QUrl.fromLocalFile(path))


def reveal_in_folder(path: str) -> bool:
    """Show the photo in the file manager (selected where the platform allows it)."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    if sys.platform == "win32":
        return QProcess.startDetached(
            "explorer", [f"/select,{os.path.normpath(path)}"]
        )[0]
    return open_url(QUrl.fromLocalFile(os.path.dirname(path)))


def copy_path(paths: list[str]) -> None:
    QGuiApplication.clipboard().setText("\n".join(paths))
