"""The error every way of finding a model (bundled, built-in, user-registered) raises."""

from __future__ import annotations


class ModelNotAvailable(RuntimeError):
    """The requested model cannot be used here; the message says what to do about it."""
