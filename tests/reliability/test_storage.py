"""photofind's own files under stress: read-only data dir, full disk, damaged DB or index file.

How each condition is made real (the tests run as root in CI, where ``chmod`` means nothing):

- **read-only data dir**: ``chmod -R a-w`` and the CLI runs without ``CAP_DAC_OVERRIDE`` (see
  ``helpers.without_dac_override``), so the kernel really refuses every write, as on a
  read-only mount or a library owned by another user.
- **disk full**: the CLI runs with ``RLIMIT_FSIZE`` just above what it has written so far;
  the kernel then fails writes past that size with ``EFBIG`` (Python ignores ``SIGXFSZ``),
  which SQLite reports as it reports ``ENOSPC``: "database or disk is full".
- **damage**: random bytes or truncation written over the files between runs.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from photofind.store.db import backup_database
from tests.reliability.helpers import (
    REPO_ROOT,
    as_json,
    assert_untouched,
    cli_command,
    cli_env,
    photofind,
    snapshot,
    without_dac_override,
)
from tests.synthetic_photos import write_photos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A library of 12 photo-like JPEGs, indexed once; tests copy it before damaging anything."""
    root = tmp_path_factory.mktemp("small")
    photos = root / "photos"
    write_photos(photos, range(0, 1000, 84))
    data = root / "data"
    assert as_json(photofind(data, "index", str(photos), "--json"))["added"] == 12
    return photos, data


@pytest.fixture()
def library(small_library: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    photos, data = small_library
    copy = tmp_path / "data"
    shutil.copytree(data, copy, symlinks=True)
    return photos, copy


def _chmod_tree(root: Path, writable: bool) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            mode = os.stat(p).st_mode
            os.chmod(p, (mode | stat.S_IWUSR) if writable else (mode & ~0o222))
        mode = os.stat(dirpath).st_mode
        os.chmod(dirpath, (mode | stat.S_IWUSR) if writable else (mode & ~0o222))


def _integrity(data: Path) -> str:
    con = sqlite3.connect(f"file:{data / 'library.sqlite3'}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test_read_only_data_dir_still_searches_and_index_says_why_not(
    library: tuple[Path, Path], tmp_path: Path
) -> None:
    photos, data = library
    before = snapshot(data)
    query = photos / "84.jpg"
    index_file = Path(as_json(photofind(data, "stats", "--json"))["index_file"])
    _chmod_tree(data, writable=False)
    try:
        result = as_json(photofind(data, "search", str(query), "-k", "3", "--json"))
        assert result["hits"][0]["path"] == str(query) and len(result["hits"]) == 3
        assert as_json(photofind(data, "stats", "--json"))["embedded"] == 12
        assert len(as_json(photofind(data, "folders", "--json"))) == 1

        proc = photofind(data, "index", check=False)
        assert proc.returncode == 1, proc.stderr
        assert "can only be read" in proc.stderr and "searching works" in proc.stderr

        # Even a damaged index file only costs a rebuild in memory: search still answers.
        _chmod_tree(data, writable=True)
        index_file.write_bytes(index_file.read_bytes()[: index_file.stat().st_size // 2])
        before = snapshot(data)
        _chmod_tree(data, writable=False)
        # VectorIndex.open logs its failed save with a traceback (a logged warning; the
        # command itself succeeds).
        proc = photofind(data, "search", str(query), "-k", "1", "--json", tracebacks_ok=True)
        assert as_json(proc)["hits"][0]["path"] == str(query)
        assert "could not be saved" in proc.stderr
    finally:
        _chmod_tree(data, writable=True)
    after = snapshot(data)
    assert {k: v[4] for k, v in after.items()} == {k: v[4] for k, v in before.items()}  # nothing written
    assert _integrity(data) == "ok"


def test_disk_full_fails_clearly_and_loses_nothing(
    library: tuple[Path, Path], tmp_path: Path
) -> None:
    photos, data = library
    more = tmp_path / "more"
    write_photos(more, range(1, 101))
    before = snapshot(more)
    limit = 64 * 1024  # the WAL can't grow past the first batch of embeddings

    def full_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        dac = without_dac_override()
        if dac is not None:
            dac()

    proc = subprocess.run(
        cli_command("index", str(more)), env=cli_env(data), cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=300, preexec_fn=full_disk, check=False,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "cannot write the library" in proc.stderr and "full" in proc.stderr, proc.stderr

    assert _integrity(data) == "ok"
    stats = as_json(photofind(data, "stats", "--json"))
    assert stats["embedded"] >= 12  # nothing already indexed was lost
    hit = as_json(photofind(data, "search", str(photos / "84.jpg"), "-k", "1", "--json"))["hits"][0]
    assert hit["path"] == str(photos / "84.jpg")

    report = as_json(photofind(data, "index", "--json"))  # space is back: the run completes
    assert not report["cancelled"]
    assert as_json(photofind(data, "stats", "--json"))["embedded"] == 112
    assert_untouched(before, snapshot(more))


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_damaged_database_is_reported_with_the_backup_never_replaced(
    library: tuple[Path, Path], damage: str
) -> None:
    photos, data = library
    db = data / "library.sqlite3"
    backup = backup_database(db, data / "backups", "test")
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    if damage == "random bytes":
        db.write_bytes(os.urandom(db.stat().st_size))
    else:
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    damaged = db.read_bytes()

    for command in (["stats"], ["search", str(photos / "84.jpg")], ["index"]):
        proc = photofind(data, *command, check=False)
        assert proc.returncode == 1, (command, proc.stderr)
        assert "damaged" in proc.stderr and str(backup) in proc.stderr, proc.stderr
    assert db.read_bytes() == damaged  # never silently replaced or "repaired"


def test_truncated_index_file_is_rebuilt_from_the_database(library: tuple[Path, Path]) -> None:
    photos, data = library
    index_file = Path(as_json(photofind(data, "stats", "--json"))["index_file"])
    index_file.write_bytes(index_file.read_bytes()[:1000])
    result = as_json(photofind(data, "search", str(photos / "168.jpg"), "-k", "12", "--json"))
    assert result["hits"][0]["path"] == str(photos / "168.jpg") and len(result["hits"]) == 12
    assert index_file.stat().st_size > 1000  # rebuilt and saved again
