"""The hashes a model id is made of.

A ``model_id`` is ``name`` + short hash of the weights (or user ONNX file) + converter version +
short hash of the preprocessing (and output name). Every stored embedding carries it, so a change
in any of them keeps old and new vectors apart.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

from photofind.core.models.spec import PreprocessSpec


def file_hash(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for the life of the process."""
    st = path.stat()
    return _hash_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _hash_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def spec_hash(spec: PreprocessSpec, output_name: str | None = None) -> str:
    """Short stable hash of the preprocessing (and chosen output): part of every model id."""
    fields = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(spec).items()
    }
    fields = {
        k: [float(x) for x in v] if k in ("mean", "std") else v
        for k, v in fields.items()
    }
    payload = json.dumps({"spec": fields, "output": output_name}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]
