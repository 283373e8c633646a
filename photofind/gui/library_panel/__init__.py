"""The library side of the window: the folder list, skipped files, watching folders."""

from photofind.gui.library_panel.panel import FolderScope, LibraryPanel
from photofind.gui.library_panel.skipped_dialog import SkippedDialog
from photofind.gui.library_panel.watch import FolderWatch

__all__ = ["FolderScope", "FolderWatch", "LibraryPanel", "SkippedDialog"]
