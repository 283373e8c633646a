"""Two photofind processes on one library: one writer at a time, readers always welcome.

Decision (documented in the CLI's exit codes): a second ``photofind index`` does not wait; it
exits at once with status 3 and says the library is busy, so a script or a user is never left
staring at a silent process. Searching while another process indexes works (SQLite WAL: readers
never block the writer and see the last committed batch).

The first writer runs in this test process, on the real model behind a ``GatedEmbedder``: it
embeds and commits one batch, then waits at the gate, writer lock held, until the test has run
the second ``photofind index`` and a ``photofind search`` (both real processes). So the test
knows the run is in progress, on any machine, instead of hoping 600 photos keep it busy.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from photofind.config import get_paths
from photofind.core.indexing.indexer import IndexReport
from photofind.core.models.registry import create_embedder
from tests.fake_library import library_with
from tests.fakes import GatedEmbedder
from tests.reliability.helpers import (
    REPO_ROOT,
    as_json,
    assert_untouched,
    db_rows,
    photofind,
    snapshot,
)
from tests.synthetic_photos import write_photos

if str(REPO_ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "bench"))

from chaos import count_embeddings

pytestmark = pytest.mark.slow


def test_second_indexer_is_told_busy_and_search_works_meanwhile(tmp_path: Path) -> None:
    n, batch = 12, 4
    photos = tmp_path / "photos"
    write_photos(photos, range(n))
    before = snapshot(photos)
    data = tmp_path / "data"
    paths = get_paths(data).ensure()
    gate = GatedEmbedder(create_embedder(None, paths.models_dir, device="cpu", threads=1), free_batches=1)
    lib = library_with(paths, gate, device="cpu")
    folder = lib.add_folder(photos)
    reports: list[IndexReport] = []
    errors: list[BaseException] = []

    def first_run() -> None:  # what `photofind index PHOTOS` does, in a thread of this process
        try:
            reports.append(lib.run_index([folder], batch_size=batch))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    first = threading.Thread(target=first_run, daemon=True)
    first.start()
    try:
        _wait_for(lambda: gate.entered.is_set() or not first.is_alive(), timeout_s=120)
        assert gate.entered.is_set(), errors or "the first run ended before its second batch"
        committed = _wait_for(lambda: _embedded_paths(data), timeout_s=60)  # batch 1 is in the DB
        assert len(committed) == batch

        second = photofind(data, "index", "--json", check=False)
        assert second.returncode == 3, (second.stdout, second.stderr)
        assert "busy" in second.stderr and "another photofind is indexing" in second.stderr

        query = min(committed)
        during = as_json(photofind(data, "search", query, "-k", "5", "--json"))
        assert during["hits"] and during["hits"][0]["path"] == query
        assert len(during["hits"]) == batch  # it sees the committed batch, nothing more
        assert first.is_alive() and gate.calls == 2  # still held at the gate all along
    finally:
        gate.release()
        first.join(120)
    assert not first.is_alive() and not errors, errors
    assert reports[0].added == n and not reports[0].cancelled
    lib.close()

    # What the next process sees: every photo embedded once, all of them in the search index.
    stats = as_json(photofind(data, "stats", "--json"))
    assert (stats["photos"], stats["embedded"], stats["skipped"]) == (n, n, 0), stats
    hits = as_json(photofind(data, "search", query, "-k", str(2 * n), "--json"))["hits"]
    assert sorted(h["path"] for h in hits) == sorted(str(p) for p in photos.iterdir())
    assert as_json(photofind(data, "index", "--json"))["unchanged"] == n  # now free again
    assert_untouched(before, snapshot(photos))


def _embedded_paths(data: Path) -> set[str]:
    """Paths of the photos with a vector in the library DB (read-only, as another process)."""
    if count_embeddings(data / "library.sqlite3") == 0:
        return set()
    return {path for path, row in db_rows(data).items() if row["models"]}


def _wait_for(condition, timeout_s: float):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it is truthy (a state the test caused, not a guess at speed)."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value
