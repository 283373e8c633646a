"""Chaos bench: SIGKILL ``photofind index`` at random moments, then prove nothing was lost.

    python bench/chaos.py --kills 20 --photos 300 [--seed 1] [--keep DIR]

Copies N Corel photos into a temp folder and indexes them once without interruption (the
reference). Then, in a second library, it starts the real ``photofind index`` CLI (real model)
again and again and kills it with SIGKILL after a random delay, ``--kills`` times, checking
after each kill that the database still passes ``PRAGMA integrity_check``; a last run is left
to finish. At the end it checks:

- the database: integrity ok, every photo on disk in it exactly once, ``ok``, with exactly one
  embedding of the model; no rows for files that don't exist;
- the HNSW file the index job keeps (the model's own index below ``min_photos`` photos, else the
  ranking space): loaded as saved (in step, not rebuilt), with exactly the DB's ids, as are the
  indexes searches use;
- search: the top-10 paths for 20 query photos equal the reference library's, scores within
  1e-5;
- the photos: content hash, size, mtime and mode of every file unchanged.

Prints kills survived, photos lost and files modified (both must be 0); exit status 1 if any
check fails. ``tests/reliability/test_kill.py`` runs a short version of this in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = (REPO / ".." / "shared" / "data").resolve()


@dataclass
class ChaosResult:
    photos: int = 0
    kills_requested: int = 0
    kills_landed: int = 0  # the process was still running when killed
    kills_survived: int = 0  # ... and the database passed integrity_check afterwards
    runs_finished_early: int = 0
    photos_lost: int = 0
    duplicate_rows: int = 0
    bad_embedding_counts: int = 0
    index_outcome: str = ""
    index_agrees: bool = False
    queries: int = 0
    query_mismatches: int = 0
    max_score_diff: float = 0.0
    files_modified: int = 0
    leftover_temp_files: int = 0
    final_run_seconds: float = 0.0
    clean_run_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def snapshot(root: Path) -> dict[str, tuple]:
    """path -> (mode, size, mtime_ns, sha256) of every regular file below ``root``."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            digest = hashlib.sha256(Path(p).read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def _cli(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "photofind", "--data-dir", str(data), *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def _integrity(db: Path) -> str:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "; ".join(r[0] for r in con.execute("PRAGMA integrity_check"))
    finally:
        con.close()


def _index(data: Path, photos: Path, timeout: float = 900) -> float:
    started = time.monotonic()
    proc = subprocess.run(
        _cli(data, "index", str(photos), "--json"),
        env=_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"photofind index exited {proc.returncode}: {proc.stderr}")
    report = json.loads(proc.stdout)
    if report["cancelled"] or report["skipped"]:
        raise RuntimeError(f"unexpected index report: {report}")
    return time.monotonic() - started


def run_chaos(
    workdir: Path,
    *,
    photos: int = 300,
    kills: int = 20,
    seed: int = 1,
    source: Path = DATA / "corel1k" / "images",
    queries: int = 20,
    log=print,  # type: ignore[no-untyped-def]
) -> ChaosResult:
    rng = random.Random(seed)
    res = ChaosResult(photos=photos, kills_requested=kills)
    folder = workdir / "photos"
    folder.mkdir(parents=True)
    names = sorted(source.glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    for src in rng.sample(names, photos):
        shutil.copy2(src, folder / src.name)
    before = snapshot(folder)

    clean, chaos = workdir / "clean", workdir / "chaos"
    res.clean_run_seconds = _index(clean, folder)
    log(f"reference library: {photos} photos in {res.clean_run_seconds:.1f} s")
    # Kill anywhere from interpreter start-up to the final save: a quarter of the kills during
    # start-up (imports, migration, scan, index load), the rest while embedding, each run
    # getting about 1/kills of the work on average, so the kills keep landing on a busy indexer.
    startup = _index(clean, folder)  # a run with nothing to do: start-up, scan, exit
    work = max(res.clean_run_seconds - startup, 1.0)
    log(f"idle run {startup:.1f} s, so about {work:.1f} s of embedding per full run")

    # The converted model is derived data; without it every run of a fresh library spends its
    # first seconds converting, and the kills would all land there (survived as well, but the
    # point is to kill a busy indexer).
    shutil.copytree(clean / "models", chaos / "models")

    k = attempts = 0
    while res.kills_landed < kills and attempts < 3 * kills:
        attempts += 1
        if rng.random() < 0.25:
            delay = rng.uniform(0.05, startup)
        else:
            delay = rng.uniform(startup, startup + 2 * work / kills)
        proc = subprocess.Popen(
            _cli(chaos, "index", str(folder), "--json"),
            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            proc.wait(timeout=delay)
            res.runs_finished_early += 1
            if proc.returncode != 0:
                res.problems.append(f"run {k + 1} exited {proc.returncode}: {proc.stderr.read()[-500:]!r}")
            state = "finished before the kill"
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            res.kills_landed += 1
            state = "killed"
        finally:
            proc.stderr.close()  # type: ignore[union-attr]
        db = chaos / "library.sqlite3"
        integrity = _integrity(db) if db.exists() else "ok"  # killed before it was created
        if integrity == "ok":
            res.kills_survived += state == "killed"
        else:
            res.problems.append(f"integrity after kill {k}: {integrity}")
        k += 1
        log(f"run {k:2d} ({res.kills_landed}/{kills} kills): {state} after {delay:.2f} s; integrity {integrity}; "
            f"{count_embeddings(db)} photos embedded so far")

    res.final_run_seconds = _index(chaos, folder)
    log(f"final run finished in {res.final_run_seconds:.1f} s")
    _verify(res, clean, chaos, folder, rng, queries)
    res.files_modified = _diff(before, snapshot(folder))
    if res.files_modified:
        res.problems.append(f"{res.files_modified} photo files modified")
    return res


def count_embeddings(db: Path) -> int:
    """Embeddings in the library DB ``db``, read-only while another process may be writing it
    (0 while the DB or its tables don't exist yet). ``tests/reliability`` uses it too."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return int(con.execute("SELECT count(*) FROM embeddings").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _diff(before: dict[str, tuple], after: dict[str, tuple]) -> int:
    return sum(before.get(p) != after.get(p) for p in set(before) | set(after))


def _verify(res: ChaosResult, clean: Path, chaos: Path, folder: Path, rng: random.Random, n_queries: int) -> None:
    import numpy as np

    from photofind.config import get_paths
    from photofind.core.library import Library

    integrity = _integrity(chaos / "library.sqlite3")
    if integrity != "ok":
        res.problems.append(f"final integrity: {integrity}")
    lib = Library(get_paths(chaos), device="cpu")
    ref = Library(get_paths(clean), device="cpu")
    try:
        info = lib.model_info
        con = sqlite3.connect(f"file:{chaos / 'library.sqlite3'}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT id, path, status FROM photos").fetchall()
            per_photo = dict(con.execute(
                "SELECT photo_id, count(*) FROM embeddings WHERE model_id = ? GROUP BY photo_id", (info.model_id,)
            ).fetchall())
            other = con.execute("SELECT count(*) FROM embeddings WHERE model_id != ?", (info.model_id,)).fetchone()[0]
        finally:
            con.close()
        on_disk = {str(p) for p in folder.iterdir()}
        by_path: dict[str, list[tuple[int, str]]] = {}
        for pid, path, status in rows:
            by_path.setdefault(path, []).append((pid, status))
        res.duplicate_rows = sum(len(v) - 1 for v in by_path.values())
        res.photos_lost = sum(
            1 for p in on_disk if p not in by_path or by_path[p][0][1] != "ok" or per_photo.get(by_path[p][0][0]) != 1
        )
        extra = set(by_path) - on_disk
        res.bad_embedding_counts = sum(1 for pid, _p, _s in rows if per_photo.get(pid, 0) != 1) + int(other)
        for name, value in (("photos lost", res.photos_lost), ("duplicate rows", res.duplicate_rows),
                            ("rows without exactly one embedding", res.bad_embedding_counts),
                            ("rows for files that don't exist", len(extra))):
            if value:
                res.problems.append(f"{name}: {value}")

        # The index file the index job keeps for a library of this size (the model's own index
        # while it is too small for a ranking space, else the ranking space) must load as saved,
        # in step with the DB and with exactly its ids; and what searches use must agree too.
        db_ids = set(per_photo)
        res.index_outcome, saved_ids = _saved_index(lib)
        searched = lib.searcher().current_space()
        searched_ids = set((searched.index if searched is not None else lib.model_index()).ids().tolist())
        res.index_agrees = saved_ids == db_ids and searched_ids == db_ids
        if res.index_outcome != "loaded":
            res.problems.append(f"saved index was not usable as is: {res.index_outcome}")
        if not res.index_agrees:
            res.problems.append("HNSW ids differ from the DB's")

        queries = rng.sample(sorted(on_disk), min(n_queries, len(on_disk)))
        searcher, ref_searcher = lib.searcher(), ref.searcher()
        for q in queries:
            got = searcher.search_image([q], k=10)
            want = ref_searcher.search_image([q], k=10)
            res.queries += 1
            if [h.path for h in got] != [h.path for h in want]:
                res.query_mismatches += 1
            else:
                diff = float(np.max(np.abs(np.array([h.score for h in got]) - [h.score for h in want])))
                res.max_score_diff = max(res.max_score_diff, diff)
        if res.query_mismatches:
            res.problems.append(f"{res.query_mismatches} of {res.queries} queries differ from the reference")
        if res.max_score_diff > 1e-5:
            res.problems.append(f"scores differ by up to {res.max_score_diff:.2e}")
        res.leftover_temp_files = sum(1 for p in (chaos / "index").iterdir() if p.name.endswith(".tmp"))
    finally:
        lib.close()
        ref.close()


def _saved_index(lib) -> tuple[str, set[int]]:  # type: ignore[no-untyped-def]
    """("loaded", its ids) when the index file the index job keeps loads as saved and in step
    with the library, else (why not, the ids it has). Reads only, as a search does."""
    from photofind.core.search.ranking import DEFAULT_SPACE
    from photofind.core.search.space import RankingSpace
    from photofind.core.vectors.vector_index import VectorIndex

    info = lib.model_info
    generation = lib.repo.generation()
    if lib.repo.embedding_count(info.model_id) < DEFAULT_SPACE.min_photos:
        index = VectorIndex(lib.index_path(info.model_id), info.dim)
        token = index.load()
        what = f"model index {index.path.name}"
        saved_at = None if token is None else int(token) if token.isdigit() else -1
    else:
        space = RankingSpace.load(lib.repo, info.model_id, info.dim, lib.index_path(info.model_id), DEFAULT_SPACE)
        if space is None:
            return "no usable ranking space saved", set()
        index, saved_at, what = space.index, space.generation, f"ranking space {space.index.path.name}"
    if saved_at is None:
        return f"{what}: missing or damaged", set()
    ids = set(index.ids().tolist())
    if saved_at != generation:
        return f"{what}: saved at generation {saved_at}, the library is at {generation}", ids
    return "loaded", ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        workdir, cleanup = args.keep, False
    else:
        workdir, cleanup = Path(tempfile.mkdtemp(prefix="photofind-chaos-")), True
    try:
        started = time.monotonic()
        res = run_chaos(workdir, photos=args.photos, kills=args.kills, seed=args.seed)
        print()
        print(f"photos:               {res.photos}")
        print(f"kills landed:         {res.kills_landed} of {res.kills_requested} "
              f"({res.runs_finished_early} more runs finished before their kill)")
        print(f"kills survived:       {res.kills_survived}")
        print(f"photos lost:          {res.photos_lost}")
        print(f"duplicate rows:       {res.duplicate_rows}")
        print(f"bad embedding counts: {res.bad_embedding_counts}")
        print(f"index:                {res.index_outcome}; agrees with DB: {res.index_agrees}")
        print(f"search vs reference:  {res.queries - res.query_mismatches}/{res.queries} identical top-10, "
              f"max score diff {res.max_score_diff:.1e}")
        print(f"files modified:       {res.files_modified}")
        print(f"leftover temp files:  {res.leftover_temp_files}")
        print(f"wall time:            {time.monotonic() - started:.0f} s")
        for problem in res.problems:
            print(f"PROBLEM: {problem}")
        return 0 if res.ok else 1
    finally:
        if cleanup:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
