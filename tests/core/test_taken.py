"""Date taken: EXIF (JPEG and HEIC) with its offset, the file-time fallbacks, migration 0003 and
the resumable backfill of a library made before it, and the filters that use it."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from photofind.config import Paths
from photofind.core.images.taken import parse_exif_date, read_taken
from photofind.core.indexing.taken_backfill import backfill_taken, pending
from photofind.store.db import open_database
from photofind.store.photo_filter import PhotoFilter
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK, TAKEN_BAD_EXIF, TAKEN_EXIF, TAKEN_FILE
from tests.fake_library import library_with
from tests.fakes import FakeEmbedder
from tests.synthetic_photos import photo_like

JULY_4_UTC = dt.datetime(2021, 7, 4, 8, 20, 30, tzinfo=dt.timezone.utc).timestamp()


def save_with_date(path: Path, seed: int, date: str | None, offset: str | None = None, fmt: str | None = None) -> Path:
    img = photo_like(seed, 96, 64)
    exif = Image.Exif()
    if date is not None:
        exif.get_ifd(0x8769)[0x9003] = date
    if offset is not None:
        exif.get_ifd(0x8769)[0x9011] = offset
    if fmt == "heic":
        pytest.importorskip("pillow_heif").register_heif_opener()
        img.save(path, exif=exif.tobytes())
    else:
        img.save(path, quality=90, exif=exif)
    return path


def test_parse_exif_dates() -> None:
    assert parse_exif_date("2021:07:04 10:20:30", "+02:00") == JULY_4_UTC
    assert parse_exif_date(b"2021:07:04 10:20:30\x00", b"+02:00\x00") == JULY_4_UTC
    local = dt.datetime(2021, 7, 4, 10, 20, 30).timestamp()  # no offset: this computer's local time
    assert parse_exif_date("2021:07:04 10:20:30") == local
    for bad in ("0000:00:00 00:00:00", "2099:01:01 00:00:00", "1700:01:01 00:00:00", "2021:13:45 99:00:00",
                "    :  :     :  :  ", "garbage", ""):
        assert parse_exif_date(bad) is None, bad


@pytest.mark.parametrize("fmt", ["jpeg", "heic"])
def test_read_taken_from_exif_with_offset(tmp_path: Path, fmt: str) -> None:
    path = save_with_date(tmp_path / f"a.{fmt}", 1, "2021:07:04 10:20:30", "+02:00", fmt)
    assert read_taken(str(path)) == (JULY_4_UTC, TAKEN_EXIF)


def test_fallbacks_to_the_file_time(tmp_path: Path) -> None:
    no_exif = tmp_path / "plain.jpg"
    photo_like(2, 96, 64).save(no_exif, quality=90)
    os.utime(no_exif, (1_500_000_000, 1_500_000_000))
    assert read_taken(str(no_exif)) == (1_500_000_000, TAKEN_FILE)
    for n, bad in enumerate(("0000:00:00 00:00:00", "2099:12:31 23:59:59", "nonsense")):
        path = save_with_date(tmp_path / f"bad{n}.jpg", 3, bad)
        os.utime(path, (1_400_000_000, 1_400_000_000))
        assert read_taken(str(path)) == (1_400_000_000, TAKEN_BAD_EXIF)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(save_with_date(tmp_path / "x.jpg", 4, "2021:07:04 10:20:30").read_bytes()[:200])
    taken, source = read_taken(str(broken), mtime_ns=1_300_000_000 * 10**9)
    assert taken == 1_300_000_000 and source in (TAKEN_FILE, TAKEN_BAD_EXIF)


def _photos(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    out = {
        "dated": save_with_date(folder / "dated.jpg", 1, "2021:07:04 10:20:30", "+02:00"),
        "absurd": save_with_date(folder / "absurd.jpg", 2, "0000:00:00 00:00:00"),
        "plain": folder / "plain.png",
    }
    photo_like(3, 96, 64).save(out["plain"])
    for p in out.values():
        os.utime(p, (1_600_000_000, 1_600_000_000))
    return out


def test_the_index_job_records_the_date_and_stats_list_bad_ones(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos")
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder())
    lib.add_folder(tmp_path / "photos")
    lib.run_index()
    rows = {Path(r.path).stem: r for r in lib.repo.photos_by_ids(range(1, 10)).values()}
    assert rows["dated"].taken == JULY_4_UTC
    assert rows["absurd"].taken == rows["plain"].taken == 1_600_000_000
    assert lib.repo.taken_sources() == {TAKEN_EXIF: 1, TAKEN_FILE: 1, TAKEN_BAD_EXIF: 1}
    assert lib.repo.photos_with_taken_source(TAKEN_BAD_EXIF) == [str(photos["absurd"])]
    # filters: date range, type, min pixels
    ids = lambda f: {Path(lib.repo.photos_by_ids([i])[i].path).stem for i in lib.repo.shown_ids(FakeEmbedder.model_id, f)}  # noqa: E731
    assert ids(PhotoFilter(taken_after=JULY_4_UTC - 1, taken_before=JULY_4_UTC + 1)) == {"dated"}
    assert ids(PhotoFilter(taken_before=1_600_000_001)) == {"absurd", "plain"}
    assert ids(PhotoFilter(types=frozenset({"png"}))) == {"plain"}
    assert ids(PhotoFilter(min_pixels=96 * 64 + 1)) == set()
    lib.close()


def test_migration_0003_and_a_resumable_backfill_on_a_02_library(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, inspect, text

    from photofind.store.db import _alembic_config, current_revision, head_revision

    photos = _photos(tmp_path / "photos")
    db = tmp_path / "data" / "library.sqlite3"
    db.parent.mkdir()
    engine = create_engine(f"sqlite:///{db}")
    cfg = _alembic_config()
    with engine.begin() as conn:  # a library as photofind 0.2 left it: schema 0002, rows, no dates
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(text("INSERT INTO folders (id, path, added_at, online) VALUES (1, :p, 0, 1)"), {"p": str(tmp_path / "photos")})
        for n, p in enumerate(photos.values(), 1):
            st = p.stat()
            conn.execute(text(
                "INSERT INTO photos (id, folder_id, path, size, mtime_ns, width, height, status, added_at, updated_at) "
                "VALUES (:id, 1, :path, :size, :mtime, 96, 64, :ok, 0, 0)"
            ), {"id": n, "path": str(p), "size": st.st_size, "mtime": st.st_mtime_ns, "ok": STATUS_OK})
    assert "taken" not in {c["name"] for c in inspect(engine).get_columns("photos")}
    engine.dispose()

    engine = open_database(db, tmp_path / "data" / "backups")
    assert current_revision(engine) == head_revision()
    repo = Repository(engine)
    assert len(pending(repo, 10)) == 3 and repo.taken_sources() == {"pending": 3}
    generation = repo.generation()

    cancel = threading.Event()
    real = repo.write

    def write_then_cancel():  # type: ignore[no-untyped-def]
        cancel.set()  # "killed" after the first batch is committed
        return real()

    repo.write = write_then_cancel  # type: ignore[method-assign]
    assert backfill_taken(repo, cancel, batch=1) == 1
    repo.write = real  # type: ignore[method-assign]
    assert len(pending(repo, 10)) == 2
    assert backfill_taken(repo, None, batch=1) == 2  # resumes with the rest
    assert pending(repo, 10) == [] and repo.generation() == generation  # no vector changed
    rows = {Path(r.path).stem: r for r in repo.photos_by_ids([1, 2, 3]).values()}
    assert rows["dated"].taken == JULY_4_UTC and rows["plain"].taken == 1_600_000_000
    engine.dispose()

    # the index job runs the backfill itself (a library opened with rows still pending)
    with open_database(db, tmp_path / "data" / "backups").begin() as conn:
        conn.execute(text("UPDATE photos SET taken = NULL, taken_source = NULL"))
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder())
    lib.run_index()
    assert lib.repo.taken_sources().get("pending") is None
    lib.close()
