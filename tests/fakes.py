"""Fast stand-ins for the model, for unit tests of the pipeline around it.

``FakeEmbedder`` maps a photo to a small vector derived from its pixels (a colour layout), so
identical images give identical vectors and similar images similar ones, without running a
neural network. It counts how many images it embedded, so tests can prove work was not redone.

``GatedEmbedder`` wraps an embedder with a gate, so a test knows for certain that an index run
is in the middle of its work (see its docstring).
"""

from __future__ import annotations

import threading

import numpy as np

from photofind.core.models.spec import PreprocessSpec

FAKE_SPEC = PreprocessSpec(size=32, resize="squash", mean=(127.0,) * 3, std=(128.0,) * 3)


class FakeEmbedder:
    model_id = "fake-colour-layout:v1"
    dim = 48
    preprocess = FAKE_SPEC

    def __init__(self) -> None:
        self.embedded = 0
        self._lock = threading.Lock()

    def embed(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.embedded += len(batch)
        n = len(batch)
        # (N, 3, 32, 32) -> 4x4 grid of mean colours -> 48 values
        grid = batch.reshape(n, 3, 4, 8, 4, 8).mean(axis=(3, 5)).reshape(n, -1)
        grid = grid - grid.mean(axis=1, keepdims=True) + 1e-3
        return (grid / np.linalg.norm(grid, axis=1, keepdims=True)).astype(np.float32)


class GatedEmbedder:
    """An embedder (``FakeEmbedder`` unless given another) with a gate a test opens and closes.

    The first ``free_batches`` calls of ``embed`` go straight through; every later call sets
    ``entered`` and then blocks until the test calls ``release()``. A test that waits for
    ``entered`` therefore *knows* the index run is mid-run (it has written the free batches and
    holds the writer lock), however fast or slow the machine is, instead of hoping a big enough
    photo folder keeps it busy. A gate never released fails the run after ``timeout_s`` rather
    than hanging the suite. Everything else (``model_id``, ``dim``, ``preprocess``, ...) is the
    wrapped embedder's.
    """

    def __init__(self, inner: object | None = None, free_batches: int = 0, timeout_s: float = 120.0) -> None:
        self.inner = inner if inner is not None else FakeEmbedder()
        self.free_batches = free_batches
        self.timeout_s = timeout_s
        self.entered = threading.Event()
        self.calls = 0
        self._open = threading.Event()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if name == "inner":  # not set yet (copy, pickle): no endless recursion
            raise AttributeError(name)
        return getattr(self.inner, name)  # model_id, dim, preprocess, feature_map, ...

    def embed(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.calls += 1
            gated = self.calls > self.free_batches
        if gated:
            self.entered.set()
            if not self._open.wait(self.timeout_s):
                raise TimeoutError(f"GatedEmbedder: the test never released the gate ({self.timeout_s} s)")
        return self.inner.embed(batch)  # type: ignore[attr-defined]

    def wait_entered(self, timeout_s: float = 120.0) -> bool:
        """Block until a call is held at the gate (False after ``timeout_s``)."""
        return self.entered.wait(timeout_s)

    def release(self) -> None:
        """Open the gate: the held call and every later one go through (until ``hold_after``)."""
        self._open.set()

    def hold_after(self, free_batches: int) -> None:
        """(Re)close the gate: the next ``free_batches`` calls go through, the one after that
        waits at the gate (and sets ``entered``) until ``release()``. For a gate that stays open
        while a test sets up, and closes for the run under test."""
        with self._lock:
            self.free_batches = self.calls + free_batches
            self.entered.clear()
            self._open.clear()
