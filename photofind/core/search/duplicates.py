"""Near-duplicate groups from the stored vectors and hashes: nothing is decoded, nothing is written.

Candidates come from the index searches already use (the ranking space's 256-d index, or the
model's own index while the library is too small for one), so memory stays what a search needs
(plus 16 bytes a photo for the perceptual hashes): each photo asks it for its ``NEIGHBOURS``
nearest (a first pass over the model vectors in id order, chunk by chunk, keeping the
candidate pairs: 20 bytes each, ~16 MB at 100k photos). With a ranking space, a second pass
(``duplicate_pairs.check_candidates``) checks them on the model vectors, reading each photo's
vector once, in blocks that follow the pieces the candidates make. A candidate pair counts when

- the cosine similarity of the two photos' *model* vectors (read from SQLite, chunk by chunk)
  reaches the threshold: the same number ``search`` shows, independent of what the library
  learned; or
- it reaches ``HASH_FLOOR`` and the two photos' perceptual hashes (``core/images/phash.py``,
  computed by the index job) differ in at most ``MAX_HAMMING`` of their 64 bits. This is what
  finds a copy resized to half of an already small photo: upsampled to the model's input, its
  vector drifts to cosine 0.80-0.90, while its hash stays within 2 bits. Photos without a hash
  yet (indexed before photofind computed them, until the index job's backfill reaches them)
  use the cosine rule.

A pair the cosine rule alone would join is *vetoed* when both photos have a hash and the two
differ in more than ``VETO_HAMMING`` bits: the model sees the same kind of scene, but what a
viewer sees (the layout of light and dark the hash encodes) is another picture. Pairs the hash
rule joined are <= ``MAX_HAMMING`` bits apart, so the veto never touches them; photos without
a hash are not vetoed.

Pairs are joined into groups with union-find; exact copies (same content fingerprint) are
joined whatever their vectors. Each group suggests a photo to keep (``keeper_key``).

Why these numbers (``bench/duplicates.py``, tables in bench/README.md; chosen on Corel-1k
classes 0-4 only, reported on classes 5-9 and UKBench):

- ``DEFAULT_THRESHOLD`` 0.90 is the lowest cosine at which no group joins two different Corel
  originals on the tuning half; below it look-alikes join (3 groups at 0.88, 26 at 0.80), above
  it recompressed and cropped copies drop out (q35 0.964, crop 0.932 at 0.92). Alone it found
  0.870 of the edited copies there, half-size copies of Corel's 384 x 256 photos only 0.364.
- The hash rule took that to 0.999 (half-size 1.000) and joined nothing. What it rests on,
  measured there: resized, recompressed, brightened and EXIF-stripped copies are <= 4 bits from
  their original (crops are not: median 10, up to 18, so they keep needing the cosine rule),
  while of 3,087 pairs of different originals with cosine >= 0.70, the closest hashes were 8
  bits apart. Hashes differ by even counts (the median split sets 32 of 64 bits), so the
  values tried were 2, 4, 6, 8: 8 joined look-alikes at every floor up to 0.80, 6 none, and
  ``MAX_HAMMING`` 4 keeps one step of margin below it. ``HASH_FLOOR`` 0.70 is inside the floors
  where recall is flat (0.50-0.75); from 0.80 half-size copies drop out (0.960).
- On the held-out halves: Corel 5-9 recall 0.902 -> 0.995, UKBench 0.932 -> 0.969, and the hash
  joined nothing there either: the 13 Corel 5-9 groups that join two originals are the same
  13 the cosine rule makes alone. Looked at, 11 of them are burst shots of one scene taken
  seconds apart, which the finder is meant to group (hashes 6-24 bits apart, as far as crops:
  neither measure tells them from edited copies); 2 are distinct photos (two rose close-ups,
  two framings of one table; 40 and 32 bits apart).
- ``VETO_HAMMING`` 20 splits those 2. It is the widest distance, on the tuning half, between
  two photos of one original the cosine rule joins (2,590 pairs: median 2 bits, p99 18, max 20:
  a crop against another edit of the same photo), so the veto loses no edited-copy pair there
  (the lowest veto keeping tuning recall at 0.999 is 18). Held out: Corel 5-9 recall stays
  0.995 with no group joining distinct photos (8 burst groups stay joined; the 3 bursts whose
  frames are 22-26 bits apart split, as the roses at 40 and the table at 32 do), UKBench
  0.969 -> 0.969 with no group joining two objects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from photofind.core.search.duplicate_pairs import (
    CHUNK,
    Hashes,
    Progress,
    Rule,
    UnionFind,
    check_candidates,
    unit,
)
from photofind.core.search.indexes import SearchIndexes
from photofind.core.search.ranking import RankingSettings
from photofind.store.photo_filter import PhotoFilter
from photofind.store.repository import PhotoRow, Repository

logger = logging.getLogger(__name__)

#: Model cosine similarity from which two photos are near-duplicates (bench/duplicates.py).
DEFAULT_THRESHOLD = 0.90
#: Model cosine similarity from which two photos whose perceptual hashes differ in at most
#: ``MAX_HAMMING`` bits are near-duplicates (see the module docstring).
HASH_FLOOR = 0.70
MAX_HAMMING = 4
#: A pair the cosine rule alone would join is vetoed when both photos have a hash and the two
#: differ in more than this many bits (None: no veto; see the module docstring).
VETO_HAMMING: int | None = 20
#: Neighbours asked of the index per photo (bursts larger than this still join by chaining).
NEIGHBOURS = 8
#: Candidates whose similarity in the ranking space is more than this below the threshold are
#: not checked against the model vectors: on Corel with edited copies, pairs of model similarity
#: >= 0.85 were >= 0.79 in the space, >= 0.80 were >= 0.68 (bench/duplicates.py prints the recall
#: with and without this shortcut).
SPACE_MARGIN = 0.2



@dataclass(frozen=True)
class DuplicatePhoto:
    photo_id: int
    path: str
    width: int | None
    height: int | None
    size: int
    mtime_ns: int
    taken: float | None
    similarity: float  #: model cosine similarity to the group's keeper (1.0 for the keeper)

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True)
class DuplicateGroup:
    """``photos[0]`` is the photo to keep; the others are its duplicates."""

    photos: tuple[DuplicatePhoto, ...]

    @property
    def keep(self) -> DuplicatePhoto:
        return self.photos[0]

    @property
    def others(self) -> tuple[DuplicatePhoto, ...]:
        return self.photos[1:]

    def with_keeper(self, photo_id: int) -> DuplicateGroup:
        """The same group with another photo to keep (similarities stay relative to the
        suggested keeper)."""
        chosen = [p for p in self.photos if p.photo_id == photo_id]
        if not chosen:
            raise KeyError(photo_id)
        return DuplicateGroup((chosen[0], *(p for p in self.photos if p.photo_id != photo_id)))


def keeper_key(photo: PhotoRow | DuplicatePhoto) -> tuple[int, int, float]:
    """Sorts the photo to keep first: highest resolution, then largest file, then oldest
    (date taken, else file time)."""
    pixels = (photo.width or 0) * (photo.height or 0)
    taken = getattr(photo, "taken", None)
    when = float(taken) if taken is not None else photo.mtime_ns / 1e9
    return (-pixels, -int(photo.size), when)


def find_duplicates(
    repo: Repository,
    indexes: SearchIndexes,
    model_id: str,
    dim: int,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    photo_filter: PhotoFilter | None = None,
    settings: RankingSettings | None = None,
    neighbours: int = NEIGHBOURS,
    space_floor: float | None = None,
    hash_floor: float | None = HASH_FLOOR,
    max_hamming: int = MAX_HAMMING,
    veto_hamming: int | None = VETO_HAMMING,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[DuplicateGroup]:
    """Groups of near-duplicate photos among those a search may show that pass
    ``photo_filter``; largest groups first. Returns what was found so far when cancelled.
    ``hash_floor`` None: the cosine rule alone (what photos without a hash get);
    ``veto_hamming`` None: no hash veto (hashes are still read when ``hash_floor`` is set)."""
    started = time.perf_counter()
    settings = settings or RankingSettings()
    space = indexes.space(model_id, dim, settings.space) if settings.needs_space else None
    index = space.index if space is not None else indexes.model_index(model_id, dim)
    allowed = repo.shown_ids(model_id, photo_filter)
    allowed = allowed[np.isin(allowed, index.ids(), assume_unique=True)]
    use_hashes = hash_floor is not None or veto_hamming is not None
    hashes = Hashes(*repo.perceptual_hashes()) if use_hashes else None
    # the model index holds the model's own vectors: its similarity is the one to check
    margin = SPACE_MARGIN if space is not None else 0.0
    floor = threshold - margin if space_floor is None or space is None else space_floor
    low = (hash_floor or 0.0) - margin if space_floor is None or space is None else space_floor
    total = len(allowed) * (2 if space is not None else 1)  # the space: a second pass checks the pairs
    rule = Rule(threshold, hashes, hash_floor, max_hamming, veto_hamming)
    uf = UnionFind()
    found_a: list[np.ndarray] = []
    found_b: list[np.ndarray] = []
    found_rank: list[np.ndarray] = []
    done = 0
    for ids, raw in repo.embedding_chunks(model_id, chunk=CHUNK):  # id order, one read each
        if cancel is not None and cancel.is_set():
            break
        keep = np.isin(ids, allowed, assume_unique=True)
        if not keep.any():
            continue
        ids, raw = ids[keep], unit(raw[keep])
        query = space.project(raw) if space is not None else raw
        n_ids, n_sims = index.search_many(query, neighbours + 1)
        a = np.repeat(ids, n_ids.shape[1])
        b, s = n_ids.reshape(-1), n_sims.reshape(-1)
        rank = np.tile(np.arange(n_ids.shape[1], dtype=np.int8), len(ids))
        m = (a != b) & np.isin(b, allowed, assume_unique=False)
        if hash_floor is not None and hashes is not None:
            m &= (s >= floor) | (hashes.close(a, b, max_hamming) & (s >= low))
        else:
            m &= s >= floor
        a, b, s, rank = a[m], b[m], s[m], rank[m]
        if space is None:
            rule.join(uf, a, b, s)
        else:  # candidates: checked on the model vectors below, each photo's vector read once
            found_a.append(a)
            found_b.append(b)
            found_rank.append(rank)
        done += len(ids)
        if progress is not None:
            progress(done, total)
    if space is not None and found_a:
        a, b, rank = np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_rank)
        check_candidates(
            repo, model_id, a, b, rank, rule, uf, progress=progress, done=done, total=total, cancel=cancel
        )
    allowed_set = set(allowed.tolist())
    for same in repo.same_content_groups():
        members = [i for i in same if i in allowed_set]
        for other in members[1:]:
            uf.union(members[0], other)
    groups = _describe(repo, model_id, uf.groups())
    logger.info(
        "duplicates: %d groups (%d photos) among %d photos (%d with a perceptual hash); %d candidate "
        "pairs checked, %d count (%d of them by their hashes), %d vetoed by their hashes; %.1f s",
        len(groups), sum(len(g.photos) for g in groups), len(allowed), hashes.count if hashes else 0,
        rule.checked, rule.pairs, rule.by_hash, rule.vetoed, time.perf_counter() - started,
    )
    return groups


def _describe(repo: Repository, model_id: str, id_groups: Sequence[Sequence[int]]) -> list[DuplicateGroup]:
    """Rows, keeper first, and each photo's similarity to the keeper (rows and vectors read for
    about ``CHUNK`` photos at a time)."""
    groups = []
    batch: list[Sequence[int]] = []
    for n, ids in enumerate(id_groups):
        batch.append(ids)
        if n + 1 == len(id_groups) or sum(len(g) for g in batch) >= CHUNK:
            groups.extend(_describe_batch(repo, model_id, batch))
            batch = []
    groups.sort(key=lambda g: (-len(g.photos), g.keep.path))
    return groups


def _describe_batch(repo: Repository, model_id: str, id_groups: Sequence[Sequence[int]]) -> list[DuplicateGroup]:
    all_ids = [i for g in id_groups for i in g]
    rows = repo.photos_by_ids(all_ids)
    got_ids, got = repo.embedding_matrix(all_ids, model_id)
    row_of = {int(i): j for j, i in enumerate(got_ids.tolist())}
    vectors = unit(got) if len(got) else got
    groups = []
    for ids in id_groups:
        members = sorted((rows[i] for i in ids if i in rows), key=lambda r: (keeper_key(r), r.path))
        if len(members) < 2:
            continue
        at = np.array([row_of.get(r.id, -1) for r in members])
        sims = np.zeros(len(members))
        if at[0] >= 0:
            has = at >= 0
            sims[has] = np.clip(vectors[at[has]] @ vectors[at[0]], -1.0, 1.0)
        photos = [_photo(r, s) for r, s in zip(members, sims.tolist())]
        photos[0] = replace(photos[0], similarity=1.0)
        first, rest = photos[0], sorted(photos[1:], key=lambda p: (-p.similarity, p.path))
        groups.append(DuplicateGroup((first, *rest)))
    return groups


def _photo(row: PhotoRow, similarity: float) -> DuplicatePhoto:
    return DuplicatePhoto(
        photo_id=row.id, path=row.path, width=row.width, height=row.height, size=row.size,
        mtime_ns=row.mtime_ns, taken=getattr(row, "taken", None), similarity=similarity,
    )


def trash_candidates(groups: Iterable[DuplicateGroup]) -> list[DuplicatePhoto]:
    """Every photo of the groups except each keeper."""
    return [p for g in groups for p in g.others]
