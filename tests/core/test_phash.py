"""The perceptual hash that confirms near-duplicates: stable under the edits copies get, different
for different real photos, computed by the index job (and copied to exact copies), migration 0004
with the resumable backfill on older libraries, and the finder's hash rule."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from photofind.config import Paths
from photofind.core.images.decode import decode_image
from photofind.core.images.phash import NO_HASH, hamming, perceptual_hash
from photofind.core.indexing.phash_backfill import backfill_phash, hash_file, pending
from photofind.store.db import current_revision, head_revision, open_database
from photofind.store.repository import Repository
from photofind.store.schema import STATUS_OK
from tests.fake_library import library_with
from tests.fakes import FakeEmbedder
from tests.synthetic_photos import write_photos


def bits(a: int, b: int) -> int:
    return int(hamming(np.array([a]), np.array([b]))[0])


def corel_sample(corel_dir: Path, label: str, n: int) -> list[Path]:
    import csv

    with open(corel_dir / "labels.csv", newline="") as f:
        names = sorted((r["image"] for r in csv.DictReader(f) if r["label"] == label), key=lambda s: int(Path(s).stem))
    return [corel_dir / "images" / Path(name).name for name in names[:n]]


def test_the_hash_survives_resize_recompression_brightness_and_exif_stripping(tmp_path: Path, corel_dir: Path) -> None:
    for src in corel_sample(corel_dir, "1", 5) + corel_sample(corel_dir, "7", 5):
        with Image.open(src) as im:
            rgb = im.convert("RGB")
        original = hash_file(str(src))
        assert original not in (None, NO_HASH)
        copies = {
            "half": rgb.resize((rgb.width // 2, rgb.height // 2), Image.LANCZOS),  # 192 x 128
            "q35": rgb, "bright20": ImageEnhance.Brightness(rgb).enhance(1.2), "noexif": rgb,
        }
        for kind, img in copies.items():
            path = tmp_path / f"{src.stem}_{kind}.jpg"
            img.save(path, quality={"q35": 35, "noexif": 95}.get(kind, 90))
            assert bits(hash_file(str(path)), original) <= 4, (src.name, kind)  # type: ignore[arg-type]
        # the index job hashes its own decode, the backfill a reduced-scale one: they agree
        assert bits(perceptual_hash(decode_image(str(src), min_side=288)), original) <= 2


def test_different_photos_of_one_class_have_different_hashes(corel_dir: Path) -> None:
    for label in ("1", "7"):  # beaches, horses: look-alikes for the model
        hashes = np.array([hash_file(str(p)) for p in corel_sample(corel_dir, label, 25)], np.int64)
        apart = hamming(hashes[:, None], hashes[None, :])[np.triu_indices(len(hashes), 1)]
        assert apart.min() > 4, f"class {label}: two different photos within 4 bits"
        assert np.median(apart) >= 20


def test_a_flat_picture_has_no_hash_and_a_broken_file_gets_none(tmp_path: Path) -> None:
    assert perceptual_hash(Image.new("RGB", (64, 48), (12, 200, 40))) == NO_HASH
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert hash_file(str(tmp_path / "broken.jpg")) == NO_HASH  # not an image: never tried again
    assert hash_file(str(tmp_path / "missing.jpg")) is None  # the OS could not read it: next run


def test_the_index_job_stores_the_hash_and_an_exact_copy_shares_it(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    originals = write_photos(photos, range(3))
    shutil.copyfile(originals[0], photos / "copy.jpg")
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder())
    lib.add_folder(photos)
    lib.run_index()
    rows = {Path(r.path).name: r for r in lib.repo.photos_by_ids(range(1, 10)).values()}
    ids, values = lib.repo.perceptual_hashes()
    hash_of = dict(zip(ids.tolist(), values.tolist()))
    assert len(hash_of) == 4
    assert hash_of[rows["copy.jpg"].id] == hash_of[rows["0.jpg"].id] == hash_file(str(originals[0]))
    assert len({hash_of[rows[f"{i}.jpg"].id] for i in range(3)}) == 3
    lib.close()


def _old_library(tmp_path: Path, revision: str, n: int) -> tuple[Path, list[Path]]:
    """A library as photofind 0.2 (schema 0002) or 0.3 (0003) left it: rows, no hashes."""
    from alembic import command
    from sqlalchemy import create_engine, inspect, text

    from photofind.store.db import _alembic_config

    files = write_photos(tmp_path / "photos", range(n))
    db = tmp_path / "data" / "library.sqlite3"
    db.parent.mkdir()
    engine = create_engine(f"sqlite:///{db}")
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.execute(text("INSERT INTO folders (id, path, added_at, online) VALUES (1, :p, 0, 1)"), {"p": str(tmp_path / "photos")})
        for i, p in enumerate(files, 1):
            st = p.stat()
            conn.execute(text(
                "INSERT INTO photos (id, folder_id, path, size, mtime_ns, width, height, status, added_at, updated_at) "
                "VALUES (:id, 1, :path, :size, :mtime, 384, 256, :ok, 0, 0)"
            ), {"id": i, "path": str(p), "size": st.st_size, "mtime": st.st_mtime_ns, "ok": STATUS_OK})
    assert "phash" not in {c["name"] for c in inspect(engine).get_columns("photos")}
    engine.dispose()
    return db, files


@pytest.mark.parametrize("revision", ["0002", "0003"])
def test_migration_0004_and_a_backfill_that_survives_being_stopped(tmp_path: Path, revision: str) -> None:
    db, files = _old_library(tmp_path, revision, 5)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    engine = open_database(db, tmp_path / "data" / "backups")
    assert current_revision(engine) == head_revision() == "0005"
    repo = Repository(engine)
    assert len(pending(repo, 10)) == 5 and len(repo.perceptual_hashes()[0]) == 0
    generation = repo.generation()

    cancel = threading.Event()
    real = repo.write

    def write_then_cancel():  # type: ignore[no-untyped-def]
        cancel.set()  # "killed" once the first batch is committed
        return real()

    repo.write = write_then_cancel  # type: ignore[method-assign]
    assert backfill_phash(repo, cancel, batch=2) == 2
    repo.write = real  # type: ignore[method-assign]
    assert [i for i, _ in pending(repo, 10)] == [3, 4, 5]
    assert backfill_phash(repo, None, batch=2) == 3  # resumes with the rest
    assert pending(repo, 10) == [] and repo.generation() == generation  # no vector changed
    ids, values = repo.perceptual_hashes()
    assert ids.tolist() == [1, 2, 3, 4, 5]
    assert values.tolist() == [hash_file(str(p)) for p in files]
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before  # photos only read
    engine.dispose()


def test_the_index_job_runs_the_backfill_and_duplicates_work_before_it(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    originals = write_photos(photos, range(6))
    with Image.open(originals[0]) as im:  # colours halved: the fake vectors drift, the hash does not
        ImageEnhance.Color(im).enhance(0.5).save(photos / "0_pale.jpg", quality=90)
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder())
    lib.add_folder(photos)
    lib.run_index()
    lib.close()
    with open_database(tmp_path / "data" / "library.sqlite3", tmp_path / "data" / "backups").begin() as conn:
        conn.exec_driver_sql("UPDATE photos SET phash = NULL")  # as if indexed before 0.4
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder())
    strict = 0.97  # the fake vectors of the pale copy are below this
    sims = [p.similarity for g in lib.find_duplicates(threshold=0.85) for p in g.others]
    assert len(sims) == 1 and 0.70 <= sims[0] < strict
    # no hashes yet: the cosine rule alone, which this threshold is too strict for
    assert lib.find_duplicates(threshold=strict) == []
    lib.run_index()  # nothing to embed; the backfill hashes every photo
    assert len(lib.repo.perceptual_hashes()[0]) == 7
    groups = lib.find_duplicates(threshold=strict)
    assert [sorted(Path(p.path).name for p in g.photos) for g in groups] == [["0.jpg", "0_pale.jpg"]]
    assert lib.find_duplicates(threshold=strict, hash_floor=None) == []  # the cosine rule alone
    lib.close()


def test_the_backfills_report_progress_and_stats_count_the_photos_waiting(tmp_path: Path) -> None:
    from photofind.core.indexing.backfill import BACKFILL_LABELS

    photos = tmp_path / "photos"
    write_photos(photos, range(7))
    Image.new("RGB", (64, 48), (90, 90, 90)).save(photos / "flat.png")  # too flat to hash
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder())
    lib.add_folder(photos)
    lib.run_index()
    assert lib.repo.perceptual_hash_counts() == {"hashed": 7, "none": 1, "pending": 0}
    with lib.repo.write() as w:  # as if indexed before 0.3 / 0.4
        w.conn.exec_driver_sql("UPDATE photos SET phash = NULL, taken = NULL, taken_source = NULL")
    assert lib.repo.perceptual_hash_counts() == {"hashed": 0, "none": 0, "pending": 8}
    reports = []
    lib.run_index(progress=reports.append)
    by_phase = {phase: [(p.done, p.total) for p in reports if p.phase == phase] for phase in BACKFILL_LABELS}
    # a first report before any photo is done, one a batch, the last one complete
    assert by_phase["dates"][0] == (0, 8) and by_phase["dates"][-1] == (8, 8)
    assert by_phase["hashes"][0] == (0, 8) and by_phase["hashes"][-1] == (8, 8)
    phases = [p.phase for p in reports]
    assert phases.index("done") < phases.index("dates") < phases.index("hashes")  # after the run
    assert lib.repo.perceptual_hash_counts() == {"hashed": 7, "none": 1, "pending": 0}
    reports.clear()
    lib.run_index(progress=reports.append)  # nothing waits: no backfill reports
    assert not {p.phase for p in reports} & set(BACKFILL_LABELS)
    lib.close()


def test_a_photo_the_os_cannot_read_stays_pending_and_is_not_read_twice_in_a_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from photofind.core.indexing import phash_backfill

    photos = tmp_path / "photos"
    write_photos(photos, range(4))
    lib = library_with(Paths(tmp_path / "data"), FakeEmbedder())
    lib.add_folder(photos)
    lib.run_index()
    with lib.repo.write() as w:
        w.conn.exec_driver_sql("UPDATE photos SET phash = NULL")
    reads: list[str] = []
    real = phash_backfill.hash_file

    def flaky(path: str) -> int | None:
        reads.append(path)
        return None if path.endswith("1.jpg") else real(path)  # None: the OS failed to read it

    monkeypatch.setattr(phash_backfill, "hash_file", flaky)
    reports = []
    assert backfill_phash(lib.repo, batch=2, progress=reports.append) == 3
    assert len(reads) == 4  # the unreadable one once, not again and again
    assert [(p.done, p.total) for p in reports][-1] == (4, 4)
    assert lib.repo.perceptual_hash_counts()["pending"] == 1  # tried again by the next run
    lib.close()
