"""Shared tools of the reliability tests: run the real CLI, fingerprint photo folders, read the DB.

``snapshot`` records every entry below a folder (content hash, size, mtime, permissions, link
target) without following symlinks or opening anything that is not a regular file (a FIFO
would block), so a test can prove photofind changed nothing in the user's photos.

``without_dac_override`` makes a root test honest about permissions: root ignores file modes,
so ``chmod 000`` or a read-only folder would mean nothing to it. The CLI subprocess drops
``CAP_DAC_OVERRIDE`` and ``CAP_DAC_READ_SEARCH`` from its capability bounding set before
``exec``, so it is still uid 0 (it can run the interpreter that lives under ``/root``) but file
modes apply to it as to any user. For a non-root test run nothing needs dropping.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def _drop_dac_caps() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def without_dac_override() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes file permissions apply to a root child (None if not root)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    return _drop_dac_caps


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "photofind", *args]


def cli_env(data_dir: Path) -> dict[str, str]:
    return dict(os.environ, PHOTOFIND_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO_ROOT))


def photofind(
    data_dir: Path,
    *args: str,
    check: bool = True,
    timeout: float = 300,
    drop_dac: bool = True,
    tracebacks_ok: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``photofind`` CLI on ``data_dir``; never hangs longer than ``timeout``."""
    proc = subprocess.run(
        cli_command(*args),
        env=cli_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO_ROOT,
        preexec_fn=without_dac_override() if drop_dac else None,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"photofind {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    if not tracebacks_ok:
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def as_json(proc: subprocess.CompletedProcess[str]):  # type: ignore[no-untyped-def]
    return json.loads(proc.stdout)


# ---------------------------------------------------------------------- photo folders
Snapshot = dict[bytes, tuple]


def snapshot(root: Path) -> Snapshot:
    """Every entry below ``root`` -> (type, mode, size, mtime_ns, sha256 or link target)."""
    out: Snapshot = {}
    root_b = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(root_b, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                detail: object = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                detail = h.hexdigest()
            else:
                detail = None  # directories, FIFOs: never opened
            out[os.path.relpath(path, root_b)] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                st.st_mtime_ns,
                detail,
            )
    return out


def assert_untouched(before: Snapshot, after: Snapshot, ignore: set[bytes] = frozenset()) -> int:  # type: ignore[assignment]
    """Equal snapshots (except paths the test itself changed); returns the number of entries."""
    b = {k: v for k, v in before.items() if k not in ignore}
    a = {k: v for k, v in after.items() if k not in ignore}
    changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    assert not changed, f"photofind changed the photo folder: {changed[:10]}"
    return len(b)


# ---------------------------------------------------------------------- the library DB
def db_connect(data_dir: Path) -> sqlite3.Connection:
    """A read-only connection to the library DB (never creates it)."""
    return sqlite3.connect(f"file:{data_dir / 'library.sqlite3'}?mode=ro", uri=True, timeout=30)


def db_rows(data_dir: Path) -> dict[str, dict]:
    """path -> {id, status, reason, models: [model ids with a vector]} for every photo row."""
    con = db_connect(data_dir)
    try:
        rows = {
            path: {"id": pid, "status": status, "reason": reason, "models": []}
            for pid, path, status, reason in con.execute("SELECT id, path, status, skip_reason FROM photos")
        }
        by_id = {r["id"]: r for r in rows.values()}
        for pid, model in con.execute("SELECT photo_id, model_id FROM embeddings"):
            by_id[pid]["models"].append(model)
    finally:
        con.close()
    return rows


def db_vector(data_dir: Path, path: str):  # type: ignore[no-untyped-def]
    import numpy as np

    con = db_connect(data_dir)
    try:
        blob = con.execute(
            "SELECT e.vector FROM embeddings e JOIN photos p ON p.id = e.photo_id WHERE p.path = ?", (path,)
        ).fetchone()[0]
    finally:
        con.close()
    from photofind.store.blobs import STORED_DTYPE

    return np.frombuffer(blob, dtype=STORED_DTYPE)
