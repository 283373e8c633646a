"""Stored vectors: float16 in the database, float32 rows of earlier versions still read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import insert

from photofind.store.blobs import stored_precision
from photofind.store.db import open_database
from photofind.store.repository import Repository
from photofind.store.schema import embeddings

MODEL = "m:1"
DIM = 1280


def _repo_with_photos(tmp_path: Path, n: int) -> tuple[Repository, list[int]]:
    repo = Repository(open_database(tmp_path / "lib.db", tmp_path / "backups"))
    with repo.write() as w:
        folder = w.add_folder(str(tmp_path / "photos"))
        ids = [
            w.upsert_photo(folder_id=folder, path=str(tmp_path / f"photos/{i}.jpg"), size=1,
                           mtime_ns=1, fingerprint=str(i), status="ok")
            for i in range(n)
        ]
    return repo, ids


def test_vectors_are_stored_as_float16_and_read_back_as_float32(tmp_path: Path) -> None:
    repo, ids = _repo_with_photos(tmp_path, 3)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with repo.write() as w:
        for photo_id, v in zip(ids, vectors, strict=True):
            w.put_embedding(photo_id, MODEL, v)
    with repo.engine.connect() as conn:
        sizes = [len(r[0]) for r in conn.execute(embeddings.select().with_only_columns(embeddings.c.vector))]
    assert sizes == [DIM * 2] * 3  # half of float32
    got_ids, got = repo.embeddings_for(MODEL, DIM)
    assert got.dtype == np.float32 and got_ids.tolist() == ids
    np.testing.assert_array_equal(got, stored_precision(vectors))
    assert np.abs(got - vectors).max() < 1e-3
    # cosine similarities move by far less than the gaps that order photos
    assert np.abs(got @ got.T - vectors @ vectors.T).max() < 1e-3
    np.testing.assert_array_equal(repo.embedding(ids[1], MODEL), got[1])
    np.testing.assert_array_equal(repo.embeddings_by_ids([ids[2]], MODEL)[ids[2]], got[2])
    chunks = list(repo.embedding_chunks(MODEL, chunk=2))
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), got)


def test_float32_rows_of_earlier_versions_still_read_next_to_new_ones(tmp_path: Path) -> None:
    repo, ids = _repo_with_photos(tmp_path, 2)
    old = np.linspace(-1, 1, DIM, dtype=np.float32)
    with repo.engine.begin() as conn:  # a row as photofind 0.1 wrote it
        conn.execute(insert(embeddings).values(
            photo_id=ids[0], model_id=MODEL, dim=DIM, vector=old.astype("<f4").tobytes(), generation=1
        ))
    new = np.linspace(1, -1, DIM, dtype=np.float32)
    with repo.write() as w:
        w.put_embedding(ids[1], MODEL, new)
    got_ids, got = repo.embeddings_for(MODEL, DIM)
    assert got_ids.tolist() == ids
    np.testing.assert_array_equal(got[0], old)  # exact: it was float32
    np.testing.assert_array_equal(got[1], stored_precision(new))
    np.testing.assert_array_equal(repo.embedding(ids[0], MODEL), old)
    (_, chunk), = list(repo.embedding_chunks(MODEL))
    np.testing.assert_array_equal(chunk, got)
