"""ThumbnailCache on real Corel photos: size, orientation, content keys, corruption, threads."""

from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

from photofind.config import Paths
from photofind.core.indexing.scanner import fingerprint
from photofind.core.images.thumbnails import ThumbnailCache


@pytest.fixture()
def photo(corel_dir: Path, tmp_path: Path) -> Path:
    """A private copy of a real Corel photo (384x256 or 256x384)."""
    dst = tmp_path / "photos" / "beach.jpg"
    dst.parent.mkdir()
    shutil.copy(corel_dir / "images" / "0.jpg", dst)
    return dst


@pytest.fixture()
def cache(tmp_path: Path) -> ThumbnailCache:
    return ThumbnailCache(tmp_path / "thumbs", size=128)


def test_thumbnail_is_a_small_rgb_jpeg_in_the_cache(cache: ThumbnailCache, photo: Path) -> None:
    thumb = cache.get_or_create(str(photo))
    assert thumb is not None and thumb.is_file()
    assert cache.cache_dir in thumb.parents
    assert sorted(p.name for p in photo.parent.iterdir()) == ["beach.jpg"]  # nothing next to it
    with Image.open(thumb) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
        assert max(img.size) == 128
        with Image.open(photo) as orig:
            assert (img.size[0] > img.size[1]) == (orig.size[0] > orig.size[1])
            assert abs(img.size[0] / img.size[1] - orig.size[0] / orig.size[1]) < 0.02
    assert cache.get_or_create(str(photo)) == thumb
    assert cache.size_on_disk() == thumb.stat().st_size


def test_exif_orientation_is_applied(cache: ThumbnailCache, photo: Path, tmp_path: Path) -> None:
    with Image.open(photo) as img:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° clockwise to display
        rotated = tmp_path / "photos" / "rotated.jpg"
        img.save(rotated, "JPEG", exif=exif)
        stored_w, stored_h = img.size
    assert stored_w != stored_h
    thumb = cache.get_or_create(str(rotated))
    assert thumb is not None
    with Image.open(thumb) as img:
        assert max(img.size) == 128
        assert (img.size[0] > img.size[1]) == (stored_h > stored_w)  # turned upright


def test_same_content_elsewhere_reuses_the_thumbnail(cache: ThumbnailCache, photo: Path, tmp_path: Path) -> None:
    thumb = cache.get_or_create(str(photo))
    moved = tmp_path / "elsewhere" / "renamed.jpg"
    moved.parent.mkdir()
    shutil.move(photo, moved)
    assert cache.get_or_create(str(moved)) == thumb
    assert cache.get_or_create(str(moved), fingerprint(str(moved))) == thumb
    assert len(list(cache.cache_dir.rglob("*.jpg"))) == 1


def test_changed_content_and_other_size_get_new_thumbnails(cache: ThumbnailCache, photo: Path, corel_dir: Path) -> None:
    first = cache.get_or_create(str(photo))
    shutil.copy(corel_dir / "images" / "1.jpg", photo)  # the photo was edited in place
    second = cache.get_or_create(str(photo))
    assert second is not None and second != first
    big = ThumbnailCache(cache.cache_dir, size=256).get_or_create(str(photo))
    assert big is not None and big != second
    with Image.open(big) as img:
        assert max(img.size) <= 256


def test_unreadable_photos_give_none(cache: ThumbnailCache, photo: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "photos" / "corrupt.jpg"
    corrupt.write_bytes(photo.read_bytes()[:200])
    assert cache.get_or_create(str(corrupt)) is None
    assert cache.get_or_create(str(corrupt)) is None  # remembered, still None
    not_image = tmp_path / "photos" / "text.jpg"
    not_image.write_text("hello")
    assert cache.get_or_create(str(not_image)) is None
    assert cache.get_or_create(str(tmp_path / "missing.jpg")) is None
    assert cache.size_on_disk() == 0


def test_concurrent_requests_make_one_valid_file(cache: ThumbnailCache, photo: Path) -> None:
    results: list[Path | None] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(cache.get_or_create(str(photo)))
        except BaseException as exc:  # noqa: BLE001 pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 8 and len(set(results)) == 1 and results[0] is not None
    files = [p for p in cache.cache_dir.rglob("*") if p.is_file()]
    assert files == [results[0]]  # no temp files left behind
    with Image.open(results[0]) as img:
        img.load()
        assert max(img.size) == 128


def test_clear_and_deleting_the_cache_are_safe(cache: ThumbnailCache, photo: Path) -> None:
    thumb = cache.get_or_create(str(photo))
    assert thumb is not None
    foreign = cache.cache_dir / "keep-me.txt"
    foreign.write_text("not ours")
    assert cache.clear() == 1
    assert not thumb.exists() and foreign.exists()
    assert cache.size_on_disk() == 0
    shutil.rmtree(cache.cache_dir)  # the user deletes the whole cache
    again = cache.get_or_create(str(photo))
    assert again == thumb and again.is_file()


def test_default_location_and_png_source(tmp_path: Path, photo: Path) -> None:
    paths = Paths(tmp_path / "data")
    cache = ThumbnailCache.for_paths(paths, size=64)
    assert cache.cache_dir == paths.thumbnails_dir
    png = tmp_path / "photos" / "alpha.png"
    with Image.open(photo) as img:
        img.convert("RGBA").save(png)
    thumb = cache.get_or_create(str(png))
    assert thumb is not None
    with Image.open(io.BytesIO(thumb.read_bytes())) as img:
        assert img.mode == "RGB" and max(img.size) == 64
