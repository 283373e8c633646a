"""The PySide6 6.12.0 emit reference bug must not take the app down."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

import photofind.gui  # noqa: F401 - applies the fixes
from photofind.gui.qt_fixes import emit_leaks_bool


class _Source(QObject):
    changed = Signal(int)


def test_emitting_keeps_the_reference_count_of_true() -> None:
    source = _Source()
    before = sys.getrefcount(True)
    for i in range(2000):
        source.changed.emit(i)
    assert sys.getrefcount(True) >= before - 5
    assert not emit_leaks_bool()
