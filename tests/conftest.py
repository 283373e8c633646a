"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``: the read-only real photo sets (skip when absent)."""
    path = (REPO_ROOT / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip(f"shared photo data not found at {path}")
    return path


def _dataset(shared_data: Path, name: str) -> Path:
    path = shared_data / name
    if not path.is_dir():
        pytest.skip(f"{name} not found in {shared_data}")
    return path


@pytest.fixture(scope="session")
def corel_dir(shared_data: Path) -> Path:
    """Corel-1k: ``images/`` (1000 JPEGs, 384x256 or 256x384), ``labels.csv``, ``gt.json``."""
    return _dataset(shared_data, "corel1k")


@pytest.fixture(scope="session")
def ukbench_dir(shared_data: Path) -> Path:
    """UKBench (first 1000): ``images/`` (JPEGs, 640x480), ``labels.csv``."""
    return _dataset(shared_data, "ukbench1000")
