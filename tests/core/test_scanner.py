"""Walking photo folders and fingerprinting files, on real directory trees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from photofind.core.indexing.scanner import (
    FINGERPRINT_HEAD,
    SUPPORTED_EXTENSIONS,
    FileStat,
    FolderUnavailable,
    fingerprint,
    walk_folder,
)


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(root: Path, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [os.path.relpath(f.path, root) for f in walk_folder(root, **kw)]


def test_extensions_hidden_and_cache_folders(tmp_path: Path) -> None:
    for rel in ("a.jpg", "b.JPEG", "c.Png", "d.heic", "e.avif", "f.tif", "sub/deep/g.webp",
                "notes.txt", "raw.cr2", "noext", ".hidden.jpg", ".cache/h.jpg",
                "@eaDir/a.jpg/SYNOPHOTO_THUMB_XL.jpg", ".thumbnails/t.png", "sub/.git/x.png"):
        touch(tmp_path / rel)
    assert names(tmp_path) == ["a.jpg", "b.JPEG", "c.Png", "d.heic", "e.avif", "f.tif",
                               "sub/deep/g.webp"]
    assert {".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".heif", ".tiff"} <= SUPPORTED_EXTENSIONS


def test_filestat_fields_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = touch(tmp_path / "photos" / "a.jpg", b"12345")
    monkeypatch.chdir(tmp_path)
    [fs] = list(walk_folder("photos"))
    st = p.stat()
    assert fs == FileStat(str(p), 5, st.st_mtime_ns)
    assert os.path.isabs(fs.path)


def test_directory_named_jpg_and_special_files(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").mkdir()
    touch(tmp_path / "x.jpg" / "inside.jpg")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.jpg")
    assert names(tmp_path) == [os.path.join("x.jpg", "inside.jpg")]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_loops_and_broken_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "a" / "1.jpg")
    os.symlink(root, root / "a" / "loop")  # back to the root
    os.symlink(root / "a", root / "b")  # second way into a
    outside = touch(tmp_path / "elsewhere" / "2.jpg").parent
    os.symlink(outside, root / "linked")  # followed: photos elsewhere are included
    os.symlink(tmp_path / "nothing.jpg", root / "dangling.jpg")
    os.symlink(root / "a" / "1.jpg", root / "alias.jpg")  # file symlinks are listed by their path
    errors: list[tuple[str, str]] = []
    found = names(root, on_error=lambda p, r: errors.append((p, r)))
    assert found == ["a/1.jpg", "alias.jpg", "linked/2.jpg"]
    assert errors == [(str(root / "dangling.jpg"), "broken symbolic link")]


def test_unreadable_subfolder_is_reported_not_raised(tmp_path: Path) -> None:
    touch(tmp_path / "ok.jpg")
    locked = tmp_path / "locked"
    touch(locked / "hidden_from_us.jpg")
    locked.chmod(0)
    try:
        errors: list[tuple[str, str]] = []
        found = names(tmp_path, on_error=lambda p, r: errors.append((p, r)))
        if os.access(locked, os.R_OK):  # root: permissions are not enforced
            assert found == ["locked/hidden_from_us.jpg", "ok.jpg"]
        else:
            assert found == ["ok.jpg"]
            assert errors == [(str(locked), "permission denied")]
    finally:
        locked.chmod(0o755)


def test_folder_unavailable(tmp_path: Path) -> None:
    with pytest.raises(FolderUnavailable) as info:
        walk_folder(tmp_path / "unmounted")
    assert info.value.reason == "not found" and info.value.root == str(tmp_path / "unmounted")
    file = touch(tmp_path / "a.jpg")
    with pytest.raises(FolderUnavailable, match="not a folder"):
        walk_folder(file)
    assert list(walk_folder(tmp_path / ".." / tmp_path.name)) != []  # hidden-looking root is fine


def test_real_photo_folder(corel_dir: Path) -> None:
    found = list(walk_folder(corel_dir))
    assert len(found) == 1000
    assert all(f.path.endswith(".jpg") and f.size > 0 for f in found)


def test_fingerprint(tmp_path: Path) -> None:
    small = touch(tmp_path / "small.jpg", b"abc" * 1000)
    assert fingerprint(str(small)) == fingerprint(str(small), small.stat().st_size)
    assert len(fingerprint(str(small))) == 32
    copy = tmp_path / "moved" / "renamed.jpg"
    copy.parent.mkdir()
    shutil.copy2(small, copy)
    assert fingerprint(str(copy)) == fingerprint(str(small))
    touch(tmp_path / "other.jpg", b"abd" * 1000)
    assert fingerprint(str(tmp_path / "other.jpg")) != fingerprint(str(small))

    big = bytearray(os.urandom(3 * FINGERPRINT_HEAD))
    a = touch(tmp_path / "big.jpg", bytes(big))
    fa = fingerprint(str(a))
    big[-10] ^= 0xFF  # change in the tail
    assert fingerprint(str(touch(tmp_path / "big2.jpg", bytes(big)))) != fa
    big[-10] ^= 0xFF
    big[10] ^= 0xFF  # change in the head
    assert fingerprint(str(touch(tmp_path / "big3.jpg", bytes(big)))) != fa
    big[10] ^= 0xFF
    # a change in the unhashed middle goes unnoticed by design (size+mtime catch edits)
    big[FINGERPRINT_HEAD + 100] ^= 0xFF
    assert fingerprint(str(touch(tmp_path / "big4.jpg", bytes(big)))) == fa
    assert fingerprint(str(touch(tmp_path / "big5.jpg", bytes(big) + b"\0"))) != fa
