"""Is one image a (cropped, recompressed, grey, re-coloured) copy of another? Pixels decide.

``best_correlation(query, photo)`` slides the query's luminance, at a series of scales, over
the photo's and returns the highest normalised cross-correlation (1 = the same pixels up to
brightness and contrast). A crop of a photo scores ~0.95-1 against it at the right scale and
place; another photo of the same scene or object rarely above 0.8 (the two shared sets: tuning
half, ``bench/edits.py``). Turned, mirrored or tilted copies do not correlate: the caller
compares upright views, and the model's similarity handles the rest.

Small and cheap: the photo at ``WIDTH`` px, the query at ``len(SCALES)`` widths, each
correlation an FFT of a ~128 x 96 array; pure numpy and Pillow.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Width of the photo's luminance the query is slid over.
WIDTH = 128
#: Query widths tried, as fractions of the photo's width (a crop keeping 30-100 % of the width).
SCALES = tuple(round(0.30 + 0.05 * i, 2) for i in range(15))
#: Smallest query side (px) worth correlating; flatter queries (a uniform sky) are not matched.
MIN_SIDE = 16
MIN_STD = 4.0


def luminance(img: Image.Image, width: int) -> np.ndarray:
    """``img`` as float luminance, ``width`` px wide (aspect kept)."""
    height = max(1, round(img.height * width / img.width))
    return np.asarray(img.convert("L").resize((width, height), Image.Resampling.BILINEAR), np.float64)


def best_correlation(query: Image.Image, photo: Image.Image) -> float:
    """The highest normalised cross-correlation of ``query`` placed anywhere in ``photo`` at any
    of ``SCALES``; -1 when no scale fits or the query is flat."""
    return QueryPixels(query).best_correlation(photo)


class QueryPixels:
    """A query's zero-mean luminance at every scale, made once and slid over many photos."""

    def __init__(self, query: Image.Image) -> None:
        grey = query.convert("L")
        #: (template, its norm, its nominal height) per scale whose template is not too small or flat
        self.templates: list[tuple[np.ndarray, float, int]] = []
        for scale in SCALES:
            th = round(query.height * scale * WIDTH / query.width)
            tw = round(scale * WIDTH)
            if min(th, tw) < MIN_SIDE:
                continue
            t = luminance(grey, tw)[:th, :tw]
            t0 = t - t.mean()
            norm = float(np.sqrt((t0 * t0).sum()))
            if norm >= MIN_STD * np.sqrt(t0.size):
                self.templates.append((t0, norm, th))
        #: the templates' spectra per photo shape (most photos of a library share a few shapes)
        self._spectra: dict[tuple[int, int], list[np.ndarray]] = {}

    def _spectra_for(self, h: int, w: int) -> list[np.ndarray]:
        spectra = self._spectra.get((h, w))
        if spectra is None:
            spectra = [np.conj(np.fft.rfft2(t0, s=(h, w))) for t0, _norm, _nominal in self.templates]
            self._spectra[(h, w)] = spectra
        return spectra

    def best_correlation(self, photo: Image.Image) -> float:
        """See the module function of that name."""
        c = luminance(photo, WIDTH)
        h, w = c.shape
        spectrum = np.fft.rfft2(c)
        i1 = np.pad(c, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        i2 = np.pad(c * c, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        best = -1.0
        for (t0, norm, nominal), conj in zip(self.templates, self._spectra_for(h, w)):
            if nominal > h or t0.shape[1] > w:
                continue
            th, tw = t0.shape
            corr = np.fft.irfft2(spectrum * conj, s=(h, w))[: h - th + 1, : w - tw + 1]
            n = th * tw
            s1 = _window(i1, th, tw)
            var = _window(i2, th, tw) - s1 * s1 / n
            ncc = corr / (np.sqrt(np.maximum(var, MIN_STD**2 * n)) * norm)
            best = max(best, float(ncc.max()))
        return best


def _window(integral: np.ndarray, th: int, tw: int) -> np.ndarray:
    """Sums of every th x tw window from an integral image (padded with a zero row and column)."""
    return integral[th:, tw:] - integral[:-th, tw:] - integral[th:, :-tw] + integral[:-th, :-tw]
