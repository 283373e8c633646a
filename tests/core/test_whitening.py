"""Library-learned PCA / whitening on small synthetic data."""

import numpy as np
import pytest

from photofind.core.search.whitening import Whitening, fit_whitening


def _data(n: int = 400, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.geomspace(10.0, 0.1, d)  # strongly anisotropic, like pooled CNN features
    return (rng.normal(size=(n, d)) * scales + 1.0).astype(np.float32)


def test_pca_reduces_dimension_and_gives_unit_rows() -> None:
    x = _data()
    w = fit_whitening(x, dim=8, power=0.0)
    y = w.apply(x)
    assert y.shape == (400, 8) and w.dim_in == 32 and w.dim_out == 8
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0, atol=1e-5)
    assert w.apply(x[0]).shape == (8,)  # a single query vector stays 1-D


def test_full_whitening_equalises_variance_and_power_zero_does_not() -> None:
    x = _data(2000)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    xc = xn - xn.mean(axis=0)
    ratio = {}
    for power in (-0.5, 0.0):
        z = xc @ fit_whitening(x, dim=6, power=power).projection  # before the final normalisation
        ratio[power] = z.var(axis=0).max() / z.var(axis=0).min()
    assert ratio[-0.5] < 1.01
    assert ratio[0.0] > 3


def test_shrinkage_moves_towards_plain_pca() -> None:
    x = _data()
    spread = [np.ptp(np.linalg.norm(fit_whitening(x, 8, -0.5, s).projection, axis=0)) for s in (0.0, 0.5)]
    assert spread[1] < spread[0]


def test_round_trip_bytes_is_exact() -> None:
    x = _data()
    w = fit_whitening(x, dim=8, power=-0.25, shrink=0.1)
    back = Whitening.from_bytes(w.to_bytes())
    assert np.array_equal(back.projection, w.projection) and np.array_equal(back.mean, w.mean)
    assert (back.power, back.shrink, back.n_fit, back.method) == (w.power, w.shrink, w.n_fit, w.method)
    assert np.allclose(back.apply(x), w.apply(x))


def test_fit_is_deterministic_and_checks_inputs() -> None:
    x = _data()
    assert np.array_equal(fit_whitening(x, 8).projection, fit_whitening(x.copy(), 8).projection)
    with pytest.raises(ValueError):
        fit_whitening(x[:1])
    with pytest.raises(ValueError):
        fit_whitening(x, power=0.5)
    with pytest.raises(ValueError):
        fit_whitening(x, 8).apply(np.zeros((2, 5), np.float32))
