"""File and folder names the database can't hold (POSIX names are bytes, SQLite TEXT is UTF-8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photofind.config import get_paths
from photofind.core.indexing.scanner import storable_path, walk_folder
from photofind.core.library import FolderError, Library


def test_storable_path_is_deterministic_and_leaves_good_names_alone() -> None:
    assert storable_path("/photos/café.jpg") == "/photos/café.jpg"
    bad = os.fsdecode(b"/photos/caf\xe9.jpg")  # lone surrogate inside
    assert storable_path(bad) == "/photos/caf\\xe9.jpg" == storable_path(bad)
    storable_path(bad).encode("utf-8")  # storable


def test_scan_errors_below_a_bad_folder_name_are_storable(tmp_path: Path) -> None:
    bad_dir = os.path.join(os.fsencode(tmp_path), b"d\xfcsseldorf")
    os.mkdir(bad_dir)
    os.symlink(b"nowhere.jpg", os.path.join(bad_dir, b"broken.jpg"))
    errors: list[tuple[str, str]] = []
    list(walk_folder(tmp_path, on_error=lambda p, r: errors.append((p, r))))
    assert errors == [(f"{tmp_path}/d\\xfcsseldorf/broken.jpg", "broken symbolic link")]


def test_a_library_folder_with_a_bad_name_is_refused_with_a_message(tmp_path: Path) -> None:
    bad_dir = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.mkdir(bad_dir)
    lib = Library(get_paths(tmp_path / "data"))
    with pytest.raises(FolderError, match="not valid UTF-8"):
        lib.add_folder(os.fsdecode(bad_dir))
    assert lib.repo.folders() == []
