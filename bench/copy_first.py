"""Can copy-first ordering lower scene/object search? Where it fires on the sets' own queries.

    python bench/copy_first.py LIBRARIES_DIR      # the folder given to edits.py --keep-libraries

Copy-first (``core/search/copies.py``) moves one candidate - the most similar by the model, when
it stands out - to the top. Moving a *relevant* photo up never lowers AP, P@k or N-S, so for each
photo of each set (as a query, itself excluded) this counts, per half and per (copy_gap,
copy_min_sim), how often the rule fires on the exact model similarities and how often its pick is
relevant. Reads the libraries only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SETS, load_dataset, model_info, open_library, tuning_ids

from photofind.core.search import copies
from photofind.core.search.ranking import RankingSettings


def main(argv: list[str]) -> int:
    libraries = Path(argv[0])
    info = model_info()
    for root in DEFAULT_SETS:
        ds = load_dataset(root)
        lib = open_library(libraries / ds.name, info)
        try:
            pids, vecs = lib.repo.embeddings_for(info.model_id, info.dim)
            rows = lib.repo.photos_by_ids(pids.tolist())
        finally:
            lib.close()
        stems = [Path(rows[p].path).stem for p in pids.tolist()]
        v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        sims = v @ v.T
        np.fill_diagonal(sims, -1.0)
        tune = tuning_ids(ds)
        for gap in (0.02, 0.05, 0.1):
            for low in (0.7, 0.8, 0.9):
                s = RankingSettings(copy_gap=gap, copy_min_sim=low)
                stats = {"tune": [0, 0], "report": [0, 0]}
                for i, q in enumerate(stems):
                    half = stats["tune" if q in tune else "report"]
                    for j in copies.pinned(sims[i], s):
                        if sims[i, j] < copies.DUPLICATE_SIM:
                            half[0] += 1
                            half[1] += stems[j] in ds.relevant[q]
                print(f"{ds.name:<12} copy_gap {gap:<4} copy_min_sim {low}: fires / pick relevant: "
                      + ", ".join(f"{h} {a} / {b}" for h, (a, b) in stats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
