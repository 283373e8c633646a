"""Library-learned PCA (partial) whitening: fit on the user's own vectors, apply to all of them.

Why: pooled CNN features are strongly anisotropic (a few directions carry most of the variance
and encode "generic photo-ness"); centring on the library's mean and projecting onto its main
axes makes cosine similarity compare what differs between *this* library's photos. It also
reduces the dimension (1280 -> 256), which shrinks the HNSW index 5x.

Full whitening (eigenvalue power -1/2) equalises every direction; on category-level search it
boosts noisy low-variance directions and collapses retrieval (Corel mAP 0.907 -> 0.327, issue
#6). A power-law exponent between 0 (plain PCA) and -1/2 with eigenvalue shrinkage towards their
mean keeps the gain on same-object search without that collapse; ``bench/quality.py`` has the
figures behind the default values.

No labels are used: the transform is learned from the library being searched, so it adapts to
each user's photos. It is stored versioned in SQLite (``to_bytes``/``from_bytes``).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

#: Bumped whenever the fitting procedure changes, so stored transforms are re-learned.
METHOD_VERSION = 1
DEFAULT_DIM = 256
DEFAULT_POWER = -0.25
DEFAULT_SHRINK = 0.0
#: Fewer photos than this and the covariance is too noisy to learn from: no whitening.
MIN_PHOTOS = 200
#: Fitting uses at most this many vectors (a uniform sample): covariance converges long before.
MAX_FIT = 50_000


@dataclass(frozen=True)
class Whitening:
    """``y = normalise(P^T (normalise(x) - mean))``; ``P`` is (dim_in, dim_out)."""

    mean: np.ndarray  # float32 (dim_in,)
    projection: np.ndarray  # float32 (dim_in, dim_out)
    power: float
    shrink: float
    n_fit: int
    method: int = METHOD_VERSION

    @property
    def dim_in(self) -> int:
        return int(self.projection.shape[0])

    @property
    def dim_out(self) -> int:
        return int(self.projection.shape[1])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """float32 (N, dim_out) unit rows from (N, dim_in) or (dim_in,) input (then 1-D out)."""
        x = np.asarray(vectors, dtype=np.float32)
        one = x.ndim == 1
        x = np.atleast_2d(x)
        if x.shape[1] != self.dim_in:
            raise ValueError(f"whitening takes {self.dim_in}-d vectors, got {x.shape[1]}-d")
        y = _unit(_unit(x) - self.mean) @ self.projection if len(x) else x[:, : self.dim_out]
        y = _unit(y)
        return y[0] if one else y

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            mean=self.mean.astype("<f4"),
            projection=self.projection.astype("<f4"),
            params=np.array([self.power, self.shrink, self.n_fit, self.method], dtype="<f8"),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Whitening:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            power, shrink, n_fit, method = z["params"].tolist()
            return cls(
                mean=z["mean"].astype(np.float32),
                projection=z["projection"].astype(np.float32),
                power=float(power),
                shrink=float(shrink),
                n_fit=int(n_fit),
                method=int(method),
            )


def fit_whitening(
    vectors: np.ndarray,
    dim: int = DEFAULT_DIM,
    power: float = DEFAULT_POWER,
    shrink: float = DEFAULT_SHRINK,
    *,
    max_fit: int = MAX_FIT,
    seed: int = 0,
) -> Whitening:
    """Learn the transform from (N, dim_in) vectors (any norm; they are normalised first).

    ``power``: eigenvalue exponent, 0 = plain PCA (rotation + truncation), -0.5 = full whitening.
    ``shrink``: eigenvalues are replaced by ``(1 - shrink) * l + shrink * mean(l)`` before the
    power is applied (0 = none), which tames the smallest directions.
    """
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need at least 2 vectors to fit a whitening, got shape {x.shape}")
    if not -1.0 <= power <= 0.0 or not 0.0 <= shrink <= 1.0:
        raise ValueError(f"power must be in [-1, 0] and shrink in [0, 1], got {power}, {shrink}")
    if len(x) > max_fit:
        rng = np.random.default_rng(seed)
        x = x[np.sort(rng.choice(len(x), max_fit, replace=False))]
    x = _unit(x).astype(np.float64)
    dim = int(min(dim, x.shape[1], len(x) - 1))
    mean = x.mean(axis=0)
    xc = x - mean
    cov = xc.T @ xc / len(xc)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval = np.maximum(eigval[order], 1e-12)
    eigvec = eigvec[:, order]
    # eigh's sign per vector is arbitrary; fix it so refits of the same data agree.
    signs = np.sign(eigvec[np.argmax(np.abs(eigvec), axis=0), np.arange(eigvec.shape[1])])
    eigvec = eigvec * np.where(signs == 0, 1.0, signs)
    shrunk = (1.0 - shrink) * eigval + shrink * eigval.mean()
    projection = eigvec[:, :dim] * (shrunk[:dim] ** power)[None, :]
    logger.info(
        "whitening fitted on %d vectors: %d -> %d, power %.2f, shrink %.2f, %.1f%% variance kept",
        len(x), x.shape[1], dim, power, shrink, 100 * eigval[:dim].sum() / eigval.sum(),
    )
    return Whitening(
        mean=mean.astype(np.float32),
        projection=projection.astype(np.float32),
        power=float(power),
        shrink=float(shrink),
        n_fit=len(x),
    )


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
