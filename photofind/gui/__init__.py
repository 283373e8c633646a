"""The desktop app (the only package that imports PySide6)."""

from photofind.gui import qt_fixes as _qt_fixes

_qt_fixes.apply()
