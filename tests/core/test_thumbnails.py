"""ThumbnailCache: size, orientation, content keys, corruption, threads, the LRU size limit, pruning."""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.config import Paths
from photofind.core.images.thumbnails import ThumbnailCache
from photofind.core.indexing.scanner import fingerprint
from tests.synthetic_photos import write_photo


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    """A photo-like JPEG of the test's own (384x256), alone in its folder."""
    return write_photo(tmp_path / "photos" / "beach.jpg", 0)


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


def test_changed_content_and_other_size_get_new_thumbnails(cache: ThumbnailCache, photo: Path) -> None:
    first = cache.get_or_create(str(photo))
    write_photo(photo, 1)  # the photo was edited in place
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


# ---------------------------------------------------------------- size limit and pruning


def make_photos(folder: Path, n: int, start: int = 0) -> list[Path]:
    """``n`` distinct real JPEGs (random pixels at low resolution, scaled up: photo-like
    thumbnails of a few KB each, all about the same size)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1234 + start)
    paths = []
    for i in range(start, start + n):
        small = rng.integers(0, 256, size=(12, 18, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((360, 240), Image.Resampling.BICUBIC)
        path = folder / f"photo-{i:03d}.jpg"
        img.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def thumbnail_files(cache: ThumbnailCache) -> set[Path]:
    return {p for p in cache.cache_dir.rglob("*.jpg") if not p.name.startswith(".")}


def test_lru_pruning_keeps_recently_used_and_deletes_the_oldest(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "photos", 20)
    cache = ThumbnailCache(tmp_path / "thumbs", size=64, max_bytes=None, touch_after_s=0, check_every=1)
    thumbs = [cache.get_or_create(str(p)) for p in photos]
    assert all(t is not None for t in thumbs)
    # Made an hour ago, one second apart: thumbs[0] is the oldest.
    t0 = time.time() - 3600
    for i, t in enumerate(thumbs):
        os.utime(t, (t0 + i, t0 + i))
    used = thumbs[:5]  # the five oldest are looked at again
    for p in photos[:5]:
        assert cache.get_or_create(str(p)) in used
    assert all(t.stat().st_mtime > t0 + 1000 for t in used)  # marked as used

    total = cache.size_on_disk()
    cache.max_bytes = int(total * 0.6)
    (new_photo,) = make_photos(tmp_path / "photos", 1, start=20)
    new = cache.get_or_create(str(new_photo))  # a write over the limit prunes
    assert new is not None

    kept = thumbnail_files(cache)
    assert cache.size_on_disk() <= 0.9 * cache.max_bytes
    assert set(used) | {new} <= kept
    deleted = [t for t in thumbs if t not in kept]
    assert deleted, "nothing was pruned"
    # exactly the least recently used ones: a prefix of the untouched thumbnails by age
    assert deleted == thumbs[5 : 5 + len(deleted)]
    # a pruned thumbnail is simply made again
    again = cache.get_or_create(str(photos[5]))
    assert again == thumbs[5] and again.is_file()


def test_a_hit_marks_use_at_most_once_per_interval(tmp_path: Path) -> None:
    (photo,) = make_photos(tmp_path / "photos", 1)
    cache = ThumbnailCache(tmp_path / "thumbs", size=64, touch_after_s=600)
    thumb = cache.get_or_create(str(photo))
    assert thumb is not None
    recent = time.time() - 60
    os.utime(thumb, (recent, recent))
    cache.get_or_create(str(photo))
    assert thumb.stat().st_mtime == pytest.approx(recent)  # touched lately: left alone
    old = time.time() - 7200
    os.utime(thumb, (old, old))
    cache.get_or_create(str(photo), fingerprint(str(photo)))
    assert thumb.stat().st_mtime > time.time() - 60


def test_size_checks_are_amortised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = make_photos(tmp_path / "photos", 14)
    cache = ThumbnailCache(tmp_path / "thumbs", size=64, max_bytes=10**9, check_every=4, resync_every=1000)
    scans = []
    real_inventory = cache._inventory

    def counting_inventory():  # type: ignore[no-untyped-def]
        scans.append(1)
        return real_inventory()

    monkeypatch.setattr(cache, "_inventory", counting_inventory)
    for p in photos[:12]:
        assert cache.get_or_create(str(p)) is not None
    assert len(scans) == 1  # once, after the first check_every writes, to learn the size
    for p in photos[:12]:  # hits never scan
        cache.get_or_create(str(p))
    assert len(scans) == 1
    cache.max_bytes = cache.size_on_disk() // 2  # the running total passes the limit: scan + prune
    assert cache.get_or_create(str(photos[12])) is not None
    assert len(scans) == 2 and cache.size_on_disk() <= 0.9 * cache.max_bytes


def test_two_caches_pruning_one_directory_at_once(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "photos", 30)
    first = ThumbnailCache(tmp_path / "thumbs", size=64, max_bytes=None)
    for p in photos:
        assert first.get_or_create(str(p)) is not None
    limit = first.size_on_disk() // 3
    caches = [ThumbnailCache(tmp_path / "thumbs", size=64, max_bytes=limit) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(caches))

    def prune(cache: ThumbnailCache) -> None:
        try:
            barrier.wait()
            cache.enforce_limit()
        except BaseException as exc:  # noqa: BLE001 pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=prune, args=(c,)) for c in caches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert 0 < first.size_on_disk() <= 0.9 * limit


def test_prune_missing_removes_exactly_the_dead_thumbnails(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "photos", 6)
    small = ThumbnailCache(tmp_path / "thumbs", size=64)
    big = ThumbnailCache(tmp_path / "thumbs", size=128)
    fps = [fingerprint(str(p)) for p in photos]
    for p, fp in zip(photos, fps):
        assert small.get_or_create(str(p), fp) is not None
        assert big.get_or_create(str(p), fp) is not None
    foreign = small.cache_dir / fps[0][:2] / "notes.txt"
    foreign.write_text("not ours")
    live = fps[:3]
    assert small.prune_missing(live) == 6  # both sizes of the three photos that left
    left = thumbnail_files(small)
    assert left == {c.path_for(fp) for fp in live for c in (small, big)}
    assert foreign.is_file()
    assert small.prune_missing(iter(live)) == 0  # nothing changed: nothing deleted
    assert big.prune_missing([]) == 6  # an emptied library keeps no thumbnails


def test_prune_missing_with_a_token_is_free_when_nothing_changed(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "photos", 3)
    cache = ThumbnailCache(tmp_path / "thumbs", size=64)
    fps = [fingerprint(str(p)) for p in photos]
    for p, fp in zip(photos, fps):
        cache.get_or_create(str(p), fp)
    calls: list[int] = []

    def live() -> list[str]:
        calls.append(1)
        return fps[:2]

    assert cache.prune_missing(live, token=7) == 1 and calls == [1]
    # same generation: neither the live set is read nor the directory scanned
    assert ThumbnailCache(tmp_path / "thumbs").prune_missing(live, token=7) == 0 and calls == [1]
    assert cache.prune_missing(live, token=8) == 0 and calls == [1, 1]


def test_prune_missing_at_scale(tmp_path: Path) -> None:
    """5k thumbnail names (empty files: only names are read), half of them dead. (100k take
    0.2-0.3 s on the 2-core test machine, 0.1 ms with an unchanged ``token``.)"""
    rng = np.random.default_rng(7)
    fps = [rng.bytes(16).hex() for _ in range(5_000)]
    cache = ThumbnailCache(tmp_path / "thumbs", size=256)
    for fp in fps:
        target = cache.path_for(fp)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    live = set(fps[::2])
    assert cache.prune_missing(live) == len(set(fps) - live)
    assert {p.name[:32] for p in thumbnail_files(cache)} == live


def test_repository_lists_the_live_fingerprints(tmp_path: Path) -> None:
    from photofind.store.db import open_database
    from photofind.store.repository import Repository
    from photofind.store.schema import STATUS_OK, STATUS_SKIPPED

    repo = Repository(open_database(tmp_path / "lib.db", tmp_path / "backups"))
    assert repo.live_fingerprints() == set()
    with repo.write() as w:
        folder = w.add_folder("/photos")
        ids = [
            w.upsert_photo(folder_id=folder, path=f"/photos/{i}.jpg", size=1, mtime_ns=1,
                           fingerprint=fp, status=STATUS_OK)
            for i, fp in enumerate(["a" * 32, "b" * 32, "a" * 32])
        ]
        w.upsert_photo(folder_id=folder, path="/photos/bad.jpg", size=1, mtime_ns=1,
                       fingerprint=None, status=STATUS_SKIPPED, skip_reason="corrupt")
    assert repo.live_fingerprints() == {"a" * 32, "b" * 32}
    with repo.write() as w:
        w.delete_photos([ids[1]])
    assert repo.live_fingerprints() == {"a" * 32}
