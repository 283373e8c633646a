"""Two photofind processes on one library: one writer at a time, readers always welcome.

Decision (documented in the CLI's exit codes): a second ``photofind index`` does not wait; it
exits at once with status 3 and says the library is busy, so a script or a user is never left
staring at a silent process. Searching while another process indexes works (SQLite WAL: readers
never block the writer and see the last committed batch).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from photofind.config import get_paths
from photofind.core.library import Library
from tests.reliability.helpers import (
    REPO_ROOT,
    as_json,
    assert_untouched,
    cli_command,
    cli_env,
    copy_corel,
    photofind,
    snapshot,
)

if str(REPO_ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "bench"))

from chaos import count_embeddings  # noqa: E402  (bench/chaos.py)

pytestmark = pytest.mark.slow


def test_second_indexer_is_told_busy_and_search_works_meanwhile(tmp_path: Path, corel_dir: Path) -> None:
    # Enough photos that the first run is still going after the second index and a search
    # (each a process start, ~1-2 s): at ~70 photos/s, 200 photos were too few on a quiet CI.
    n = 600
    photos = tmp_path / "photos"
    copy_corel(corel_dir, photos, range(n))
    before = snapshot(photos)
    data = tmp_path / "data"
    first = subprocess.Popen(
        cli_command("index", str(photos), "--json"), env=cli_env(data), cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while count_embeddings(data / "library.sqlite3") == 0:  # wait until the first one is writing batches
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.05)

        second = photofind(data, "index", "--json", check=False)
        assert second.returncode == 3, (second.stdout, second.stderr)
        assert "busy" in second.stderr and "another photofind is indexing" in second.stderr

        during = as_json(photofind(data, "search", str(photos / "0.jpg"), "-k", "5", "--json"))
        assert during["hits"] and during["hits"][0]["path"] == str(photos / "0.jpg")
        assert first.poll() is None, "the first run ended too early for this test to mean anything"

        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0 and "Traceback" not in err, err
    assert as_json(subprocess.CompletedProcess([], 0, out, err))["added"] == n

    lib = Library(get_paths(data), device="cpu")
    try:
        db_ids = set(lib.repo.embedded_ids(lib.model_info.model_id).tolist())
        assert len(db_ids) == n and set(lib.vector_index.ids().tolist()) == db_ids
    finally:
        lib.close()
    assert as_json(photofind(data, "index", "--json"))["unchanged"] == n  # now free again
    assert_untouched(before, snapshot(photos))
