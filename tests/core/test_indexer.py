"""The indexer on real photos with a fake model: what changes, what is kept, what is redone."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from photofind.core.indexing.indexer import Progress
from photofind.core.search.indexes import SearchIndexes
from photofind.core.search.searcher import Searcher
from tests.fake_library import FakeLibrary
from tests.fakes import FakeEmbedder


class Env(FakeLibrary):
    """A temp library over a temp photo folder, with a fake embedder that counts its work."""

    def run(self, **kwargs):  # type: ignore[no-untyped-def]
        return self.indexer(batch_size=8, decode_workers=2).run(**kwargs)


@pytest.fixture()
def corel_photos(corel_dir: Path) -> list[Path]:
    return sorted((corel_dir / "images").glob("*.jpg"), key=lambda p: int(p.stem))[:24]


@pytest.fixture()
def env(tmp_path: Path, corel_photos: list[Path]) -> Env:
    photos_dir = tmp_path / "photos"
    photos_dir.mkdir()
    for p in corel_photos:
        shutil.copy2(p, photos_dir / p.name)
    return Env(tmp_path, photos_dir)


def test_first_run_adds_every_photo_and_second_run_does_nothing(env: Env) -> None:
    progress: list[Progress] = []
    report = env.run(on_progress=progress.append)
    assert (report.added, report.skipped, report.cancelled) == (24, [], False)
    assert env.embedder.embedded == 24
    assert progress[-1].phase == "done"
    assert any(p.phase == "embedding" and p.done == 24 and p.total == 24 for p in progress)
    env.consistent()
    row = env.repo.photo_by_path(str(env.photos_dir / "0.jpg"))
    assert row is not None and (row.width, row.height) in {(384, 256), (256, 384)}

    again = env.run()
    assert (again.added, again.updated, again.unchanged) == (0, 0, 24)
    assert env.embedder.embedded == 24  # nothing re-embedded


def test_changed_file_is_re_embedded_in_place(env: Env, corel_photos: list[Path]) -> None:
    env.run()
    target = env.photos_dir / "0.jpg"
    before = env.repo.photo_by_path(str(target))
    shutil.copyfile(corel_photos[-1].parent / "500.jpg", target)  # other content, same name
    report = env.run()
    assert (report.updated, report.added) == (1, 0)
    after = env.repo.photo_by_path(str(target))
    assert after is not None and before is not None and after.id == before.id
    assert after.fingerprint != before.fingerprint
    env.consistent()


def test_rename_and_move_keep_the_embedding(env: Env) -> None:
    env.run()
    old = env.photos_dir / "3.jpg"
    photo_id = env.repo.photo_by_path(str(old)).id  # type: ignore[union-attr]
    vector = env.repo.embedding(photo_id, FakeEmbedder.model_id)
    (env.photos_dir / "sub").mkdir()
    new = env.photos_dir / "sub" / "renamed.jpg"
    os.rename(old, new)
    embedded_before = env.embedder.embedded
    report = env.run()
    assert (report.moved, report.added, report.removed) == (1, 0, 0)
    assert env.embedder.embedded == embedded_before
    moved = env.repo.photo_by_path(str(new))
    assert moved is not None and moved.id == photo_id
    assert env.repo.photo_by_path(str(old)) is None
    np.testing.assert_array_equal(env.repo.embedding(photo_id, FakeEmbedder.model_id), vector)
    env.consistent()


def test_exact_copy_reuses_the_vector_without_decoding(env: Env) -> None:
    env.run()
    shutil.copy2(env.photos_dir / "5.jpg", env.photos_dir / "copy of 5.jpg")
    before = env.embedder.embedded
    report = env.run()
    assert (report.copied, report.added) == (1, 0)
    assert env.embedder.embedded == before
    src = env.repo.photo_by_path(str(env.photos_dir / "5.jpg"))
    cpy = env.repo.photo_by_path(str(env.photos_dir / "copy of 5.jpg"))
    assert src and cpy and src.id != cpy.id and (cpy.width, cpy.height) == (src.width, src.height)
    np.testing.assert_array_equal(
        env.repo.embedding(cpy.id, FakeEmbedder.model_id), env.repo.embedding(src.id, FakeEmbedder.model_id)
    )
    env.consistent()


def test_deleted_file_is_removed_from_library_and_index(env: Env) -> None:
    env.run()
    photo_id = env.repo.photo_by_path(str(env.photos_dir / "7.jpg")).id  # type: ignore[union-attr]
    (env.photos_dir / "7.jpg").unlink()
    report = env.run()
    assert report.removed == 1
    assert not env.index.contains(photo_id)
    env.consistent()


def test_unreadable_files_are_skipped_with_reasons_and_the_rest_indexed(env: Env) -> None:
    (env.photos_dir / "empty.jpg").write_bytes(b"")
    (env.photos_dir / "noise.jpg").write_bytes(os.urandom(5000))
    good = (env.photos_dir / "1.jpg").read_bytes()
    (env.photos_dir / "truncated.jpg").write_bytes(good[: len(good) // 3])
    report = env.run()
    skipped = dict(report.skipped)
    assert str(env.photos_dir / "empty.jpg") in skipped
    assert str(env.photos_dir / "noise.jpg") in skipped
    assert all(reason for reason in skipped.values())
    assert report.added == 24 + 3 - len(skipped)
    stats = env.repo.stats(FakeEmbedder.model_id)
    assert stats.skipped == len(skipped) and sum(stats.skip_reasons.values()) == len(skipped)
    # A skipped file is not retried until it changes.
    assert env.run().unchanged == 27
    env.consistent()


def test_missing_folder_goes_offline_and_comes_back_without_re_embedding(env: Env) -> None:
    env.run()
    away = env.photos_dir.with_name("photos-unplugged")
    os.rename(env.photos_dir, away)
    report = env.run()
    assert report.offline_folders == [str(env.photos_dir)]
    assert report.removed == 0
    stats = env.repo.stats(FakeEmbedder.model_id)
    assert (stats.photos, stats.offline_photos, stats.folders_offline) == (24, 24, 1)
    searcher = Searcher(env.repo, env.embedder, SearchIndexes(env.repo, lambda _m: env.index.path))
    some_id = next(iter(env.repo.photos_by_ids(range(1, 100)).keys()))
    assert searcher.search_vector(env.repo.embedding(some_id, FakeEmbedder.model_id), 10) == []

    os.rename(away, env.photos_dir)
    before = env.embedder.embedded
    back = env.run()
    assert (back.unchanged, back.added, back.removed, back.offline_folders) == (24, 0, 0, [])
    assert env.embedder.embedded == before
    assert env.repo.stats(FakeEmbedder.model_id).offline_photos == 0
    assert len(searcher.search_vector(env.repo.embedding(some_id, FakeEmbedder.model_id), 10)) == 10


def test_emptied_folder_is_treated_as_offline_not_deleted(env: Env) -> None:
    env.run()
    away = env.photos_dir.with_name("elsewhere")
    away.mkdir()
    for p in env.photos_dir.iterdir():
        shutil.move(str(p), away / p.name)
    report = env.run()
    assert report.removed == 0 and report.offline_folders == [str(env.photos_dir)]
    assert env.repo.stats().photos == 24


def test_cancel_keeps_finished_batches_and_the_next_run_resumes(env: Env) -> None:
    cancel = threading.Event()

    def stop_after_first_batch(p: Progress) -> None:
        if p.phase == "embedding" and p.done >= 8:
            cancel.set()

    report = env.run(on_progress=stop_after_first_batch, cancel=cancel)
    assert report.cancelled and 8 <= report.added < 24
    env.consistent()
    rest = env.run()
    assert rest.added == 24 - report.added and not rest.cancelled
    assert env.embedder.embedded == 24
    env.consistent()


def test_photos_are_never_modified(env: Env) -> None:
    def snapshot() -> dict[str, tuple[bytes, int, int]]:
        out = {}
        for p in sorted(env.photos_dir.rglob("*")):
            st = p.stat()
            out[str(p)] = (p.read_bytes(), st.st_mtime_ns, st.st_mode)
        return out

    before = snapshot()
    env.run()
    env.run()
    assert snapshot() == before


def test_embed_lanes_store_what_one_lane_stores(tmp_path: Path, corel_photos: list[Path]) -> None:
    """Batches run side by side (``embed_lanes``) are written in order, each photo with its own
    vector: the library ends up identical to a one-lane run's."""
    photos_dir = tmp_path / "photos"
    photos_dir.mkdir()
    for p in corel_photos:
        shutil.copy2(p, photos_dir / p.name)
    stored = []
    for lanes in (1, 3):
        lib = Env(tmp_path / f"lanes{lanes}", photos_dir)
        report = lib.indexer(batch_size=5, decode_workers=2, embed_lanes=lanes).run()
        assert (report.added, report.skipped, report.cancelled) == (24, [], False)
        assert report.embed_cpu_seconds > 0
        lib.consistent()
        by_path = {row.path: row.id for row in lib.rows().values()}
        stored.append({path: lib.repo.embedding(pid, FakeEmbedder.model_id) for path, pid in by_path.items()})
    one, three = stored
    assert one.keys() == three.keys()
    for path in one:
        assert np.allclose(one[path], three[path], atol=1e-3), path


def test_cancel_with_embed_lanes_keeps_written_batches_and_the_next_run_resumes(env: Env) -> None:
    cancel = threading.Event()

    def stop_after_first_batch(p: Progress) -> None:
        if p.phase == "embedding" and p.done >= 8:
            cancel.set()

    report = env.indexer(batch_size=8, decode_workers=2, embed_lanes=2).run(on_progress=stop_after_first_batch, cancel=cancel)
    assert report.cancelled and 8 <= report.added < 24
    env.consistent()
    rest = env.indexer(batch_size=8, decode_workers=2, embed_lanes=2).run()
    assert rest.added == 24 - report.added and not rest.cancelled
    env.consistent()
