"""Moving a library to a new variant of its model, with no gap in search.

When photofind changes how its model sees photos (0.2 feeds the default model 288 px instead of
224 px; ``models/builtin_models.py``), every photo needs a new vector, and the model id changes with
it. The index run re-embeds photos like any photo without a vector of the current model (the
GUI's start-up run or ``photofind index``, in the background, resumable after a cancel or a
kill). Until every photo it can reach has a new vector, searches keep using the previous
variant, whose vectors and index are complete; afterwards the previous variant's vectors,
ranking transforms and index files are deleted. Those are derived data: photos are never
touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from photofind.core.models.registry import previous_variants
from photofind.core.models.spec import ModelInfo
from photofind.store.repository import Repository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpgradeState:
    """Where a library stands in moving to the current variant of its model."""

    #: The variant searches use until the upgrade is done; None when there is nothing to wait for.
    previous: ModelInfo | None = None
    #: Photos (online, readable) that still need a vector of the current variant.
    backlog: int = 0

    @property
    def in_progress(self) -> bool:
        return self.previous is not None


def upgrade_state(repo: Repository, current: ModelInfo) -> UpgradeState:
    """The newest previous variant with vectors still missing from ``current``, if any."""
    for old in previous_variants(current):
        if repo.embedding_count(old.model_id) == 0:
            continue
        backlog = repo.upgrade_backlog(old.model_id, current.model_id)
        if backlog:
            return UpgradeState(old, backlog)
    return UpgradeState()


def retire_previous(
    repo: Repository, current: ModelInfo, index_path_of: Callable[[str], Path]
) -> list[str]:
    """Delete the vectors and index files of previous variants that ``current`` now covers.

    A variant is covered when every photo that has one of its vectors and could be re-embedded
    (readable, in an online folder) has a vector of ``current``; photos of offline folders get
    theirs when their drive is back. Returns the retired model ids. Caller holds the writer lock.
    """
    retired = []
    for old in previous_variants(current):
        if repo.embedding_count(old.model_id) == 0:
            continue
        if repo.upgrade_backlog(old.model_id, current.model_id):
            continue
        with repo.write() as w:
            n = w.delete_model(old.model_id)
        _remove_index_files(index_path_of(old.model_id))
        logger.info("upgrade to %s done: %d vectors of %s removed", current.model_id, n, old.model_id)
        retired.append(old.model_id)
    return retired


def _remove_index_files(raw_index: Path) -> None:
    """The raw HNSW file of a model id and every file derived from it (sidecars, ranking)."""
    for path in [raw_index, *raw_index.parent.glob(f"{raw_index.name}.*"),
                 *raw_index.parent.glob(f"{raw_index.stem}.*.hnsw*")]:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not remove old index file %s: %s", path, exc)
