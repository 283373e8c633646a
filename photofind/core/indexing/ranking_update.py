"""The index job's step that keeps the saved ranking space in step with the library.

Only the index job calls this (writer lock held): it fits and stores the PCA when there is none
that fits the library, then loads the saved space and catches it up, or rebuilds it when the
library changed too much (or grew past ``REFIT_GROWTH`` times the photos the PCA was fitted on),
saves it, and deletes the files of older PCA versions. Searches only load what it saved.
"""

from __future__ import annotations

import logging
from pathlib import Path

from photofind.core.search.ranking import SpaceSpec
from photofind.core.search.space import (
    TRANSFORM_KIND,
    RankingSpace,
    catch_up_limit,
    fit_transform,
    stored_transform,
)
from photofind.store.repository import Repository

logger = logging.getLogger(__name__)


def update_ranking_space(
    repo: Repository, model_id: str, dim_in: int, raw_index_path: Path, spec: SpaceSpec
) -> str:
    """Bring the saved space of ``spec`` in step with the library; returns what happened."""
    n = repo.embedding_count(model_id)
    if n < max(2, spec.min_photos):
        return f"not yet: {n} photos, a ranking space is learned from {spec.min_photos}"
    space = RankingSpace.load(repo, model_id, dim_in, raw_index_path, spec)
    outcome = "up to date"
    if space is not None:
        before = space.generation
        if not space.catch_up(repo, max_changes=catch_up_limit(len(space.index))):
            space = None
        elif space.generation != before:
            outcome = "caught up"
    if space is None:
        transform = None
        if spec.pca:
            transform = stored_transform(repo, model_id, spec, n)
            if transform is None:
                fitted = fit_transform(repo, model_id, dim_in, spec, n)
                with repo.write() as w:
                    version = w.put_ranking_transform(model_id, TRANSFORM_KIND, fitted.method, n, fitted.to_bytes())
                transform = (fitted, version)
        space = RankingSpace.build(repo, model_id, dim_in, raw_index_path, spec, transform)
        outcome = "built"
        if space is None:  # the library shrank below the size meanwhile
            return "not built: too few photos"
    space.index.save(str(space.generation))
    _remove_other_versions(raw_index_path, space)
    logger.info("ranking space %s: %s (%d vectors)", space.index.path.name, outcome, len(space.index))
    return outcome


def _remove_other_versions(raw_index_path: Path, space: RankingSpace) -> None:
    """Delete the files of spaces of older PCA versions (derived data, never needed again)."""
    if not space.spec.pca:
        return
    keep = space.index.path.name
    for path in raw_index_path.parent.glob(f"{raw_index_path.stem}.pca*.hnsw*"):
        if not path.name.startswith(keep) and f".pca{space.version}-" not in path.name:
            try:
                path.unlink()
            except OSError as exc:
                logger.debug("could not remove old ranking index %s: %s", path, exc)
