"""Work-arounds for bugs in the installed Qt binding, each applied only when detected.

PySide6 6.12.0: ``SignalInstance.emit`` returns ``True`` without a new reference, so every
signal emitted from Python takes one reference from ``True``. On Python < 3.12 (where ``True``
is not immortal) the app then aborts with "Fatal Python error: bool_dealloc" after a few
hundred emits. 6.11.x is fine; the fix here probes the behaviour at import and, only if the
reference really goes missing, wraps ``emit`` to add the missing reference back.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

logger = logging.getLogger(__name__)

_applied = False


class _Probe(QObject):
    ping = Signal()


def emit_leaks_bool() -> bool:
    """True when ``SignalInstance.emit`` loses a reference to its return value."""
    probe = _Probe()
    result = probe.ping.emit()
    if not isinstance(result, bool):
        return False
    before = sys.getrefcount(result)
    for _ in range(8):
        probe.ping.emit()
    return sys.getrefcount(result) <= before - 8


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    if not emit_leaks_bool():
        return
    original = SignalInstance.emit

    def emit(self, *args):  # type: ignore[no-untyped-def]
        result = original(self, *args)
        ctypes.pythonapi.Py_IncRef(
            ctypes.py_object(result)
        )  # the reference emit forgot
        return result

    SignalInstance.emit = emit  # type: ignore[method-assign]
    logger.info(
        "Patched SignalInstance.emit (this PySide6 drops a reference to its result)"
    )
