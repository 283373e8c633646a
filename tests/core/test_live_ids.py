"""LiveIds (the vector index's live labels as a sorted int64 array) behaves as the Python set it
replaced, through the operations the index uses."""

from __future__ import annotations

import numpy as np

from photofind.core.vectors.live_ids import LiveIds


def test_live_ids_match_a_python_set_through_random_batches() -> None:
    rng = np.random.default_rng(0)
    live, ref = LiveIds(), set()
    for step in range(200):
        batch = rng.integers(0, 500, size=rng.integers(0, 40))
        if step % 3 == 2:
            live.discard_many(batch)
            ref -= set(batch.tolist())
        else:
            live.add_many(batch)
            ref |= set(batch.tolist())
        assert len(live) == len(ref)
        assert live.array.tolist() == sorted(ref)
        probe = rng.integers(-5, 505, size=30)
        assert live.contains_many(probe).tolist() == [int(p) in ref for p in probe]
        assert all((int(p) in live) == (int(p) in ref) for p in probe[:5])
        other = rng.integers(0, 500, size=300)
        assert live.missing_from(other).tolist() == sorted(ref - set(other.tolist()))
    assert live.equals(np.array(sorted(ref) + sorted(ref)[:3], dtype=np.int64))
    assert not live.equals(np.array([501], dtype=np.int64))


def test_empty_and_edge_cases() -> None:
    live = LiveIds()
    assert len(live) == 0 and not live
    assert 3 not in live and "3" not in live
    assert live.contains_many(np.array([1, 2])).tolist() == [False, False]
    live.discard_many([1])
    live.add_many([])
    assert live.equals(np.zeros(0, np.int64))
    live = LiveIds([5, 1, 5, 3])
    assert live.array.tolist() == [1, 3, 5]
    assert not live.array.flags.writeable
    assert live.contains_many(np.array([], np.int64)).tolist() == []
