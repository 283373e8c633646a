"""The near-duplicate finder and the trash move, with the fake embedder (fast); the real model
on real edited photos is in tests/e2e/test_cli_duplicates.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from photofind.config import Paths
from photofind.core.search.duplicates import DuplicatePhoto, keeper_key
from photofind.core.search.ranking import RankingSettings
from photofind.store.photo_filter import PhotoFilter, parse_types
from photofind.store.repository import PhotoRow
from tests.fake_library import library_with
from tests.fakes import FakeEmbedder
from tests.synthetic_photos import write_photos

THRESHOLD = 0.995  # the fake colour-layout vectors of a resized copy are ~1.0 to the original


def _resized(src: Path, dest: Path, factor: float) -> Path:
    with Image.open(src) as im:
        im.resize((int(im.width * factor), int(im.height * factor))).save(dest, quality=92)
    return dest


@pytest.fixture(params=["model index", "ranking space"])
def library(tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    photos = tmp_path / "photos"
    originals = write_photos(photos, range(8))
    _resized(originals[0], photos / "0_small.jpg", 0.5)
    (photos / "sub").mkdir()
    _resized(originals[1], photos / "sub" / "1_small.jpg", 0.5)
    shutil.copyfile(originals[2], photos / "sub" / "2_copy.jpg")  # exact copy: same fingerprint
    # a small library searches the model's own index; with min_photos lowered, a ranking space
    ranking = RankingSettings(min_photos=5) if request.param == "ranking space" else None
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder(), ranking=ranking)
    lib.add_folder(photos)
    lib.run_index()
    yield lib, photos
    lib.close()


def _paths(groups) -> list[set[str]]:  # type: ignore[no-untyped-def]
    return [{os.path.basename(p.path) for p in g.photos} for g in groups]


def test_copies_are_grouped_with_their_original_and_the_largest_is_kept(library) -> None:  # type: ignore[no-untyped-def]
    lib, photos = library
    space = lib.indexes.space(FakeEmbedder.model_id, FakeEmbedder.dim, lib.ranking.space)
    assert (space is not None) == (lib.ranking.min_photos == 5)
    groups = lib.find_duplicates(threshold=THRESHOLD)
    assert sorted(_paths(groups), key=sorted) == [
        {"0.jpg", "0_small.jpg"}, {"1.jpg", "1_small.jpg"}, {"2.jpg", "2_copy.jpg"},
    ]
    by_name = {os.path.basename(g.keep.path): g for g in groups}
    assert set(by_name) >= {"0.jpg", "1.jpg"}  # highest resolution kept
    for g in groups:
        assert g.keep.similarity == 1.0
        assert all(p.similarity >= THRESHOLD for p in g.others)


def test_a_folder_filter_keeps_only_photos_inside_it(library) -> None:  # type: ignore[no-untyped-def]
    lib, photos = library
    groups = lib.find_duplicates(threshold=THRESHOLD, photo_filter=PhotoFilter.for_folder(photos / "sub"))
    assert groups == []  # each copy's original is outside the subfolder
    groups = lib.find_duplicates(threshold=THRESHOLD, photo_filter=PhotoFilter.for_folder(photos))
    assert len(groups) == 3
    # a folder whose name only starts like the photos folder is not inside it
    assert lib.find_duplicates(threshold=THRESHOLD, photo_filter=PhotoFilter(folder=str(photos)[:-1])) == []


def test_finding_duplicates_writes_nothing(library) -> None:  # type: ignore[no-untyped-def]
    lib, _ = library
    data = lib.paths.data_dir
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file() and p.suffix != ".lock"}
    lib.find_duplicates(threshold=THRESHOLD)
    after = {p: p.read_bytes() for p in data.rglob("*") if p.is_file() and p.suffix != ".lock"}
    assert before == after


def _row(pid: int, w: int, h: int, size: int, mtime_s: int) -> PhotoRow:
    return PhotoRow(pid, 1, f"/p/{pid}.jpg", size, mtime_s * 10**9, None, w, h, "ok", None)


def test_keeper_rule_resolution_then_size_then_oldest() -> None:
    rows = [_row(1, 100, 100, 900, 5), _row(2, 200, 100, 100, 9), _row(3, 200, 100, 500, 9), _row(4, 200, 100, 500, 3)]
    assert [r.id for r in sorted(rows, key=keeper_key)] == [4, 3, 2, 1]
    older_taken = DuplicatePhoto(5, "/p/5.jpg", 200, 100, 500, 9 * 10**9, taken=1.0, similarity=1.0)
    assert keeper_key(older_taken) < keeper_key(rows[3])  # date taken beats the file time


def test_trash_moves_all_but_the_keeper_and_the_library_forgets_them(library) -> None:  # type: ignore[no-untyped-def]
    lib, photos = library
    groups = lib.find_duplicates(threshold=THRESHOLD)
    trashed: list[str] = []

    def fake_trash(path: str) -> None:  # a stand-in trash: a folder of the test
        dest = photos.parent / "trash"
        dest.mkdir(exist_ok=True)
        shutil.move(path, dest / os.path.basename(path))
        trashed.append(path)

    keepers = {g.keep.path for g in groups}
    report = lib.trash_duplicates(groups, trash=fake_trash)
    assert sorted(report.moved) == sorted(trashed) and len(trashed) == 3 and not report.failed
    assert all(os.path.exists(k) for k in keepers)
    assert lib.find_duplicates(threshold=THRESHOLD) == []
    assert lib.repo.stats().photos == 8
    assert lib.repo.embedding_count(FakeEmbedder.model_id) == 8


def test_a_failed_trash_move_leaves_the_photo_with_the_reason(library) -> None:  # type: ignore[no-untyped-def]
    lib, _ = library
    groups = lib.find_duplicates(threshold=THRESHOLD)

    def no_trash(path: str) -> None:
        raise OSError(30, "Read-only file system")

    report = lib.trash_duplicates(groups, trash=no_trash)
    assert report.moved == [] and len(report.failed) == 3
    assert all(reason == "Read-only file system" for _, reason in report.failed)
    assert all(os.path.exists(p) for p, _ in report.failed)
    assert len(lib.find_duplicates(threshold=THRESHOLD)) == 3


def test_a_group_whose_keeper_is_gone_is_left_whole(library) -> None:  # type: ignore[no-untyped-def]
    lib, photos = library
    groups = lib.find_duplicates(threshold=THRESHOLD)
    group = groups[0]
    os.rename(group.keep.path, photos.parent / "moved-away.jpg")
    calls: list[str] = []
    report = lib.trash_duplicates([group], trash=calls.append)
    assert calls == [] and report.moved == []
    assert "the photo to keep" in report.failed[0][1]


def test_a_photo_changed_since_indexing_is_not_moved(library) -> None:  # type: ignore[no-untyped-def]
    lib, _ = library
    group = lib.find_duplicates(threshold=THRESHOLD)[0]
    other = group.others[0].path
    with open(other, "ab") as f:
        f.write(b"more")
    calls: list[str] = []
    report = lib.trash_duplicates([group], trash=calls.append)
    assert calls == [] and "changed since it was indexed" in report.failed[0][1]


def test_file_types_parse() -> None:
    assert parse_types("jpg, HEIC") == {"jpeg", "heic"}
    with pytest.raises(ValueError, match="unknown file type"):
        parse_types("docx")
