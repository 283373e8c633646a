"""FolderWatcher on real folders with real inotify events (no fakes, short debounce)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from photofind.core.watcher import FolderWatcher
from tests.synthetic_photos import write_photo

TIMEOUT = 15.0  # generous: CI machines can be slow; tests return as soon as the event arrives


class Recorder:
    """Collects on_change calls; ``wait_for`` blocks until a predicate over them holds."""

    def __init__(self) -> None:
        self.calls: list[set[str]] = []
        self._cond = threading.Condition()

    def __call__(self, dirty: set[str]) -> None:
        with self._cond:
            self.calls.append(set(dirty))
            self._cond.notify_all()

    @property
    def seen(self) -> set[str]:
        with self._cond:
            return set().union(*self.calls)

    def wait_for(self, predicate: Callable[[list[set[str]]], bool], timeout: float = TIMEOUT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.calls), timeout)

    def wait_seen(self, folder: Path | str, after: int = 0) -> bool:
        """Wait until ``folder`` is reported in a call made after the first ``after`` calls."""
        return self.wait_for(lambda calls: any(str(folder) in c for c in calls[after:]))

    def reset(self) -> int:
        with self._cond:
            self.calls.clear()
            return 0


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A photo-like JPEG outside every watched folder, for the tests to copy in."""
    return write_photo(tmp_path_factory.mktemp("source") / "photo.jpg", 0)


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    return a, b


@pytest.fixture()
def make_watcher() -> Iterator[Callable[..., tuple[FolderWatcher, Recorder]]]:
    made: list[FolderWatcher] = []

    def make(paths: list[Path], debounce_s: float = 0.2, **kw: object) -> tuple[FolderWatcher, Recorder]:
        rec = Recorder()
        w = FolderWatcher([str(p) for p in paths], rec, debounce_s, **kw)  # type: ignore[arg-type]
        w.start()
        made.append(w)
        return w, rec

    yield make
    for w in made:
        w.stop()


def test_copied_photo_reports_its_folder(make_watcher, folders, photo: Path) -> None:
    a, b = folders
    watcher, rec = make_watcher([a, b])
    assert set(watcher.watched_paths) == {str(a), str(b)}
    (a / "sub").mkdir()
    shutil.copy(photo, a / "sub" / "new.jpg")
    assert rec.wait_seen(a)
    assert str(b) not in rec.seen


def test_burst_is_debounced(make_watcher, folders, photo: Path) -> None:
    a, _ = folders
    _, rec = make_watcher([a], debounce_s=0.5, max_wait_s=30.0)
    for i in range(20):
        shutil.copy(photo, a / f"burst{i:02d}.jpg")
    assert rec.wait_seen(a)
    # Any stragglers would arrive within a debounce period; give them three.
    rec.wait_for(lambda calls: len(calls) > 3, timeout=1.5)
    assert 1 <= len(rec.calls) <= 3, rec.calls


def test_delete_rename_and_directory_move_trigger(make_watcher, folders, tmp_path: Path, photo: Path) -> None:
    a, _ = folders
    shutil.copy(photo, a / "x.jpg")
    (a / "album").mkdir()
    shutil.copy(photo, a / "album" / "y.jpg")
    _, rec = make_watcher([a])

    os.rename(a / "x.jpg", a / "renamed.jpg")
    assert rec.wait_seen(a)

    n = len(rec.calls)
    (a / "renamed.jpg").unlink()
    assert rec.wait_seen(a, after=n)

    n = len(rec.calls)
    os.rename(a / "album", tmp_path / "album-moved-out")
    assert rec.wait_seen(a, after=n)


def test_hidden_non_photo_and_ignored_paths_do_not_trigger(make_watcher, folders, photo: Path) -> None:
    a, b = folders
    data_dir = a / "photofind-data"
    data_dir.mkdir()
    _, rec = make_watcher([a, b], ignore=[data_dir])
    # Nothing of this may mark ``a``...
    shutil.copy(photo, a / ".hidden.jpg")
    (a / ".cache").mkdir()
    shutil.copy(photo, a / ".cache" / "thumb.jpg")
    (a / "notes.txt").write_text("not a photo")
    shutil.copy(photo, data_dir / "thumb.jpg")
    # ...and events are handled in order, so once ``b`` is reported, ``a`` would have been too.
    shutil.copy(photo, b / "visible.jpg")
    assert rec.wait_seen(b)
    assert str(a) not in rec.seen


def test_missing_folder_does_not_crash_and_is_rearmed(make_watcher, folders, tmp_path: Path, photo: Path) -> None:
    a, _ = folders
    missing = tmp_path / "usb-drive"
    watcher, rec = make_watcher([missing, a])
    assert watcher.watched_paths == (str(a),)
    shutil.copy(photo, a / "still-works.jpg")
    assert rec.wait_seen(a)

    missing.mkdir()  # the drive came back
    n = len(rec.calls)
    watcher.set_paths([str(missing), str(a)])
    assert set(watcher.watched_paths) == {str(missing), str(a)}
    assert rec.wait_seen(missing, after=n)  # reported, so its photos get back online
    n = len(rec.calls)
    shutil.copy(photo, missing / "p.jpg")
    assert rec.wait_seen(missing, after=n)


def test_deleted_root_is_reported_and_rewatched_when_back(make_watcher, folders, photo: Path) -> None:
    a, b = folders
    watcher, rec = make_watcher([a, b], retry_s=0.3)
    shutil.rmtree(a)
    assert rec.wait_seen(a)
    a.mkdir()
    # The periodic check re-arms it and reports it; then its events arrive again.
    assert rec.wait_for(lambda _c: str(a) in watcher.watched_paths)
    n = len(rec.calls)
    shutil.copy(photo, a / "again.jpg")
    assert rec.wait_seen(a, after=n)


def test_set_paths_drops_folders(make_watcher, folders, photo: Path) -> None:
    a, b = folders
    watcher, rec = make_watcher([a, b])
    watcher.set_paths([str(b)])
    assert watcher.watched_paths == (str(b),)
    shutil.copy(photo, a / "unwatched.jpg")
    shutil.copy(photo, b / "watched.jpg")
    assert rec.wait_seen(b)
    assert str(a) not in rec.seen


def test_stop_joins_and_is_idempotent(folders) -> None:
    a, _ = folders
    watcher = FolderWatcher([str(a)], lambda _d: None, 0.1)
    before = {t.ident for t in threading.enumerate()}
    watcher.start()
    watcher.stop()
    watcher.stop()
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []
    assert watcher.watched_paths == ()


def test_callback_errors_do_not_stop_the_watcher(folders, photo: Path) -> None:
    a, _ = folders
    rec = Recorder()
    failed = threading.Event()

    def flaky(dirty: set[str]) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("boom")
        rec(dirty)

    watcher = FolderWatcher([str(a)], flaky, 0.1)
    watcher.start()
    try:
        shutil.copy(photo, a / "one.jpg")
        assert failed.wait(TIMEOUT)
        shutil.copy(photo, a / "two.jpg")
        assert rec.wait_seen(a)
    finally:
        watcher.stop()
