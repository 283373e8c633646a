"""Library folder rules (no model needed: the model is only loaded when first used)."""

from __future__ import annotations

from pathlib import Path

import pytest

from photofind.config import get_paths
from photofind.core.library import FolderError, Library, LibraryBusy


@pytest.fixture()
def lib(tmp_path: Path) -> Library:
    return Library(get_paths(tmp_path / "data"))


def test_add_folder_normalises_and_is_idempotent(lib: Library, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    row = lib.add_folder(str(photos) + "/./")
    assert row.path == str(photos.resolve())
    assert lib.add_folder(photos).id == row.id
    assert [f.path for f in lib.repo.folders()] == [str(photos)]


def test_nested_folders_are_merged_not_duplicated(lib: Library, tmp_path: Path) -> None:
    child = tmp_path / "photos" / "2024"
    child.mkdir(parents=True)
    lib.add_folder(child)
    with lib.repo.write() as w:
        folder_id = lib.find_folder(child).id
        w.upsert_photo(folder_id=folder_id, path=str(child / "a.jpg"), size=1, mtime_ns=1, fingerprint="x", status="ok")
    parent = lib.add_folder(tmp_path / "photos")
    assert [f.path for f in lib.repo.folders()] == [parent.path]
    assert lib.repo.photo_by_path(str(child / "a.jpg")).folder_id == parent.id  # type: ignore[union-attr]
    with pytest.raises(FolderError, match="already in the library"):
        lib.add_folder(child)


def test_bad_folders_are_refused_with_a_message(lib: Library, tmp_path: Path) -> None:
    with pytest.raises(FolderError, match="not a folder"):
        lib.add_folder(tmp_path / "missing")
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(FolderError, match="not a folder"):
        lib.add_folder(tmp_path / "file.jpg")
    with pytest.raises(FolderError, match="data folder"):
        lib.add_folder(tmp_path)  # contains photofind's data dir


def test_remove_folder_forgets_photos_but_not_files(lib: Library, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"not really")
    folder = lib.add_folder(photos)
    with lib.repo.write() as w:
        w.upsert_photo(folder_id=folder.id, path=str(photos / "a.jpg"), size=10, mtime_ns=1, fingerprint="f", status="skipped", skip_reason="not an image")
    assert lib.remove_folder(photos) == 1
    assert lib.repo.folders() == [] and lib.repo.stats().photos == 0
    assert (photos / "a.jpg").read_bytes() == b"not really"
    with pytest.raises(FolderError):
        lib.remove_folder(photos)


def test_second_writer_is_told_the_library_is_busy(lib: Library, tmp_path: Path) -> None:
    other = Library(get_paths(tmp_path / "data"))
    with lib.writing():
        with pytest.raises(LibraryBusy, match="busy"):
            with other.writing(timeout=0.1):
                pass
    with other.writing(timeout=0.1):
        pass
