"""Help menu entries that are not about one window's state: Help > Open log folder.

The log folder is where ``photofind/logs.py`` writes ``photofind.log`` (``Paths.logs_dir``);
a user asked for a log opens it from here and sends the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from photofind.logs import active_log_file

logger = logging.getLogger(__name__)


def add_log_folder_action(menu: QMenu, log_dir: Path, parent: QWidget | None = None) -> QAction:
    """Add "Open log folder" to ``menu``; it opens the folder of the log file in use (else
    ``log_dir``) in the file manager."""
    action = QAction("Open &log folder", parent or menu)
    action.triggered.connect(lambda _checked=False: open_log_folder(log_dir, parent))
    menu.addAction(action)
    return action


def log_folder(log_dir: Path) -> Path:
    """The folder of the log file this process writes (``log_dir`` when there is none)."""
    active = active_log_file()
    return active.parent if active is not None else Path(log_dir)


def open_log_folder(log_dir: Path, parent: QWidget | None = None) -> bool:
    """Show the log folder in the platform's file manager; says where it is if that fails."""
    folder = log_folder(log_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # openUrl then fails and the message names the folder
    if folder.is_dir() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        return True
    logger.warning("Cannot open the log folder %s", folder)
    QMessageBox.information(
        parent, "photofind", f"The log folder could not be opened here. It is:\n\n{folder}"
    )
    return False
