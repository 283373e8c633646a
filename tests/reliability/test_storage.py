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

import json
import os
import resource
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from photofind.core.search.ranking import RankingSettings
from photofind.core.vectors.vector_index import VectorIndex
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

_DEFAULT = RankingSettings()
#: Photos of the library the default ranking runs on: past ``min_photos`` (a learned space) and
#: past ``pca_dim + 1``, so the PCA has all its dimensions (a library of 200-256 photos gets a
#: narrower one that the index job refits on every run; see the report of this change).
RANKED_PHOTOS = max(_DEFAULT.min_photos, _DEFAULT.pca_dim + 1) + 9


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A library of 12 photo-like JPEGs, indexed once; tests copy it before damaging anything."""
    root = tmp_path_factory.mktemp("small")
    photos = root / "photos"
    write_photos(photos, range(0, 1000, 84))
    data = root / "data"
    assert as_json(photofind(data, "index", str(photos), "--json"))["added"] == 12
    return photos, data


@pytest.fixture(scope="module")
def ranked_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A library large enough for the default ranking, indexed once by the real CLI: the index
    job saved its ranking space (PCA + DBA), which searches then load."""
    root = tmp_path_factory.mktemp("ranked")
    photos = root / "photos"
    write_photos(photos, range(RANKED_PHOTOS), width=256, height=192)
    data = root / "data"
    assert as_json(photofind(data, "index", str(photos), "--json"))["added"] == RANKED_PHOTOS
    assert _space_file(data).is_file()
    return photos, data


def _copy(library: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    photos, data = library
    copy = tmp_path / "data"
    shutil.copytree(data, copy, symlinks=True)
    return photos, copy


@pytest.fixture()
def ranked(ranked_library: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    return _copy(ranked_library, tmp_path)


@pytest.fixture()
def library(small_library: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    return _copy(small_library, tmp_path)


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


def _hits(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, float]]:
    return [(h["path"], h["score"]) for h in as_json(proc)["hits"]]


def _space_file(data: Path) -> Path:
    """The saved ranking space's index file (the library must have one)."""
    (space,) = [p for p in (data / "index").glob("*.pca*.hnsw")]
    return space


def _model_index_file(data: Path) -> Path:
    (raw,) = [p for p in (data / "index").glob("*.hnsw") if ".pca" not in p.name]
    return raw


def test_read_only_data_dir_searches_with_the_saved_ranking_and_writes_nothing(
    ranked: tuple[Path, Path]
) -> None:
    photos, data = ranked
    query = photos / "84.jpg"
    space = _space_file(data)
    before = snapshot(data)
    # What a writable library answers (and even there a search writes nothing).
    ref = photofind(data, "-v", "search", str(query), "-k", "10", "--json")
    plain_ref = photofind(data, "search", str(query), "-k", str(RANKED_PHOTOS), "--ranking", "plain", "--json")
    assert f"ranking space {space.name}: loaded {RANKED_PHOTOS} vectors" in ref.stderr, ref.stderr
    assert snapshot(data) == before
    _chmod_tree(data, writable=False)
    try:
        proc = photofind(data, "-v", "search", str(query), "-k", "10", "--json")
        # the full default ranking, from the space the index job saved: same answer, nothing built
        assert _hits(proc) == _hits(ref) and _hits(proc)[0] == (str(query), 1.0)
        assert f"ranking space {space.name}: loaded {RANKED_PHOTOS} vectors" in proc.stderr, proc.stderr
        assert "in memory" not in proc.stderr, proc.stderr
        warnings = [line for line in proc.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
        assert len(warnings) == 1 and "opening it read-only" in warnings[0], warnings  # no failed save
        # ... which is not plain cosine: over the whole library the order differs
        ranked_all = photofind(data, "search", str(query), "-k", str(RANKED_PHOTOS), "--json")
        plain = photofind(data, "search", str(query), "-k", str(RANKED_PHOTOS), "--ranking", "plain", "--json")
        assert _hits(plain) == _hits(plain_ref) and len(_hits(plain)) == RANKED_PHOTOS
        assert [p for p, _ in _hits(ranked_all)] != [p for p, _ in _hits(plain)]
        assert as_json(photofind(data, "stats", "--json"))["embedded"] == RANKED_PHOTOS
        assert len(as_json(photofind(data, "folders", "--json"))) == 1
    finally:
        _chmod_tree(data, writable=True)
    assert snapshot(data) == before  # not a byte, not a file, not an mtime
    assert _integrity(data) == "ok"


def test_read_only_data_dir_index_exits_1_saying_it_can_only_be_read(
    library: tuple[Path, Path], tmp_path: Path
) -> None:
    _photos, data = library
    more = tmp_path / "more"
    write_photos(more, [5000])
    before = snapshot(data)
    _chmod_tree(data, writable=False)
    try:
        for command in (["index"], ["index", str(more)], ["folders", "add", str(more)]):
            proc = photofind(data, *command, check=False)
            assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
            assert proc.stdout == ""
            why = proc.stderr.strip().splitlines()
            assert why and why[-1].startswith(f"photofind: The library in {data} can only be read"), proc.stderr
            assert "searching works, indexing does not" in why[-1]
    finally:
        _chmod_tree(data, writable=True)
    assert snapshot(data) == before
    assert len(as_json(photofind(data, "folders", "--json"))) == 1  # the folder was not added


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


@pytest.mark.parametrize("damaged", ["model index", "ranking space"])
def test_damaged_index_file_is_searched_around_in_memory_then_rebuilt_by_the_index_job(
    damaged: str, request: pytest.FixtureRequest
) -> None:
    """The model's own index (what a small library searches) or the ranking space (a large
    one's), cut in half: a search answers as before from an index it builds in memory and leaves
    the damaged file as it is; the next ``photofind index`` rebuilds and saves it, and searches
    load it again."""
    photos, data = request.getfixturevalue("library" if damaged == "model index" else "ranked")
    n = 12 if damaged == "model index" else RANKED_PHOTOS
    query = photos / "168.jpg"
    target = _model_index_file(data) if damaged == "model index" else _space_file(data)
    built = (
        f"model index {target.name}: built {n} vectors in memory"
        if damaged == "model index"
        else f"ranking space {target.name}: built {n} vectors in memory"
    )
    ref = photofind(data, "search", str(query), "-k", "12", "--json")
    assert len(_hits(ref)) == 12 and _hits(ref)[0] == (str(query), 1.0)

    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    before = snapshot(data)
    for _ in range(2):  # the second search finds the file as damaged as the first
        proc = photofind(data, "-v", "search", str(query), "-k", "12", "--json")
        assert _hits(proc) == _hits(ref)
        assert built in proc.stderr, proc.stderr
        assert snapshot(data) == before  # the damaged file untouched, nothing else written

    report = as_json(photofind(data, "index", "--json"))
    assert not report["cancelled"] and report["added"] == 0
    assert _saved_vectors(target) == n, f"{target.name} was not saved again"
    proc = photofind(data, "-v", "search", str(query), "-k", "12", "--json")
    assert _hits(proc) == _hits(ref)
    assert "in memory" not in proc.stderr, proc.stderr
    if damaged == "ranking space":
        assert f"ranking space {target.name}: loaded {n} vectors" in proc.stderr, proc.stderr


def _saved_vectors(index_file: Path) -> int | None:
    """How many vectors a saved index file loads with (None: its sidecar does not vouch for it)."""
    meta = json.loads(index_file.with_name(index_file.name + ".json").read_text())
    index = VectorIndex(index_file, meta["dim"], space=meta["space"])
    return None if index.load() is None else len(index)
