"""Can copy-first ordering lower scene/object search? Where it fires on the sets' own queries.

    python bench/copy_first.py LIBRARIES_DIR      # the folder given to edits.py --keep-libraries
    python bench/copy_first.py LIBRARIES_DIR --edited   # the image queries' edit-tolerant rule

Copy-first (``core/search/copies.py``) moves one candidate - the most similar by the model, when
it stands out - to the top. Moving a *relevant* photo up never lowers AP, P@k or N-S, so for each
photo of each set (as a query, itself excluded) this counts, per half and per (copy_gap,
copy_min_sim), how often the rule fires on the exact model similarities and how often its pick is
relevant. Reads the libraries only.

``--edited`` checks the image queries' rule instead (``core/search/edited_copies.lead``, per
(edit_copy_gap, edit_copy_min_sim)): each library photo stands for a photo of the same scene or
object from outside the library, and every other photo is its candidate pool (a superset of the
20 the app looks at, so this counts at least as many fires as the app would).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_SETS, load_dataset, model_info, open_library, tuning_ids

from photofind.core.search import copies, edited_copies
from photofind.core.search.ranking import RankingSettings


def set_similarities(root, libraries: Path, info):  # type: ignore[no-untyped-def]
    """A shared set, its photos' stems, their model cosine similarities (self -1) and the
    tuning half's ids, from the set's indexed library in ``libraries``."""
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
    return ds, stems, sims, tuning_ids(ds)


def main(argv: list[str]) -> int:
    libraries = Path(argv[0])
    if "--edited" in argv[1:]:
        return edited(libraries)
    info = model_info()
    for root in DEFAULT_SETS:
        ds, stems, sims, tune = set_similarities(root, libraries, info)
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


def edited(libraries: Path) -> int:
    """Where the image queries' edit-tolerant copy rule fires on the sets' own photos."""
    info = model_info()
    default = RankingSettings()
    for root in DEFAULT_SETS:
        ds, stems, sims, tune = set_similarities(root, libraries, info)
        for gap in (0.02, 0.03, 0.05):
            for low in (0.65, 0.7, 0.75):
                s = dataclasses.replace(default, edit_copy_gap=gap, edit_copy_min_sim=low)
                stats = {"tune": [0, 0], "report": [0, 0]}
                for i, q in enumerate(stems):
                    if sims[i].max() >= copies.DUPLICATE_SIM:
                        continue  # an exact copy leads: the rule stays out
                    j = edited_copies.pick(sims[i], s)  # (its own entry is -1: never picked)
                    if j is not None:
                        half = stats["tune" if q in tune else "report"]
                        half[0] += 1
                        half[1] += stems[j] in ds.relevant[q]
                mark = "  <- default" if (gap, low) == (default.edit_copy_gap, default.edit_copy_min_sim) else ""
                print(f"{ds.name:<12} edit_copy_gap {gap:<4} edit_copy_min_sim {low}: fires / pick relevant: "
                      + ", ".join(f"{h} {a} / {b}" for h, (a, b) in stats.items()) + mark)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
