"""Races with the file system, in process (fake model, photo-like JPEGs made here): deterministic, seconds.

- A decode that never returns is abandoned after the time limit; the run completes.
- A folder renamed away mid-scan or mid-embed goes offline: nothing is deleted, no good row is
  overwritten with a "skipped" row, and when it comes back nothing is embedded twice.
- A file deleted between scan and decode is reported, not recorded.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import photofind.core.indexing.decode_pool as decode_module
from photofind.core.indexing import plan as index_plan
from photofind.core.indexing.indexer import Indexer, IndexReport, Progress
from photofind.store.schema import STATUS_OK
from tests.fake_library import FakeLibrary
from tests.fakes import FakeEmbedder
from tests.reliability.helpers import assert_untouched, snapshot
from tests.synthetic_photos import write_photos


class Env(FakeLibrary):
    def run(self, **kwargs) -> IndexReport:  # type: ignore[no-untyped-def]
        options = {"batch_size": 4, "decode_workers": 1, "prefetch_batches": 1}
        options.update(kwargs.pop("options", {}))
        return run_guarded(self.indexer(**options), **kwargs)


def run_guarded(indexer: Indexer, **kwargs) -> IndexReport:  # type: ignore[no-untyped-def]
    """Run in a thread and fail (instead of hanging the suite) if it doesn't finish."""
    result: list[IndexReport] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(indexer.run(**kwargs))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the index run hung"
    if errors:
        raise errors[0]
    return result[0]


@pytest.fixture()
def env(tmp_path: Path) -> Env:
    write_photos(tmp_path / "photos", range(24))
    return Env(tmp_path, tmp_path / "photos")


def test_a_decode_that_never_returns_is_abandoned(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real_decode = decode_module.decode_for_model

    def decode(path, spec, **options):  # type: ignore[no-untyped-def]
        if os.path.basename(path) in ("3.jpg", "7.jpg"):
            release.wait(60)  # a hung network read, a codec in an endless loop
        return real_decode(path, spec, **options)

    monkeypatch.setattr(decode_module, "decode_for_model", decode)
    try:
        report = env.run(options={"decode_timeout_s": 0.5})
    finally:
        release.set()
    skipped = dict(report.skipped)
    assert set(skipped) == {str(env.photos_dir / "3.jpg"), str(env.photos_dir / "7.jpg")}
    assert all("took too long to decode" in r for r in skipped.values())
    assert report.added == 22 and not report.cancelled
    assert env.repo.stats(FakeEmbedder.model_id).skip_reasons == {
        "took too long to decode (more than 0.5 s)": 2
    }
    env.consistent()


def test_folder_renamed_away_mid_embed_goes_offline_and_comes_back(env: Env, tmp_path: Path) -> None:
    before = snapshot(env.photos_dir)
    away = tmp_path / "unplugged"

    def unplug(p: Progress) -> None:
        if p.phase == "embedding" and not away.exists():
            os.rename(env.photos_dir, away)

    report = env.run(on_progress=unplug)
    assert report.offline_folders == [str(env.photos_dir)] and report.removed == 0
    assert 0 < report.added < 24
    assert all("vanished" in reason for _p, reason in report.skipped)
    rows = env.rows()
    assert len(rows) == report.added and all(r.status == STATUS_OK for r in rows.values())
    (folder,) = env.repo.folders()
    assert not folder.online and "disappeared" in (folder.last_error or "")
    env.consistent()

    os.rename(away, env.photos_dir)
    again = env.run()
    assert (again.added, again.removed, again.offline_folders) == (24 - report.added, 0, [])
    assert env.embedder.embedded == 24  # nothing embedded twice
    assert env.repo.folders()[0].online
    env.consistent()
    assert_untouched(before, snapshot(env.photos_dir))


def test_good_rows_survive_a_folder_vanishing_while_they_are_re_read(env: Env, tmp_path: Path) -> None:
    env.run()
    vectors_before = {i: env.repo.embedding(i, FakeEmbedder.model_id) for i in env.index.ids().tolist()}
    for photo in env.photos_dir.iterdir():  # every file looks changed: all get re-read
        os.utime(photo, ns=(photo.stat().st_atime_ns, photo.stat().st_mtime_ns + 10**9))
    away = tmp_path / "unplugged"

    def unplug(p: Progress) -> None:
        if p.phase == "embedding" and not away.exists():
            os.rename(env.photos_dir, away)

    report = env.run(on_progress=unplug)
    assert report.offline_folders == [str(env.photos_dir)]
    rows = env.rows()
    assert len(rows) == 24 and all(r.status == STATUS_OK for r in rows.values())
    for photo_id, vec in vectors_before.items():
        assert np.array_equal(env.repo.embedding(photo_id, FakeEmbedder.model_id), vec)
    env.consistent()


def test_folder_renamed_away_mid_scan_keeps_every_photo(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.run()
    real_walk = index_plan.walk_folder
    away = tmp_path / "unplugged"

    def walk(root, on_error=None):  # type: ignore[no-untyped-def]
        it = real_walk(root, on_error)

        def gen():  # type: ignore[no-untyped-def]
            for n, stat in enumerate(it):
                if n == 5:
                    os.rename(env.photos_dir, away)  # the drive goes mid-walk
                yield stat

        return gen()

    (env.photos_dir / "sub").mkdir()  # a sub-folder the walk has not listed yet when it goes
    shutil.copy2(env.photos_dir / "1.jpg", env.photos_dir / "sub" / "copy.jpg")
    monkeypatch.setattr(index_plan, "walk_folder", walk)
    report = env.run()
    assert report.offline_folders == [str(env.photos_dir)] and report.removed == 0
    assert len(env.rows()) == 24
    monkeypatch.setattr(index_plan, "walk_folder", real_walk)
    os.rename(away, env.photos_dir)
    again = env.run()
    assert (again.copied, again.removed, again.unchanged) == (1, 0, 24)
    assert env.embedder.embedded == 24
    env.consistent()


def test_file_deleted_between_scan_and_decode_is_reported_not_recorded(env: Env) -> None:
    victim = env.photos_dir / "9.jpg"  # last in name order, so decoded last

    def delete_early(p: Progress) -> None:
        if p.phase == "embedding" and victim.exists():
            victim.unlink()

    report = env.run(on_progress=delete_early)
    assert report.skipped == [(str(victim), "file vanished before it could be read")]
    assert str(victim) not in env.rows() and report.added == 23
    assert env.repo.folders()[0].online  # only the file went, not the folder
    again = env.run()
    assert (again.added, again.removed, again.skipped) == (0, 0, [])
    env.consistent()
