"""Crash safety in CI: SIGKILL the real ``photofind index`` 5 times on 150 photos, then verify.

The full run (20 kills, 300 photos) is ``python bench/chaos.py``; this is the same code with
smaller numbers. See ``bench/chaos.py`` for what is checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.reliability.helpers import REPO_ROOT
from tests.synthetic_photos import write_photos

sys.path.insert(0, str(REPO_ROOT / "bench"))

import chaos

pytestmark = pytest.mark.slow


def test_kill_nine_mid_index_loses_nothing(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_photos(source, range(150))  # photo-like JPEGs, as big as the Corel ones
    lines: list[str] = []
    res = chaos.run_chaos(tmp_path / "run", photos=150, kills=5, seed=7, source=source, log=lines.append)
    print("\n".join(lines))
    assert res.ok, res.problems
    assert res.kills_landed == 5 and res.kills_survived == 5, lines
    assert (res.photos_lost, res.duplicate_rows, res.bad_embedding_counts, res.files_modified) == (0, 0, 0, 0)
    assert res.index_outcome == "loaded" and res.index_agrees
    assert res.queries == 20 and res.query_mismatches == 0 and res.max_score_diff <= 1e-5
