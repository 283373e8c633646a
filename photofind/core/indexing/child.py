"""The index job in a child process: ``photofind index --progress-jsonl`` driven from Python.

The app runs its index job this way. The child has its own interpreter, so indexing (decoders,
SQLite writes, HNSW inserts, the ranking space) never competes for the window's GIL, and a
decoder that crashes natively on a hostile file ends the child, not the window (the parent
reports it; the next run resumes, each batch being one transaction).

Protocol: the child prints one JSON object a line on stdout, ``{"event": "progress", ...}`` per
progress report and ``{"event": "report", ...}`` (``IndexReport.to_dict``) at the end; it reads
``pause``, ``resume`` and ``cancel`` lines on stdin, and cancels when stdin ends (so a parent
that dies never leaves an index run behind). Exit code 3 means the library was busy.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from photofind.core.indexing.indexer import IndexReport, Progress

logger = logging.getLogger(__name__)

EXIT_BUSY = 3


class IndexChildBusy(RuntimeError):
    """The child found the library locked by another writer (its message says so)."""


class IndexChildFailed(RuntimeError):
    """The child ended without a report (a crash, a kill, an error it printed)."""


def progress_line(p: Progress) -> str:
    """One progress report as the child prints it."""
    return json.dumps({"event": "progress", "phase": p.phase, "done": p.done, "total": p.total,
                       "path": p.path, "rate": p.rate, "eta_s": p.eta_s}, ensure_ascii=False)


def follow_controls(stream: IO[str], cancel: threading.Event, pause: threading.Event) -> threading.Thread:
    """In the child: apply ``pause``/``resume``/``cancel`` lines from ``stream`` (its end cancels)."""

    def read() -> None:
        for line in stream:
            word = line.strip()
            if word == "pause":
                pause.set()
            elif word == "resume":
                pause.clear()
            elif word == "cancel":
                break
        pause.clear()
        cancel.set()

    thread = threading.Thread(target=read, name="index-controls", daemon=True)
    thread.start()
    return thread


def index_command(data_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    """The command line of an index child for the library in ``data_dir``."""
    if getattr(sys, "frozen", False):  # the packaged app: its executable is the CLI too
        head = [sys.executable]
    else:
        head = [sys.executable, "-m", "photofind"]
    return [*head, "index", "--progress-jsonl", "--data-dir", str(data_dir), *extra]


def run_index_in_child(
    data_dir: Path,
    folders: Sequence[str] | None = None,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    pause: threading.Event | None = None,
    lock_timeout: float = 0.0,
    extra_args: Sequence[str] = (),
) -> IndexReport:
    """Run the index job of the library in ``data_dir`` in a child process and wait for it.

    Same meaning as ``Library.run_index``; raises ``IndexChildBusy`` when another process writes
    the library, ``IndexChildFailed`` when the child ends without a report.
    """
    args = [*extra_args, "--lock-timeout", str(lock_timeout), *(folders or [])]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen(
        index_command(data_dir, args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="backslashreplace", env=env,
    )
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.extend(child.stderr), name="index-child-stderr", daemon=True)  # type: ignore[arg-type]
    drain.start()
    done = threading.Event()
    controls = threading.Thread(
        target=_send_controls, args=(child, cancel, pause, done), name="index-child-controls", daemon=True
    )
    controls.start()
    report: IndexReport | None = None
    try:
        for line in child.stdout:
            event = _parse(line)
            if event is None:
                continue
            if event.get("event") == "progress" and progress is not None:
                progress(Progress(event["phase"], event["done"], event["total"], event.get("path"),
                                  event.get("rate"), event.get("eta_s")))
            elif event.get("event") == "report":
                report = IndexReport.from_dict(event)
        code = child.wait()
    finally:
        done.set()
        if child.poll() is None:
            child.kill()
            child.wait()
        drain.join(timeout=5)
    message = "".join(stderr).strip().splitlines()
    if code == EXIT_BUSY:
        raise IndexChildBusy(_strip(message[-1]) if message else "the library is busy")
    if report is None or code != 0:
        detail = _strip(message[-1]) if message else f"exit code {code}"
        raise IndexChildFailed(f"Indexing stopped unexpectedly: {detail}")
    return report


def _send_controls(
    child: subprocess.Popen[str], cancel: threading.Event | None, pause: threading.Event | None,
    done: threading.Event,
) -> None:
    """Forward the parent's cancel and pause to the child's stdin until it ends."""
    assert child.stdin is not None
    paused = False
    try:
        while not done.wait(0.1):
            if cancel is not None and cancel.is_set():
                child.stdin.write("cancel\n")
                child.stdin.flush()
                return
            want = pause is not None and pause.is_set()
            if want != paused:
                child.stdin.write("pause\n" if want else "resume\n")
                child.stdin.flush()
                paused = want
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child has ended
    finally:
        try:
            child.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass


def _parse(line: str) -> dict | None:  # type: ignore[type-arg]
    line = line.strip()
    if not line.startswith("{\"event\""):
        return None
    try:
        return json.loads(line)
    except ValueError:
        logger.warning("index child printed an unreadable line: %.200s", line)
        return None


def _strip(message: str) -> str:
    return message.removeprefix("photofind: ")
