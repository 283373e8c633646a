"""Keeping the library up to date while folders change: the core's ``FolderWatcher`` for the app.

``FolderWatch.sync(rows)`` watches the library's folders (started on the first folder list);
changes reach ``on_change`` (the index service's thread-safe ``request_index``) on the
watcher's own thread. Off for a read-only library and when watching is switched off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from photofind.core.watcher import FolderWatcher
from photofind.store.repository import FolderRow

logger = logging.getLogger(__name__)


class FolderWatch:
    def __init__(
        self,
        on_change: Callable[[set[str]], None],
        *,
        enabled: bool,
        debounce_s: float = 2.0,
        ignore: list[Path] | None = None,
    ) -> None:
        self._on_change = on_change
        self.enabled = enabled
        self._debounce_s = debounce_s
        self._ignore = list(ignore or [])
        self._watcher: FolderWatcher | None = None
        self._stopped = False

    @property
    def watched_paths(self) -> set[str]:
        return set(self._watcher.watched_paths) if self._watcher is not None else set()

    @property
    def running(self) -> bool:
        return self._watcher is not None

    def sync(self, rows: list[FolderRow]) -> None:
        if not self.enabled or self._stopped:
            return
        paths = [r.path for r in rows]
        if self._watcher is None:
            self._watcher = FolderWatcher(
                paths, self._on_change, self._debounce_s, ignore=self._ignore
            )
            self._watcher.start()
        else:
            self._watcher.set_paths(paths)

    def stop(self) -> None:
        self._stopped = True
        if self._watcher is not None:
            self._watcher.stop()
