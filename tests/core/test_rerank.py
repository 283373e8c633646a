"""Query expansion and kNN-graph diffusion on small synthetic clusters."""

import numpy as np

from photofind.core.search.ranking import augment_all
from photofind.core.search.rerank import diffuse, expand_query


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def test_expand_query_averages_the_top_neighbours_and_skips_the_query_itself() -> None:
    q = _unit(np.array([1.0, 0.0, 0.0]))
    nb = _unit(np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    sims = nb @ q
    out = expand_query(q, nb, sims, k=2, alpha=0.0)
    assert np.allclose(out, _unit(q + nb[1] + nb[2]))
    assert np.allclose(expand_query(q, nb[:1], sims[:1], k=2), q)  # only itself: unchanged


def test_diffusion_follows_the_manifold() -> None:
    # Two chains ("arcs") of points; the query sits at one end of chain A. The far end of A
    # is less similar to the query than chain B's start, but diffusion ranks all of A first.
    t = np.linspace(0, 1.2, 25)
    arc_a = np.stack([np.cos(t), np.sin(t), np.zeros_like(t)], axis=1)
    arc_b = np.stack([np.cos(0.9) * np.ones_like(t), np.zeros_like(t), 0.5 + t]).T
    x = _unit(np.concatenate([arc_a, arc_b]).astype(np.float32))
    q = x[0]
    sims = x @ q
    order = np.argsort(-sims, kind="stable")
    cos_top = set(order[:25].tolist())
    assert cos_top != set(range(25))  # plain cosine mixes the chains
    f = diffuse(sims[order], x[order], k=4, alpha=0.95, kq=3)
    diff_top = set(order[np.argsort(-f, kind="stable")][:25].tolist())
    assert diff_top == set(range(25))  # every point of chain A before any of chain B
    assert f.max() == 1.0


def test_diffusion_handles_tiny_inputs() -> None:
    assert diffuse(np.zeros(0), np.zeros((0, 3), np.float32)).shape == (0,)
    x = _unit(np.array([[1.0, 0.0], [0.9, 0.1]], np.float32))
    assert diffuse(x @ x[0], x).shape == (2,)


def test_database_augmentation_pulls_a_cluster_together() -> None:
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(5, 16)))
    x = _unit(np.repeat(centres, 20, axis=0) + 0.3 * rng.normal(size=(100, 16)))
    y = augment_all(x, k=3, alpha=3.0)
    labels = np.repeat(np.arange(5), 20)

    def spread(v: np.ndarray) -> float:
        return float(np.mean([1 - (v[labels == c] @ centres[c]).mean() for c in range(5)]))

    assert y.shape == x.shape and np.allclose(np.linalg.norm(y, axis=1), 1, atol=1e-5)
    assert spread(y) < spread(x)
