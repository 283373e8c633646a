"""Libraries with stand-in parts for tests: the ONE place that builds them.

``FakeLibrary`` is a temp library driven piece by piece (database, vector index,
``FakeEmbedder``), no ``Library``: for tests of the indexer pipeline that want to call
``Indexer`` themselves with their own options and then check the outcome: ``consistent()``
asserts that the ok photos, the stored embeddings and the vector index hold exactly the same ids.

``library_with`` is a real ``Library`` whose embedder a test hands in (a ``GatedEmbedder``
around the real model, say), through the constructor as every part of a ``Library``.
"""

from __future__ import annotations

from pathlib import Path

from photofind.config import Paths
from photofind.core.indexing.indexer import Indexer
from photofind.core.library import Library
from photofind.core.vectors.vector_index import VectorIndex
from photofind.store.db import open_database
from photofind.store.repository import PhotoRow, Repository
from photofind.store.schema import STATUS_OK
from tests.fakes import FakeEmbedder

# Photo ids are looked up by range; every test library stays far below this.
_MAX_PHOTO_ID = 100_000


class FakeLibrary:
    """A library under ``tmp / "data"`` with one folder, ``photos_dir`` (which must exist)."""

    def __init__(self, tmp: Path, photos_dir: Path) -> None:
        self.photos_dir = photos_dir
        self.engine = open_database(tmp / "data" / "lib.db", tmp / "data" / "backups")
        self.repo = Repository(self.engine)
        self.embedder = FakeEmbedder()
        self.index = VectorIndex(tmp / "data" / "fake.hnsw", FakeEmbedder.dim)
        self.index.open(lambda: self.repo.embeddings_for(FakeEmbedder.model_id, FakeEmbedder.dim), "0")
        with self.repo.write() as w:
            w.add_folder(str(self.photos_dir))

    def indexer(self, **options) -> Indexer:  # type: ignore[no-untyped-def]
        return Indexer(self.repo, self.embedder, self.index, **options)

    def rows(self) -> dict[str, PhotoRow]:
        """path -> row of every photo in the library."""
        return {p.path: p for p in self.repo.photos_by_ids(range(1, _MAX_PHOTO_ID)).values()}

    def consistent(self) -> None:
        """Every ok photo has exactly one vector, and the index holds exactly those ids."""
        ok = {p.id for p in self.rows().values() if p.status == STATUS_OK}
        ids = set(self.repo.embedded_ids(FakeEmbedder.model_id).tolist())
        assert ids == ok
        assert set(self.index.ids().tolist()) == ids


def library_with(paths: Paths, embedder: object, **options: object) -> Library:
    """A real ``Library`` on ``paths`` that embeds with ``embedder``. Pass ``model_info`` too when
    ``embedder`` stands for the library's own model (a wrapper around the real one), so the
    library knows the model's variants; without it the embedder's ``model_id``, ``dim`` and
    ``preprocess`` describe the model."""
    return Library(paths, embedder=embedder, **options)  # type: ignore[arg-type]
