"""Fixtures shared by every test package.

The real photo sets (``corel_dir``, ``ukbench_dir``) live outside the repo, in
``<repo>/../shared/data`` (or wherever ``PHOTOFIND_TEST_DATA`` points). A test that asks for
them and does not find them is an error, locally and in CI, never a skip: a missing data set
must not turn a green run into one that tested nothing. When any collected test needs a set
that is missing, the run stops before it starts, with one message saying where it looked.
Tests that need only a few photos make their own (``tests/synthetic_photos.py``) and run
without the data.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# The tests, and the photofind processes they start, never write the user's log file
# (photofind/config.py): one temporary log folder for the whole run.
os.environ.setdefault("PHOTOFIND_LOG_DIR", tempfile.mkdtemp(prefix="photofind-test-logs-"))
# ... nor put anything in the user's trash: send2trash's home trash is $XDG_DATA_HOME/Trash (read
# when it is imported); tests that move photos to the trash hand in their own trash function,
# or run the CLI with HOME and XDG_DATA_HOME in their temp folder (tests/e2e/test_cli_duplicates.py).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="photofind-test-xdg-data-")

#: Where the real photo sets are looked for.
SHARED_DATA = Path(os.environ.get("PHOTOFIND_TEST_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()

#: fixture -> the data set (a folder of SHARED_DATA with an ``images/`` folder) it needs.
DATASETS = {"corel_dir": "corel1k", "ukbench_dir": "ukbench1000"}
_DATA_FIXTURES = {"shared_data", *DATASETS}


def missing_data(fixtures: set[str]) -> str | None:
    """Why the data sets the ``fixtures`` need are not usable (None when they all are)."""
    if not fixtures & _DATA_FIXTURES:
        return None
    if not SHARED_DATA.is_dir():
        problems = [f"the folder {SHARED_DATA} does not exist"]
    else:
        wanted = sorted(DATASETS[f] for f in fixtures if f in DATASETS)
        problems = [
            f"{SHARED_DATA / name / 'images'} does not exist"
            for name in wanted
            if not (SHARED_DATA / name / "images").is_dir()
        ]
    if not problems:
        return None
    return (
        "The real photo data sets these tests need are missing: "
        + "; ".join(problems)
        + f". Looked for in {SHARED_DATA} ("
        + ("from PHOTOFIND_TEST_DATA" if os.environ.get("PHOTOFIND_TEST_DATA") else "<repo>/../shared/data")
        + "; set PHOTOFIND_TEST_DATA to use another folder). The sets are corel1k/ and "
        "ukbench1000/, each with images/ (see ../shared/data/README.md). Put them there, or run "
        "only the tests that do not need them."
    )


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: only the tests that will run count
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop the whole run, with one clear message, when collected tests need missing data."""
    needed: set[str] = set()
    users = 0
    for item in items:
        uses = set(getattr(item, "fixturenames", ())) & _DATA_FIXTURES
        needed |= uses
        users += bool(uses)
    problem = missing_data(needed)
    if problem:
        raise pytest.UsageError(f"{problem} ({users} of the {len(items)} collected tests need them.)")


def _require(fixtures: set[str]) -> None:
    problem = missing_data(fixtures)
    if problem:  # only reached through getfixturevalue(); collection normally stops first
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``: the read-only real photo sets (an error when absent)."""
    _require({"shared_data"})
    return SHARED_DATA


@pytest.fixture(scope="session")
def corel_dir() -> Path:
    """Corel-1k: ``images/`` (1000 JPEGs, 384x256 or 256x384), ``labels.csv``, ``gt.json``."""
    _require({"corel_dir"})
    return SHARED_DATA / DATASETS["corel_dir"]


@pytest.fixture(scope="session")
def ukbench_dir() -> Path:
    """UKBench (first 1000): ``images/`` (JPEGs, 640x480), ``labels.csv``."""
    _require({"ukbench_dir"})
    return SHARED_DATA / DATASETS["ukbench_dir"]
