"""Dozens of hostile files next to good photos, indexed in ONE run of the real CLI with the real model.

The run must exit 0 without a traceback, index every real photo, and settle every hostile file
one way or another: indexed correctly, recorded as skipped with a reason (``photofind
skipped``), or, for things that are not photos at all (a FIFO, a directory, hidden files, a
broken link), left out and mentioned as a scan error. Nothing may hang: the subprocess runs
under a timeout. The photo folder is byte-for-byte, mtime and mode unchanged afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import hostile_files as hf
from tests.reliability.helpers import (
    REPO_ROOT,
    as_json,
    assert_untouched,
    cli_command,
    cli_env,
    db_connect,
    db_rows,
    db_vector,
    photofind,
    snapshot,
    without_dac_override,
)
from tests.synthetic_photos import write_photos

pytestmark = pytest.mark.slow

OK, SKIPPED, ABSENT, SETTLED = "indexed", "skipped", "absent", "indexed or skipped"
GONE = "absent, or indexed before it was deleted"
BAD_NAME = b"caf\xe9.jpg"  # Latin-1 bytes: not valid UTF-8


@dataclass
class Kind:
    name: str
    rel: str  # path below the photo folder as stored/expected in the DB
    expect: str
    reason: str | None = None  # substring the skip reason must contain


def build_corpus(root: Path) -> list[Kind]:
    """Write the hostile files (and the good photos) below ``root``; return what to expect."""
    real = write_photos(root / "real", range(0, 1000, 50))  # 20 good photo-like JPEGs
    photo = Image.open(real[0]).convert("RGB")  # 384x256
    jpeg = real[1]
    h = root / "hostile"
    h.mkdir()
    kinds: list[Kind] = [Kind(f"real photo {p.name}", f"real/{p.name}", OK) for p in real]

    def add(name: str, rel: str, expect: str, reason: str | None = None) -> None:
        kinds.append(Kind(name, f"hostile/{rel}", expect, reason))

    (h / "zero.jpg").write_bytes(b"")
    add("zero-byte file", "zero.jpg", SKIPPED, "empty")
    hf.random_bytes(h / "random.jpg", 8192, seed=1)
    add("random bytes named .jpg", "random.jpg", SKIPPED, "not an image")
    for pct in (10, 50, 99):
        hf.truncated_copy(jpeg, h / f"trunc{pct}.jpg", pct / 100)
        add(f"JPEG truncated at {pct} %", f"trunc{pct}.jpg", SETTLED)
    hf.png_bad_crc(h / "badcrc.png")
    add("PNG with a bad CRC", "badcrc.png", SETTLED)
    hf.png_bomb(h / "bomb.png", 100_000, 100_000)
    add("decompression bomb (10 GPixel declared)", "bomb.png", SKIPPED, "too large")
    hf.solid_png(h / "wide.png", 100_000, 1)
    add("100000x1 image", "wide.png", OK)
    hf.solid_png(h / "tiny.png", 1, 1)
    add("1x1 image", "tiny.png", OK)
    hf.cmyk_jpeg(h / "cmyk.jpg", photo)
    add("CMYK JPEG", "cmyk.jpg", OK)
    hf.gray_jpeg(h / "gray.jpg", photo)
    add("grayscale JPEG", "gray.jpg", OK)
    hf.png16(h / "sixteen.png", photo)
    add("16-bit PNG", "sixteen.png", OK)
    hf.palette_png_transparent(h / "palette.png", photo)
    add("palette PNG with transparency", "palette.png", OK)
    hf.animated_gif(h / "anim.gif", photo)
    add("animated GIF", "anim.gif", OK)
    hf.multipage_tiff(h / "pages.tiff", photo)
    add("multi-page TIFF", "pages.tiff", OK)
    photo.save(h / "photo.webp", "WEBP", quality=85)
    add("WebP", "photo.webp", OK)
    photo.save(h / "photo.avif", "AVIF", quality=70)  # Pillow's own AVIF encoder
    add("AVIF", "photo.avif", OK)
    hf.heic(h / "photo.heic", photo)  # pillow-heif's x265 encoder
    add("HEIC", "photo.heic", OK)
    photo.save(h / "photo.bmp", "BMP")
    add("BMP", "photo.bmp", OK)
    photo.save(h / "progressive.jpg", "JPEG", quality=90, progressive=True)
    add("progressive JPEG", "progressive.jpg", OK)
    photo.convert("RGBA").save(h / "alpha.png", "PNG")
    add("RGBA PNG", "alpha.png", OK)
    shutil.copy2(jpeg, h / "UPPER.JPG")
    add("upper-case extension", "UPPER.JPG", OK)
    shutil.copy2(jpeg, h / "really-a-jpeg.png")
    add("JPEG named .png", "really-a-jpeg.png", OK)
    (h / "notes.png").write_text("<html>not a picture</html>")
    add("text file named .png", "notes.png", SKIPPED, "not an image")
    hf.corrupt_exif_jpeg(h / "badexif.jpg", photo)
    add("corrupt EXIF block", "badexif.jpg", OK)

    orient = h / "orientation"
    orient.mkdir()
    hf.write_jpeg(orient / "upright.jpg", photo)
    add("upright reference", "orientation/upright.jpg", OK)
    for o in range(1, 9):
        hf.oriented_jpeg(orient / f"o{o}.jpg", photo, o)
        add(f"EXIF orientation {o}", f"orientation/o{o}.jpg", OK)

    (h / "x.jpg").mkdir()
    shutil.copy2(jpeg, h / "x.jpg" / "inside.jpg")
    add("directory named x.jpg (its photo is indexed)", "x.jpg/inside.jpg", OK)
    hf.fifo(h / "fifo.jpg")
    add("FIFO named .jpg", "fifo.jpg", ABSENT)
    os.symlink("loop.jpg", h / "loop.jpg")
    add("symlink loop (file)", "loop.jpg", ABSENT)
    os.symlink("..", h / "x.jpg" / "up")
    add("symlink loop (directory)", "x.jpg/up/random.jpg", ABSENT)
    os.symlink("nowhere.jpg", h / "broken.jpg")
    add("broken symlink", "broken.jpg", ABSENT)
    os.symlink(real[2], h / "link.jpg")
    add("symlink to a photo", "link.jpg", OK)
    shutil.copy2(real[3], h / "duplicate.jpg")
    add("byte-identical copy", "duplicate.jpg", OK)
    shutil.copy2(jpeg, h / "noread.jpg")
    os.chmod(h / "noread.jpg", 0)
    add("file without read permission", "noread.jpg", SKIPPED, "permission denied")
    (h / "locked").mkdir()
    shutil.copy2(jpeg, h / "locked" / "in-locked.jpg")
    os.chmod(h / "locked", 0)
    add("folder without permission", "locked/in-locked.jpg", ABSENT)
    fd = os.open(os.path.join(os.fsencode(h), BAD_NAME), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, jpeg.read_bytes())
    os.close(fd)
    add("non-UTF-8 file name", "caf\\xe9.jpg", SKIPPED, "not valid UTF-8")
    long_name = "L" * 251 + ".jpg"  # 255 bytes, the usual NAME_MAX
    shutil.copy2(jpeg, h / long_name)
    add("255-byte file name", long_name, OK)
    shutil.copy2(jpeg, h / ".hidden.jpg")
    add("hidden file", ".hidden.jpg", ABSENT)
    for cache in (".thumbnails", "@eaDir"):
        (h / cache).mkdir()
        shutil.copy2(jpeg, h / cache / "thumb.jpg")
        add(f"{cache} folder", f"{cache}/thumb.jpg", ABSENT)
    # Decoded last (names sort last): these two are changed *during* the run by the test.
    hf.truncated_copy(real[4], h / "zz-growing.jpg", 0.05)
    add("file growing while indexed", "zz-growing.jpg", SETTLED)
    shutil.copy2(real[5], h / "zz-deleted.jpg")
    add("file deleted between scan and decode", "zz-deleted.jpg", GONE)
    return kinds


def _while_running(proc: subprocess.Popen, data: Path, h: Path, full: bytes) -> threading.Thread:
    """Grow one file for as long as the run lasts; delete another once embedding has begun."""

    def work() -> None:
        growing, deleted = h / "zz-growing.jpg", h / "zz-deleted.jpg"
        done = len(growing.read_bytes())
        while proc.poll() is None:
            if deleted.exists() and _embedded_rows(data) > 0:
                deleted.unlink()  # the scan saw it; its decode is still queued
            step = full[done : done + 4096] if done < len(full) else b"\0" * 512
            with open(growing, "ab") as f:
                f.write(step)
            done += len(step)
            time.sleep(0.01)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _embedded_rows(data: Path) -> int:
    try:
        con = db_connect(data)
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    try:
        return int(con.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    except Exception:  # noqa: BLE001 - schema not there yet
        return 0
    finally:
        con.close()


def test_hostile_corpus_in_one_cli_run(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    kinds = build_corpus(photos)
    hostile = photos / "hostile"
    assert len({k.name for k in kinds if not k.name.startswith("real")}) >= 30
    before = snapshot(photos)
    data = tmp_path / "data"

    proc = subprocess.Popen(
        cli_command("index", str(photos), "--json", "--batch-size", "4"),
        env=cli_env(data), cwd=REPO_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=without_dac_override(),  # noqa: PLW1509 - no threads yet
    )
    grower = _while_running(proc, data, hostile, (photos / "real" / "200.jpg").read_bytes())
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    grower.join(10)
    assert proc.returncode == 0 and "Traceback" not in err, err
    report = __import__("json").loads(out)
    assert not report["cancelled"]

    rows = db_rows(data)
    model = as_json(photofind(data, "stats", "--json"))["model"]
    skipped = {s["path"]: s["reason"] for s in as_json(photofind(data, "skipped", "--json"))}
    run_skips = {s["path"]: s["reason"] for s in report["skipped"]}
    outcome: dict[str, str] = {}
    for kind in kinds:
        path = str(photos / kind.rel)
        row = rows.get(path)
        if row is None:
            got = ABSENT
        elif row["status"] == "ok":
            assert row["models"] == [model], (kind.name, row)  # exactly one vector
            got = OK
        else:
            assert row["models"] == [] and row["reason"], (kind.name, row)
            assert skipped.get(path) == row["reason"], kind.name  # visible in `photofind skipped`
            got = SKIPPED
        outcome[kind.name] = f"{got}" + (f" ({row['reason']})" if row and row["reason"] else "")
        if kind.expect == GONE:
            # Reported by this run as vanished with no row recorded, or (if it was decoded
            # before the test deleted it) indexed, and then removed by the next run.
            assert got in (ABSENT, OK), got
            if got == ABSENT:
                assert "vanished" in run_skips[path], run_skips.get(path)
                outcome[kind.name] += f" (run report: {run_skips[path]})"
        elif kind.expect == SETTLED:
            assert got in (OK, SKIPPED), (kind.name, got)
        else:
            assert got == kind.expect, (kind.name, kind.expect, outcome[kind.name])
        if kind.reason:
            assert kind.reason in row["reason"], (kind.name, row["reason"])
    print("\n".join(f"{k:45s} {v}" for k, v in outcome.items()))

    scan_errors = {e["path"]: e["reason"] for e in report["scan_errors"]}
    assert "not a regular file" in scan_errors[str(hostile / "fifo.jpg")]
    assert scan_errors[str(hostile / "broken.jpg")] == "broken symbolic link"
    assert "symbolic links" in scan_errors[str(hostile / "loop.jpg")]
    assert scan_errors[str(hostile / "locked")] == "permission denied"

    # Orientation: every oriented copy embeds like the upright photo it shows.
    upright = db_vector(data, str(hostile / "orientation" / "upright.jpg"))
    for o in range(1, 9):
        vec = db_vector(data, str(hostile / "orientation" / f"o{o}.jpg"))
        cos = float(np.dot(vec, upright) / (np.linalg.norm(vec) * np.linalg.norm(upright)))
        assert cos >= 0.99, (o, cos)

    # A second run settles the files the first one saw changing, and changes nothing else.
    again = as_json(photofind(data, "index", "--json"))
    rows = db_rows(data)
    assert rows[str(hostile / "zz-growing.jpg")]["status"] == "ok"
    assert str(hostile / "zz-deleted.jpg") not in rows
    assert again["added"] + again["updated"] <= 2, again
    assert again["skipped"] == [], again  # settled skips (bad name, no permission, ...) stay settled
    # The test itself changed these two files, hence also the mtime of their folder.
    ignore = {os.fsencode(f"hostile/{n}") for n in ("zz-growing.jpg", "zz-deleted.jpg")} | {b"hostile"}
    assert_untouched(before, snapshot(photos), ignore)
    os.chmod(hostile / "locked", 0o755)  # let pytest clean up
