"""A library made by an older photofind moves to the current model variant (int8 at 288 px).

Two old libraries: one made the way photofind 0.1 made it (float32 model at 224 px) and one the
way 0.2 made it (float32 at 288 px), so their vectors carry a previous model id. Then the current
photofind takes over through its command line: searches keep using the complete old vectors
while the photos are re-embedded (also after an interrupted run), and once every photo has a new
vector the old vectors and index files are removed and searches use the new ones.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from photofind.config import get_paths
from photofind.core.indexing.indexer import Progress
from photofind.core.library import Library
from photofind.core.models.registry import DEFAULT_MODEL, LITE0_INT8, previous_variants
from tests.e2e.test_cli import as_json, photofind

pytestmark = pytest.mark.slow

N_PHOTOS = 40


@pytest.fixture(params=[224, 288], ids=["float32-224px", "float32-288px"])
def old_library(request: pytest.FixtureRequest, tmp_path: Path, corel_dir: Path) -> tuple[Path, Path, str]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted((corel_dir / "images").glob("*.jpg"))[::25][:N_PHOTOS]:
        shutil.copy2(src, photos / src.name)
    data = tmp_path / "data"
    lib = Library(get_paths(data))
    lib.embedder  # noqa: B018 - makes the int8 model, and the float32 one it is made from
    current = lib.model_info
    old = next(v for v in previous_variants(current) if v.preprocess.size == request.param)
    assert current.name == LITE0_INT8 and current.preprocess.size == 288  # the default on CPU
    assert old.name == DEFAULT_MODEL and old.onnx_path.is_file() and old.model_id != current.model_id
    old_lib = Library(get_paths(data), model_info=old)  # what photofind 0.1 resolved the model to
    report = old_lib.run_index([old_lib.add_folder(photos)])
    assert report.embedded == N_PHOTOS
    old_lib.close()
    lib.close()
    return data, photos, old.model_id


def test_search_keeps_working_through_an_upgrade(old_library: tuple[Path, Path, str]) -> None:
    data, photos, old_id = old_library
    query = sorted(photos.iterdir())[7]
    index_dir = data / "index"
    before = {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in photos.iterdir()}
    assert any(p.name.startswith(old_id.replace(":", "_")) for p in index_dir.iterdir())

    # As after installing a photofind whose model variant is new: its file is not made yet.
    for made in (data / "models").glob(f"{LITE0_INT8}-*.onnx"):
        made.unlink()
    models_before = sorted(p.name for p in (data / "models").iterdir())
    stats = as_json(photofind(data, "stats", "--json"))
    assert stats["upgrade_backlog"] == N_PHOTOS and stats["searching_with"] == old_id
    assert stats["embedded"] == 0  # nothing has a vector of the current model yet
    found = as_json(photofind(data, "search", str(query), "-k", str(N_PHOTOS), "--json"))
    assert found["model"] == old_id
    assert found["hits"][0]["path"] == str(query) and len(found["hits"]) == N_PHOTOS
    # reading the library searched the old vectors and made no model (the index run will)
    assert sorted(p.name for p in (data / "models").iterdir()) == models_before

    # An index run stopped part-way (as by Cancel or Ctrl-C): searches still use the old vectors.
    lib = Library(get_paths(data))
    cancel = threading.Event()

    def stop_after_first_batch(p: Progress) -> None:
        if p.phase == "embedding" and p.done >= 8:
            cancel.set()

    report = lib.run_index(progress=stop_after_first_batch, cancel=cancel, batch_size=8)
    assert report.cancelled and 0 < report.embedded < N_PHOTOS
    state = lib.upgrade_state()
    assert state.in_progress and state.backlog == N_PHOTOS - report.embedded
    hits = lib.searcher().search_image(query, k=N_PHOTOS)
    assert hits[0].path == str(query) and len(hits) == N_PHOTOS
    lib.close()

    done = photofind(data, "index")
    assert f"{N_PHOTOS - report.embedded} photos to re-embed" in done.stdout
    stats = as_json(photofind(data, "stats", "--json"))
    assert stats["upgrade_backlog"] == 0 and stats["searching_with"] == stats["model"] != old_id
    assert stats["model"].startswith(f"{LITE0_INT8}:") and stats["variant"] == "int8"
    assert stats["embedded"] == N_PHOTOS
    found = as_json(photofind(data, "search", str(query), "-k", "5", "--json"))
    assert found["model"] == stats["model"] and found["hits"][0]["path"] == str(query)
    assert found["hits"][0]["score"] > 0.999

    lib = Library(get_paths(data))
    assert lib.repo.embedding_count(old_id) == 0
    assert not any(p.name.startswith(old_id.replace(":", "_")) for p in index_dir.iterdir())
    assert {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in photos.iterdir()} == before
    lib.close()
