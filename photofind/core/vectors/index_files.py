"""The files of a vector index: the hnswlib graph, and the JSON sidecar that vouches for it.

``VectorIndex`` keeps ``<index>.json`` next to its hnswlib file. The sidecar records the index
settings, the library state the file was built from (``state_token``), which labels are marked
deleted (hnswlib cannot tell), and the size and xxh3_64 of the file bytes. It is written last, so
a crash between the two files leaves a sidecar whose checksum does not match.

``load_verified`` hands the file to hnswlib only once the sidecar vouches for it: a malformed
file can crash hnswlib natively (nmslib/hnswlib #295), so the checks run first and anything
doubtful is reported as a reason to rebuild from the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from photofind.core.vectors.atomic_files import file_hash
from photofind.core.vectors.hnsw_graph import load_graph, saved_labels
from photofind.core.vectors.live_ids import LiveIds

FORMAT_VERSION = 1

log = logging.getLogger(__name__)


def sidecar_path(index_path: Path) -> Path:
    """``<index file>.json``."""
    return index_path.with_name(index_path.name + ".json")


def sidecar_fields(
    *,
    dim: int,
    space: str,
    m: int,
    ef_construction: int,
    count: int,
    live: int,
    deleted: Iterable[int],
    added_since_rebuild: int,
    state_token: str,
) -> dict[str, Any]:
    """What the sidecar says about an index, except the file's ``size`` and ``xxh3_64``, which
    the writer adds once the file's bytes are on disk."""
    return {
        "format": FORMAT_VERSION,
        "dim": dim,
        "space": space,
        "m": m,
        "ef_construction": ef_construction,
        "count": count,
        "live": live,
        "deleted": sorted(deleted),
        "added_since_rebuild": added_since_rebuild,
        "state_token": state_token,
    }


@dataclass(frozen=True)
class Sidecar:
    """A sidecar that vouches for its index file: settings match and the bytes are ours."""

    state_token: str
    #: Elements in the file, live or deleted, as recorded (compared with hnswlib's count).
    count: Any
    deleted: set[int]
    added_since_rebuild: int


@dataclass(frozen=True)
class LoadedIndex:
    """A graph loaded from a file its sidecar vouched for, with the sidecar's bookkeeping."""

    index: hnswlib.Index
    live: LiveIds
    deleted: set[int]
    added_since_rebuild: int
    #: The library state the file was saved at (another one than asked for when stale).
    state_token: str


def load_verified(
    index_path: Path,
    *,
    dim: int,
    space: str,
    m: int,
    ef_search: int,
    num_threads: int,
    state_token: str,
    allow_stale: bool = False,
) -> LoadedIndex | str:
    """The graph in ``index_path`` if its sidecar vouches for it, else why it can't be used."""
    sidecar = verified_sidecar(
        index_path, dim=dim, space=space, m=m, state_token=state_token, allow_stale=allow_stale
    )
    if isinstance(sidecar, str):
        return sidecar
    # Only now, with the bytes proven to be the ones we wrote, is hnswlib allowed to read them.
    count = sidecar.count if isinstance(sidecar.count, int) and sidecar.count > 0 else 0
    index = load_graph(index_path, space, dim, ef_search=ef_search, num_threads=num_threads, capacity=count)
    if isinstance(index, str):
        return index
    labels = _labels(index, index_path)
    deleted = np.fromiter(sidecar.deleted, dtype=np.int64, count=len(sidecar.deleted))
    present = np.isin(deleted, labels)
    if index.get_current_count() != sidecar.count or not present.all():
        return "contents disagree with metadata"
    if len(deleted):
        labels = labels[~np.isin(labels, deleted)]
    return LoadedIndex(
        index=index,
        live=LiveIds.from_sorted_unique(labels),
        deleted=sidecar.deleted,
        added_since_rebuild=sidecar.added_since_rebuild,
        state_token=sidecar.state_token,
    )


def _labels(index: hnswlib.Index, index_path: Path) -> np.ndarray:
    """The graph's labels (live or deleted), sorted int64: read from the file it was just loaded
    from (hashed, so the bytes hnswlib read), else from hnswlib's Python list (~30 MB of int
    objects at 1M photos, on top of the graph: the open app's peak)."""
    count = int(index.get_current_count())
    labels = saved_labels(index_path, count)
    if labels is not None:
        labels.sort()
        distinct = not len(labels) or bool(np.all(labels[1:] != labels[:-1]))
        try:  # hnswlib knows the ends of the range: a sanity check of the file format
            known = not len(labels) or len(index.get_items(labels[[0, -1]])) == 2
        except RuntimeError:
            known = False
        if distinct and known:
            return labels
        log.warning("vector index %s: labels not read from the file; asking hnswlib", index_path.name)
    return np.sort(np.asarray(index.get_ids_list(), dtype=np.int64))


def verified_sidecar(
    index_path: Path,
    *,
    dim: int,
    space: str,
    m: int,
    state_token: str,
    allow_stale: bool = False,
) -> Sidecar | str:
    """The sidecar of ``index_path`` if it vouches for the file, else why the file can't be used.

    With ``allow_stale`` a sidecar saved at another ``state_token`` is accepted too (its
    ``state_token`` then tells the caller where to catch up from).
    """
    if not index_path.is_file():
        return "missing"
    try:
        meta = json.loads(sidecar_path(index_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no metadata"
    except (OSError, ValueError):
        return "unreadable metadata"
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        return "unknown metadata format"
    if meta.get("dim") != dim:
        return f"dimension changed ({meta.get('dim')} -> {dim})"
    if meta.get("space") != space or meta.get("m") != m:
        return "index settings changed"
    stale = meta.get("state_token") != state_token
    if stale and not (allow_stale and isinstance(meta.get("state_token"), str)):
        return "out of step with the library"
    try:
        size = index_path.stat().st_size
        if meta.get("size") != size:
            return "size mismatch"
        if meta.get("xxh3_64") != file_hash(index_path):
            return "checksum mismatch"
    except OSError as exc:
        return f"unreadable file ({exc.__class__.__name__})"
    deleted = meta.get("deleted", [])
    if not isinstance(deleted, list) or not all(isinstance(i, int) for i in deleted):
        return "unreadable metadata"
    added = meta.get("added_since_rebuild", 0)
    return Sidecar(
        state_token=meta["state_token"],
        count=meta.get("count"),
        deleted=set(deleted),
        added_since_rebuild=added if isinstance(added, int) else 0,
    )
