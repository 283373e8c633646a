"""Copies first: which candidates are copies of the query and lead the results.

The re-ranking stages (DBA, query expansion, diffusion) blend each photo with its look-alikes,
which is what lifts scene and object search, but it can put the very photo a copy was made from
below a sibling. The model's own similarity still tells a copy apart, even after an edit
(recompressed, cropped, turned grey): the original is then the one candidate that stands out.

``pinned`` returns the candidates listed first, best first:

* every candidate with model similarity >= ``DUPLICATE_SIM`` (re-saves, resizes, the photo
  itself), as before issue 12; and, with ``RankingSettings.copy_first``,
* the most similar remaining candidate when it is near-identical: similarity >= ``copy_min_sim``
  and ahead of the next one by at least ``copy_gap`` (an edited copy of one library photo).

Parameters were chosen on the tuning half of the shared sets (``bench/edits.py --half tune``).
"""

from __future__ import annotations

import numpy as np

from photofind.core.search.ranking import RankingSettings

#: Model cosine similarity from which a hit counts as a copy of the query and is listed first.
DUPLICATE_SIM = 0.98


def pinned(sims: np.ndarray, settings: RankingSettings) -> np.ndarray:
    """Indices of ``sims`` (model similarities of the candidates) to list first, best first."""
    exact = np.flatnonzero(sims >= DUPLICATE_SIM)
    if settings.copy_first:
        rest = np.setdiff1d(np.arange(len(sims)), exact)
        if len(rest):
            order = rest[np.argsort(-sims[rest], kind="stable")]
            best = float(sims[order[0]])
            runner_up = float(sims[order[1]]) if len(order) > 1 else -1.0
            if best >= settings.copy_min_sim and best - runner_up >= settings.copy_gap:
                exact = np.append(exact, order[0])
    return exact[np.argsort(-sims[exact], kind="stable")]
