"""VectorIndex: search semantics over hnswlib, deletion bookkeeping, and safe load/save."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from photofind.core.vectors import vector_index as vi
from photofind.core.vectors.vector_index import VectorIndex

DIM = 32


def unit(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class Source:
    """Stands in for the database: what ``load_all`` returns, and how often it was asked."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.ids, self.vectors, self.calls = ids, vectors, 0

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        return self.ids, self.vectors


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return np.arange(100, 300, dtype=np.int64), unit(200)


@pytest.fixture
def saved(tmp_path: Path, data) -> tuple[Path, Source]:
    """An index file + sidecar saved under token "t1", and the source it was built from."""
    path = tmp_path / "index" / "model.hnsw"
    src = Source(*data)
    assert VectorIndex(path, DIM).open(src, "t1") == "rebuilt: missing"
    return path, src


def test_add_then_search_finds_self_first(tmp_path: Path, data) -> None:
    ids, vecs = data
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(ids, vecs)
    assert len(index) == 200
    for row in (0, 57, 199):
        got, sims = index.search(vecs[row], 5)
        assert got[0] == ids[row]
        assert sims[0] == pytest.approx(1.0, abs=1e-5)
        assert got.dtype == np.int64 and sims.dtype == np.float32
        assert np.all(np.diff(sims) <= 1e-6)  # best first
    # a 2-D single row is accepted too
    got, _ = index.search(vecs[3:4], 1)
    assert got.tolist() == [ids[3]]


def test_k_is_clamped_and_empty_index_returns_empty(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    got, sims = index.search(unit(1)[0], 10)
    assert got.shape == (0,) and sims.shape == (0,)
    index.add(np.array([1, 2, 3]), unit(3))
    got, sims = index.search(unit(1, seed=9)[0], 10)
    assert sorted(got.tolist()) == [1, 2, 3]
    with pytest.raises(ValueError):
        index.search(np.ones(DIM + 1, np.float32), 1)


def test_search_many(tmp_path: Path, data) -> None:
    ids, vecs = data
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(ids, vecs)
    got, sims = index.search_many(vecs[:10], 3)
    assert got.shape == (10, 3) and sims.shape == (10, 3)
    assert got[:, 0].tolist() == ids[:10].tolist()


def test_remove_hides_id_and_ignores_unknown(tmp_path: Path, data) -> None:
    ids, vecs = data
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(ids, vecs)
    index.remove([ids[0], ids[1], 999_999])
    index.remove([ids[0]])  # twice is fine
    assert len(index) == 198
    assert not index.contains(ids[0]) and index.contains(ids[2])
    assert ids[0] not in index.ids()
    got, _ = index.search(vecs[0], 198)  # every live id, none of the removed
    assert len(got) == 198 and ids[0] not in got and ids[1] not in got


def test_readding_a_removed_id_brings_it_back_with_the_new_vector(tmp_path: Path, data) -> None:
    ids, vecs = data
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(ids, vecs)
    index.remove([ids[5]])
    new = unit(1, seed=42)
    index.add(ids[5:6], new)
    assert index.contains(ids[5]) and len(index) == 200
    got, sims = index.search(new[0], 1)
    assert got[0] == ids[5] and sims[0] == pytest.approx(1.0, abs=1e-5)


def test_replacing_a_vector(tmp_path: Path, data) -> None:
    ids, vecs = data
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(ids, vecs)
    new = unit(1, seed=7)
    index.add(ids[10:11], new)
    assert len(index) == 200
    got, sims = index.search(new[0], 1)
    assert got[0] == ids[10] and sims[0] == pytest.approx(1.0, abs=1e-5)
    got, _ = index.search(vecs[10], 1)
    assert got[0] != ids[10]  # the old vector is gone


def test_new_ids_reuse_deleted_slots_without_losing_anyone(tmp_path: Path, data) -> None:
    ids, vecs = data
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(ids, vecs)
    index.remove(ids[:50])
    fresh_ids, fresh = np.arange(1000, 1030), unit(30, seed=3)
    # one batch mixing an update, a revival and brand-new ids
    index.add(np.concatenate([[ids[60], ids[0]], fresh_ids]), np.vstack([unit(2, seed=4), fresh]))
    assert len(index) == 150 + 1 + 30
    expected = set(ids[50:].tolist()) | {int(ids[0])} | set(fresh_ids.tolist())
    assert set(index.ids().tolist()) == expected
    got, _ = index.search(fresh[0], len(index))
    assert set(got.tolist()) == expected  # exactly the live ids, no duplicates
    assert len(got) == len(set(got.tolist()))
    index.remove(ids[1:50])  # those still deleted: no-ops, no errors
    assert len(index) == 181


def test_duplicate_ids_in_one_batch_keep_the_last(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    v = unit(2)
    index.add(np.array([7, 7]), v)
    assert len(index) == 1
    got, sims = index.search(v[1], 1)
    assert got[0] == 7 and sims[0] == pytest.approx(1.0, abs=1e-5)


def test_grows_past_initial_capacity(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(np.arange(10), unit(10))
    start = index.capacity
    n = start + 500
    vecs = unit(n, seed=1)
    for lo in range(10, n, 400):
        index.add(np.arange(lo, min(lo + 400, n)), vecs[lo : lo + 400])
    assert len(index) == n and index.capacity >= n > start
    got, _ = index.search(vecs[n - 1], 1)
    assert got[0] == n - 1


def test_rejects_bad_input(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    with pytest.raises(ValueError):
        index.add(np.arange(3), unit(2))
    with pytest.raises(ValueError):
        index.add(np.arange(2), unit(2, dim=DIM + 1))
    with pytest.raises(ValueError):
        index.add(np.array([-1]), unit(1))
    bad = unit(1)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        index.add(np.array([1]), bad)


def test_save_then_open_same_token_loads(saved) -> None:
    path, src = saved
    assert src.calls == 1
    assert path.is_file() and Path(str(path) + ".json").is_file()
    index = VectorIndex(path, DIM)
    assert index.open(src, "t1") == "loaded"
    assert src.calls == 1  # the database was not asked
    assert len(index) == 200
    got, _ = index.search(src.vectors[3], 1)
    assert got[0] == src.ids[3]


def test_deletions_survive_save_and_load(saved) -> None:
    path, src = saved
    index = VectorIndex(path, DIM)
    index.open(src, "t1")
    index.remove(src.ids[:5])
    index.save("t2")
    again = VectorIndex(path, DIM)
    assert again.open(src, "t2") == "loaded"
    assert len(again) == 195 and not again.contains(src.ids[0])
    again.add(src.ids[:1], src.vectors[:1])  # a removed id can come back after a reload
    assert again.contains(src.ids[0])


def test_open_with_other_token_rebuilds_from_database(saved) -> None:
    path, src = saved
    src.ids, src.vectors = src.ids[:50], src.vectors[:50]  # the library changed
    index = VectorIndex(path, DIM)
    assert index.open(src, "t2") == "rebuilt: out of step with the library"
    assert src.calls == 2 and len(index) == 50
    assert VectorIndex(path, DIM).open(src, "t2") == "loaded"


def _corrupt_truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _corrupt_random(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def _corrupt_flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_sidecar(path: Path) -> None:
    Path(str(path) + ".json").unlink()


def _garble_sidecar(path: Path) -> None:
    Path(str(path) + ".json").write_text("{not json")


def _drop_index(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_corrupt_truncate, "rebuilt: size mismatch"),
        (_corrupt_random, "rebuilt: checksum mismatch"),
        (_corrupt_flip_byte, "rebuilt: checksum mismatch"),
        (_drop_sidecar, "rebuilt: no metadata"),
        (_garble_sidecar, "rebuilt: unreadable metadata"),
        (_drop_index, "rebuilt: missing"),
    ],
)
def test_damaged_files_are_rebuilt_not_loaded(saved, damage, reason) -> None:
    path, src = saved
    damage(path)
    index = VectorIndex(path, DIM)
    assert index.open(src, "t1") == reason
    assert len(index) == 200 and src.calls == 2
    assert VectorIndex(path, DIM).open(src, "t1") == "loaded"  # and the fix was saved


def test_random_bytes_with_a_matching_sidecar_checksum_still_fail_safely(saved) -> None:
    """A sidecar that vouches for garbage (not something we write) must not crash the process."""
    path, src = saved
    junk = np.random.default_rng(1).bytes(4096)
    path.write_bytes(junk)
    meta_path = Path(str(path) + ".json")
    meta = json.loads(meta_path.read_text())
    meta.update(size=len(junk), xxh3_64=vi._file_hash(path))
    meta_path.write_text(json.dumps(meta))
    assert VectorIndex(path, DIM).open(src, "t1").startswith("rebuilt: load failed")


def test_other_dimension_rebuilds(saved) -> None:
    path, _ = saved
    src = Source(np.arange(20, dtype=np.int64), unit(20, dim=DIM * 2))
    index = VectorIndex(path, DIM * 2)
    assert index.open(src, "t1") == f"rebuilt: dimension changed ({DIM} -> {DIM * 2})"
    assert len(index) == 20


def test_save_leaves_no_temp_files(saved) -> None:
    path, src = saved
    index = VectorIndex(path, DIM)
    index.open(src, "t1")
    index.add(np.array([5000]), unit(1, seed=5))
    index.save("t2")
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.hnsw", "model.hnsw.json"]


def test_failed_save_keeps_the_old_file_valid(saved, monkeypatch) -> None:
    path, src = saved
    before = path.read_bytes()
    index = VectorIndex(path, DIM)
    index.open(src, "t1")
    index.add(np.array([5000]), unit(1, seed=5))

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(vi.os, "replace", boom)
    with pytest.raises(OSError):
        index.save("t2")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.hnsw", "model.hnsw.json"]
    reopened = VectorIndex(path, DIM)
    assert reopened.open(src, "t1") == "loaded" and len(reopened) == 200


def test_crash_between_index_and_sidecar_means_rebuild(saved, monkeypatch) -> None:
    path, src = saved
    index = VectorIndex(path, DIM)
    index.open(src, "t1")
    index.add(np.array([5000]), unit(1, seed=5))

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(vi, "_atomic_write_bytes", crash)  # new index file in place, old sidecar
    with pytest.raises(OSError):
        index.save("t1")
    monkeypatch.undo()
    assert VectorIndex(path, DIM).open(src, "t1") == "rebuilt: size mismatch"


def test_searches_from_another_thread_interleave_with_every_add_and_remove(tmp_path: Path) -> None:
    """A searching thread and a writing thread share the index; the writer waits for a search
    to finish between its batches, so searches provably run between all 30 writes (not only
    before or after them, as a fast writer could otherwise manage) and always see a sound graph."""
    base = unit(300, seed=11)
    index = VectorIndex(tmp_path / "i.hnsw", DIM, num_threads=2)
    index.add(np.arange(300), base)
    extra = unit(3000, seed=12)
    errors: list[BaseException] = []
    done = threading.Event()
    searched = threading.Semaphore(0)  # one release per finished search
    writes_between_searches: list[int] = []

    def writer() -> None:
        try:
            for lo in range(0, 3000, 100):
                assert searched.acquire(timeout=60), "the searching thread stopped"
                while searched.acquire(blocking=False):  # searches since the last batch
                    pass
                writes_between_searches.append(lo)
                index.add(np.arange(1000 + lo, 1100 + lo), extra[lo : lo + 100])
                if lo % 500 == 0:
                    index.remove(np.arange(1000 + lo, 1010 + lo))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    searches = 0
    while not done.is_set():
        row = searches % 300
        got, sims = index.search(base[row], 5)
        assert got[0] == row and sims[0] == pytest.approx(1.0, abs=1e-4)
        searches += 1
        searched.release()
    thread.join()
    assert not errors
    assert len(writes_between_searches) == 30 and searches >= 30
    assert len(index) == 300 + 3000 - 6 * 10


def test_compact_keeps_live_vectors_and_drops_deleted_slots(tmp_path: Path, data) -> None:
    ids, vecs = data
    index = VectorIndex(tmp_path / "i.hnsw", DIM)
    index.add(ids, vecs)
    index.remove(ids[:100])
    index.compact()
    assert len(index) == 100 and set(index.ids().tolist()) == set(ids[100:].tolist())
    got, sims = index.search(vecs[150], 1)
    assert got[0] == ids[150] and sims[0] == pytest.approx(1.0, abs=1e-5)
    index.add(ids[:1], vecs[:1])  # a previously removed id is simply new now
    assert index.contains(ids[0]) and len(index) == 101


def test_rebuild_is_advised_after_mostly_incremental_growth(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(vi, "_ADVISE_REBUILD_MIN", 50)
    path = tmp_path / "i.hnsw"
    index = VectorIndex(path, DIM)
    index.add(np.arange(40), unit(40))
    assert not index.rebuild_advised  # below the minimum
    index.add(np.arange(40, 120), unit(80, seed=1))
    assert index.rebuild_advised
    index.save("t")
    reopened = VectorIndex(path, DIM)
    reopened.open(Source(np.arange(0), unit(0)), "t")
    assert reopened.rebuild_advised  # the count survives a restart
    reopened.compact()
    assert not reopened.rebuild_advised and len(reopened) == 120


# ----------------------------------------------------------------------------- catching up


def _unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_stale_file_is_caught_up_instead_of_rebuilt(tmp_path: Path) -> None:
    dim = 16
    path = tmp_path / "m.hnsw"
    base = _unit_rows(100, dim, 1)
    ids = np.arange(1, 101, dtype=np.int64)
    first = VectorIndex(path, dim)
    first.open(lambda: (ids, base), "5")

    # Since generation 5 the library removed id 3, updated id 4, added 101..110.
    new_ids = np.arange(101, 111, dtype=np.int64)
    new_vecs = _unit_rows(10, dim, 2)
    updated = _unit_rows(1, dim, 3)
    live = np.concatenate([ids[ids != 3], new_ids])
    changed_ids = np.concatenate([[4], new_ids]).astype(np.int64)
    changed_vecs = np.concatenate([updated, new_vecs])
    asked: list[str] = []

    def load_all():  # type: ignore[no-untyped-def]
        raise AssertionError("a sound stale file must not be rebuilt")

    def load_changes(token: str):  # type: ignore[no-untyped-def]
        asked.append(token)
        return live, changed_ids, changed_vecs

    again = VectorIndex(path, dim)
    outcome = again.open(load_all, "7", load_changes)
    assert outcome.startswith("caught up") and asked == ["5"]
    assert set(again.ids().tolist()) == set(live.tolist())
    found, sims = again.search(updated[0], 1)
    assert found[0] == 4 and sims[0] > 0.999
    # Saved at the new token: the next open just loads.
    assert VectorIndex(path, dim).open(load_all, "7", load_changes) == "loaded"


def test_stale_file_is_rebuilt_when_changes_do_not_explain_the_library(tmp_path: Path) -> None:
    dim = 8
    path = tmp_path / "m.hnsw"
    vecs = _unit_rows(20, dim, 4)
    ids = np.arange(1, 21, dtype=np.int64)
    VectorIndex(path, dim).open(lambda: (ids, vecs), "1")
    more_ids = np.arange(1, 31, dtype=np.int64)
    more = _unit_rows(30, dim, 5)
    # The library has ids 21..30 but reports no changes: the file can't be trusted.
    idx = VectorIndex(path, dim)
    outcome = idx.open(lambda: (more_ids, more), "2", lambda token: (more_ids, ids[:0], more[:0]))
    assert outcome.startswith("rebuilt") and len(idx) == 30
    # A library that cannot tell (None) also means rebuild.
    idx2 = VectorIndex(tmp_path / "n.hnsw", dim)
    idx2.open(lambda: (ids, vecs), "1")
    assert VectorIndex(tmp_path / "n.hnsw", dim).open(lambda: (ids, vecs), "9", lambda t: None).startswith("rebuilt")


def test_saving_an_unchanged_state_again_writes_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    dim = 8
    vecs = _unit_rows(30, dim, 7)
    ids = np.arange(1, 31, dtype=np.int64)
    idx = VectorIndex(tmp_path / "m.hnsw", dim)
    idx.open(lambda: (ids, vecs), "1")
    replaced: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append(str(b)), real_replace(a, b)))
    idx.save("1")  # just loaded/rebuilt and saved at "1": nothing to write
    assert replaced == []
    idx.save("2")  # same contents, new library state: the sidecar must say so
    assert replaced
    replaced.clear()
    idx.remove(np.array([5]))
    idx.save("2")  # contents changed: written again
    assert replaced
    reopened = VectorIndex(tmp_path / "m.hnsw", dim)
    assert reopened.open(lambda: (ids, vecs), "2") == "loaded" and not reopened.contains(5)


def test_a_wide_search_puts_the_beam_back_for_the_next_one(tmp_path: Path, data) -> None:
    ids, vectors = data
    index = VectorIndex(tmp_path / "v.hnsw", DIM, ef_search=32)
    index.add(ids, vectors)
    assert len(index.search(vectors[0], 150)[0]) == 150  # needs ef >= 150 for this one query
    assert index._index.ef == 32  # hnswlib's ef is index-wide: every other search keeps its beam


def test_a_starved_beam_falls_back_to_an_exact_scan(tmp_path: Path, data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids, vectors = data
    index = VectorIndex(tmp_path / "v.hnsw", DIM)
    index.add(ids, vectors)
    index.remove(ids[: len(ids) // 2])

    def starved(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Cannot return the results in a contiguous 2D array")

    monkeypatch.setattr(vi, "knn_widening", starved)
    found, sims = index.search(vectors[-1], 10)
    live = vectors[len(ids) // 2 :]
    exact = np.argsort(-(live @ vectors[-1]), kind="stable")[:10]
    assert found.tolist() == ids[len(ids) // 2 :][exact].tolist()
    assert np.allclose(sims, (live @ vectors[-1])[exact], atol=1e-5)


def test_labels_are_read_from_the_saved_file_as_hnswlib_has_them(tmp_path: Path) -> None:
    """A loaded index learns its labels from the file's records (no 1M-int Python list): the same
    labels hnswlib holds, deleted ones included, and a file whose header says otherwise falls
    back to asking hnswlib."""
    import hnswlib

    from photofind.core.vectors.hnsw_graph import saved_labels

    ids = np.arange(5, 3005, 3, dtype=np.int64)
    index = VectorIndex(tmp_path / "a.hnsw", DIM)
    index.rebuild(ids, unit(len(ids)))
    index.remove(ids[:10])
    index.add(np.array([10**12]), unit(1, seed=5))
    index.save("t1")
    graph = hnswlib.Index(space="cosine", dim=DIM)
    graph.load_index(str(tmp_path / "a.hnsw"))
    from_file = saved_labels(tmp_path / "a.hnsw", graph.get_current_count())
    assert from_file is not None
    assert sorted(from_file.tolist()) == sorted(graph.get_ids_list())
    assert saved_labels(tmp_path / "a.hnsw", graph.get_current_count() + 1) is None
    loaded = VectorIndex(tmp_path / "a.hnsw", DIM)
    assert loaded.load() == "t1"
    assert loaded.ids().tolist() == sorted(set(ids[10:].tolist()) | {10**12})
    assert len(loaded) == len(ids) - 10 + 1 and not loaded.contains(int(ids[0]))
