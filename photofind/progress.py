"""A terminal progress bar for the CLI (stderr; redrawn in place on a terminal, sparse lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from photofind.core.indexing.backfill import BACKFILL_LABELS
from photofind.core.indexing.indexer import Progress


class ProgressBar:
    """Renders ``Progress`` reports from the index job (the run, then its backfills); at most a
    few redraws a second. ``close()`` ends a line still open (a run stopped mid-phase)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_phase = ""
        self._line_open = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        phase_changed = p.phase != self._last_phase
        self._last_phase = p.phase
        final = p.phase == "done" or (p.total and p.done >= p.total)
        interval = 0.2 if self.tty else 5.0
        if not (phase_changed or final or now - self._last_draw >= interval):
            return
        self._last_draw = now
        if p.phase == "done":
            self._end_line()
            return
        line = self._format(p)
        if self.tty:
            self.stream.write("\r" + line.ljust(100)[:100])
            self._line_open = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        if p.phase in BACKFILL_LABELS and final:
            self._end_line()  # a backfill has no "done" report of its own

    def close(self) -> None:
        self._end_line()

    def _format(self, p: Progress) -> str:
        if p.phase == "scanning":
            return f"Scanning folders {p.done}/{p.total}"
        if p.phase == "saving":
            return "Saving the search index..."
        total = max(p.total, 1)
        filled = int(self.width * p.done / total)
        bar = "#" * filled + "-" * (self.width - filled)
        if p.phase in BACKFILL_LABELS:
            return f"{BACKFILL_LABELS[p.phase]} [{bar}] {p.done}/{p.total}"
        rate = f" {p.rate:5.1f} photos/s" if p.rate else ""
        eta = f" ETA {_duration(p.eta_s)}" if p.eta_s is not None else ""
        return f"Indexing [{bar}] {p.done}/{p.total}{rate}{eta}"

    def _end_line(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
