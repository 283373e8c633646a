"""Issue 12: an edited copy of a library photo finds its original first (real model, real photos).

A library of Corel photos large enough for the default ranking's learned space is indexed once by
the real index job; queries are edited copies written outside it, searched as files.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from photofind.config import get_paths
from photofind.core.images.borders import border_box, trim_borders
from photofind.core.library import Library
from photofind.core.search import copies, edited_copies
from photofind.core.search.ranking import RankingSettings

#: Originals queried through their edited copies (several classes of Corel-1k).
ORIGINALS = ("105.jpg", "312.jpg", "517.jpg", "733.jpg", "908.jpg")
OFF = dataclasses.replace(
    RankingSettings(), rotations=False, trim_borders=False, copy_first=False, edit_copies=False, grey_recheck=False,
)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, corel_dir: Path) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("robust")
    folder = root / "photos"
    folder.mkdir()
    names = sorted({f"{i}.jpg" for i in range(0, 1000, 4)} | set(ORIGINALS))  # 250+: a ranking space
    for name in names:
        shutil.copy2(corel_dir / "images" / name, folder / name)
    lib = Library(get_paths(root / "data"))
    lib.add_folder(folder)
    lib.run_index()
    assert lib.searcher().current_space() is not None  # the default ranking's space is in use
    yield lib
    lib.close()


def _edited(library: Library, tmp_path: Path, name: str, edit, tag: str) -> Path:  # type: ignore[no-untyped-def]
    src = next(p for p in _photos(library) if Path(p).name == name)
    with Image.open(src) as im:
        out = edit(ImageOps.exif_transpose(im).convert("RGB"))
    path = tmp_path / f"{tag}-{name}"
    out.save(path, "JPEG", quality=90)  # no EXIF: nothing tells the app the copy was turned
    with Image.open(path) as check:
        assert 0x0112 not in check.getexif()
    return path


def _photos(library: Library) -> list[str]:
    pids, _ = library.repo.embeddings_for(library.model_info.model_id, library.model_info.dim)
    return [r.path for r in library.repo.photos_by_ids(pids.tolist()).values()]


def _letterbox(im: Image.Image) -> Image.Image:
    w, h = im.size
    canvas = Image.new("RGB", (w, round(w * 16 / 9)), (10, 10, 12))
    canvas.paste(im, (0, (canvas.height - h) // 2))
    return canvas


@pytest.mark.parametrize("turn", [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270], ids=["90", "270"])
def test_a_sideways_copy_finds_its_original_first(library: Library, tmp_path: Path, turn: Image.Transpose) -> None:
    searcher = library.searcher()
    for name in ORIGINALS:
        query = _edited(library, tmp_path, name, lambda im: im.transpose(turn), f"turned{turn.value}")
        hits = searcher.search_image(str(query), k=5)
        assert Path(hits[0].path).name == name, (name, [Path(h.path).name for h in hits])
        assert hits[0].score > 0.9  # the model's similarity of the chosen (upright) view


def test_a_letterboxed_copy_finds_its_original_first(library: Library, tmp_path: Path) -> None:
    searcher = library.searcher()
    for name in ORIGINALS:
        query = _edited(library, tmp_path, name, _letterbox, "letterboxed")
        hits = searcher.search_image(str(query), k=5)
        assert Path(hits[0].path).name == name, (name, [Path(h.path).name for h in hits])


def test_an_upright_photo_is_searched_as_it_is(library: Library) -> None:
    """A library photo as the query: the turned views never win, so the results are those of the
    photo itself (the default ranking without the issue-12 query views)."""
    for path in _photos(library)[:10]:
        with_views = library.searcher().search_image(path, k=10)
        plain_query = library.searcher(dataclasses.replace(RankingSettings(), rotations=False, trim_borders=False))
        assert [h.photo_id for h in with_views] == [h.photo_id for h in plain_query.search_image(path, k=10)]
        assert with_views[0].path == path


def test_switched_off_the_search_is_what_it_was(library: Library, tmp_path: Path) -> None:
    """rotations, trim and copy-first off: the query is embedded as before issue 12 (one view,
    decoded as the indexer decodes) and only near-exact copies are pinned."""
    searcher = library.searcher(OFF)
    for name in ORIGINALS[:2]:
        query = _edited(library, tmp_path, name, lambda im: im.transpose(Image.Transpose.ROTATE_90), "off")
        old_way = searcher.search_vector(searcher.embed_query(str(query)), k=10)
        assert searcher.search_image(str(query), k=10) == old_way
        assert np.allclose(searcher.query_vector(str(query)), searcher.embed_query(str(query)), atol=1e-6)


def test_copy_first_lifts_an_edited_copy_that_stands_out() -> None:
    on = RankingSettings()
    # the ranking put a sibling (0.86) first; the original (0.95) stands out by the model's similarity
    sims = np.array([0.86, 0.95, 0.70, 0.84], np.float32)
    assert copies.pinned(sims, on).tolist() == [1]
    # two near-equal candidates: nothing stands out, the ranking's order stays
    assert copies.pinned(np.array([0.90, 0.89, 0.5], np.float32), on).tolist() == []
    # too far from the query to be a copy
    assert copies.pinned(np.array([0.6, 0.3], np.float32), on).tolist() == []
    # exact copies always lead (as before), best first; switched off only they do
    sims = np.array([0.5, 0.985, 0.999, 0.9], np.float32)
    assert copies.pinned(sims, on).tolist() == [2, 1, 3]
    assert copies.pinned(sims, dataclasses.replace(on, copy_first=False)).tolist() == [2, 1]


def test_copy_first_in_a_search(library: Library, tmp_path: Path) -> None:
    """A shrunk, recompressed grey copy: the original comes first with copy-first on."""

    def edit(im: Image.Image) -> Image.Image:
        im = ImageOps.grayscale(im).convert("RGB")
        im.thumbnail((200, 200))
        return im

    searcher = library.searcher()
    for name in ORIGINALS:
        query = _edited(library, tmp_path, name, edit, "grey")
        hits = searcher.search_image(str(query), k=5)
        assert Path(hits[0].path).name == name, (name, [Path(h.path).name for h in hits])


def test_borders_are_trimmed_only_when_they_are_bars(corel_dir: Path) -> None:
    with Image.open(corel_dir / "images" / "105.jpg") as im:
        photo = im.convert("RGB")
    assert border_box(photo) is None and trim_borders(photo) is photo
    boxed = _letterbox(photo)
    left, top, right, bottom = border_box(boxed)  # type: ignore[misc]
    assert (left, right) == (0, photo.width)
    assert abs(top - (boxed.height - photo.height) // 2) <= 2 and abs(bottom - top - photo.height) <= 3
    # a flat edge on one side only (a clear sky) is not a bar
    sky = photo.copy()
    sky.paste((20, 20, 20), (0, 0, photo.width, 60))
    assert border_box(sky) is None
    # coloured bars are not a screenshot's
    blue = Image.new("RGB", (photo.width, photo.height + 200), (30, 60, 200))
    blue.paste(photo, (0, 100))
    assert border_box(blue) is None


# --------------------------------------------------------------------------- edited copies
def _off_centre_crop(im: Image.Image) -> Image.Image:
    w, h = im.size
    cw, ch = round(w * 0.6), round(h * 0.6)
    left, top = min(max(0, round(0.33 * w - cw / 2)), w - cw), min(max(0, round(0.62 * h - ch / 2)), h - ch)
    return im.crop((left, top, left + cw, top + ch))


def test_a_greyscale_copy_finds_its_original_first(library: Library, tmp_path: Path) -> None:
    searcher = library.searcher()
    for name in ORIGINALS:
        query = _edited(library, tmp_path, name, lambda im: ImageOps.grayscale(im), "grey")
        hits = searcher.search_image(str(query), k=5)
        assert Path(hits[0].path).name == name, (name, [Path(h.path).name for h in hits])


def test_an_off_centre_crop_finds_its_original(library: Library, tmp_path: Path) -> None:
    """In the top 5 always; first at least as often as without the edit-tolerant copy test (a
    crop of one photo can look more like a sibling: 517's crop stays second behind 544)."""
    searcher = library.searcher()
    before = library.searcher(dataclasses.replace(RankingSettings(), edit_copies=False))
    firsts = [0, 0]
    for name in ORIGINALS:
        query = _edited(library, tmp_path, name, _off_centre_crop, "crop")
        for j, s in enumerate((searcher, before)):
            names = [Path(h.path).name for h in s.search_image(str(query), k=5)]
            assert name in names, (name, names)
            firsts[j] += names[0] == name
    assert firsts[0] >= max(firsts[1], 4), firsts


def test_a_grey_query_is_compared_with_its_candidates_in_grey(library: Library, tmp_path: Path, corel_dir: Path) -> None:
    with Image.open(corel_dir / "images" / ORIGINALS[0]) as im:
        photo = im.convert("RGB")
    assert not edited_copies.is_grey(photo)
    assert edited_copies.is_grey(ImageOps.grayscale(photo))
    assert edited_copies.is_grey(ImageOps.grayscale(photo).convert("RGB"))
    query = _edited(library, tmp_path, ORIGINALS[0], lambda im: ImageOps.grayscale(im), "grey")
    with Image.open(query) as saved:  # saved as a greyscale JPEG, decoded as the app decodes it
        assert edited_copies.is_grey(saved.convert("RGB"))
    searcher = library.searcher()
    vector = searcher.embed_query(str(query))
    original = next(p for p in _photos(library) if Path(p).name == ORIGINALS[0])
    other = next(p for p in _photos(library) if Path(p).name == ORIGINALS[1])
    colour_sim = float(searcher.search_image(str(query), k=1)[0].score)
    grey_sims = edited_copies.grey_similarities(vector, [original, other, "/nonexistent/x.jpg"], searcher.embedder)
    assert grey_sims[0] is not None and grey_sims[0] > 0.97 and grey_sims[0] > colour_sim
    assert grey_sims[1] is not None and grey_sims[1] < 0.8
    assert grey_sims[2] is None  # a photo that cannot be read keeps its colour similarity


def test_the_edit_tolerant_copy_test() -> None:
    s = RankingSettings()
    pick = edited_copies.pick
    assert pick(np.array([0.72, 0.78, 0.6]), s) == 1  # stands out by >= edit_copy_gap
    assert pick(np.array([0.78, 0.77, 0.6]), s) is None  # two look-alikes: nothing is a copy
    assert pick(np.array([0.66, 0.3]), s) is None  # too far to be a copy
    hits = ["a", "b", "c"]
    score = {"a": 0.70, "b": 0.80, "c": 0.5}.__getitem__
    assert edited_copies.lead(hits, score, s) == ["b", "a", "c"]
    assert edited_copies.lead(hits, score, dataclasses.replace(s, edit_copy_min_sim=0.85)) == hits
    # an exact copy among the hits: the ranking's order (with its copy-first) stays
    assert edited_copies.lead(hits, {"a": 0.99, "b": 0.80, "c": 0.5}.__getitem__, s) == hits
    # a grey query: the grey re-check decides among the most similar candidates
    grey = lambda hs: [0.99 if h == "a" else 0.8 for h in hs]  # noqa: E731
    assert edited_copies.lead(hits, score, s, grey) == ["a", "b", "c"]
    # the pixel check decides among the closest few when one clearly contains the query
    pixels = lambda hs: [0.97 if h == "a" else 0.6 for h in hs]  # noqa: E731
    assert edited_copies.lead(hits, score, s, pixels=pixels) == ["a", "b", "c"]
    two = lambda hs: [0.97 if h == "a" else 0.965 for h in hs]  # noqa: E731  (siblings: no verdict)
    assert edited_copies.lead(hits, score, s, pixels=two) == ["b", "a", "c"]


def test_edited_copy_search_is_off_with_its_switch(library: Library, tmp_path: Path) -> None:
    """``edit_copies`` off: an image query is the ranking's order of its best view, as before."""
    settings = dataclasses.replace(RankingSettings(), edit_copies=False)
    searcher = library.searcher(settings)
    query = _edited(library, tmp_path, ORIGINALS[0], _off_centre_crop, "crop")
    assert searcher.search_image(str(query), k=5) == searcher.search_vector(searcher.query_vector(str(query)), k=5)


def test_turns_that_cannot_win_are_not_embedded(library: Library, tmp_path: Path) -> None:
    """A library photo as the query finds itself (similarity 1): no turned view could beat it by
    the rotation margin, so only the photo as it came is embedded; a sideways copy still gets
    its turns embedded (one view per model run: a batch would grow onnxruntime's arena for the
    life of the process) and finds its original first."""
    from photofind.core.search import query_views

    embedder = library.embedder
    batches: list[int] = []

    class Counting:
        preprocess = embedder.preprocess

        def embed(self, batch: np.ndarray) -> np.ndarray:
            batches.append(len(batch))
            return embedder.embed(batch)

    searcher = library.searcher()
    path = _photos(library)[3]
    vector, view = query_views.best_view(path, Counting(), searcher.settings, searcher._nearest_sim)  # type: ignore[arg-type]
    assert batches == [1] and view.size == Image.open(path).size
    turned = _edited(library, tmp_path, Path(path).name, lambda im: im.transpose(Image.Transpose.ROTATE_90), "turned")
    batches.clear()
    query_views.best_view(turned, Counting(), searcher.settings, searcher._nearest_sim)  # type: ignore[arg-type]
    assert batches == [1, 1, 1, 1]
    assert library.searcher().search_image(turned, k=5)[0].path == path


# --------------------------------------------------------------------------- wider pool, hashes
def test_a_grey_copy_the_model_finds_far_from_its_original_is_found_by_its_perceptual_hash(
    library: Library, tmp_path: Path
) -> None:
    """Corel 900 (a vivid red-and-blue scene) in grey: to the model the grey copy is far from its
    colour original (similarity < 0.45, below siblings the pixel check looks at), but its
    perceptual hash is the original's; the pixels confirm it and it comes first. Without the
    hash candidates it is not even in the top 5."""
    query = _edited(library, tmp_path, "900.jpg", lambda im: ImageOps.grayscale(im), "grey")
    hits = library.searcher().search_image(str(query), k=5)
    assert Path(hits[0].path).name == "900.jpg", [Path(h.path).name for h in hits]
    assert hits[0].score < RankingSettings().pixel_min_sim  # the model alone would not look at it
    no_hash = library.searcher(dataclasses.replace(RankingSettings(), hash_candidates=False))
    assert "900.jpg" not in [Path(h.path).name for h in no_hash.search_image(str(query), k=5)]


def test_a_hash_match_never_escapes_the_filter(library: Library, tmp_path: Path) -> None:
    """A filter that no photo passes: the grey copy's hash match is not returned either."""
    from photofind.store.photo_filter import PhotoFilter

    query = _edited(library, tmp_path, "900.jpg", lambda im: ImageOps.grayscale(im), "grey")
    only_png = PhotoFilter(types=frozenset({"png"}))
    assert library.searcher(RankingSettings(), photo_filter=only_png).search_image(str(query), k=5) == []


def test_perceptual_hash_matches() -> None:
    ids = np.array([10, 11, 12, 13], np.int64)
    base = 0x0F0F_0F0F_0F0F_0F0F
    hashes = np.array([base, base ^ 0b1, base ^ 0xFF, base ^ 0b111], np.int64)
    assert edited_copies.hash_matches(base, ids, hashes, max_bits=3) == [10, 11, 13]  # closest first
    assert edited_copies.hash_matches(base, ids, hashes, max_bits=8, limit=2) == [10, 11]
    assert edited_copies.hash_matches(0, ids, hashes, max_bits=64) == []  # a flat query has no hash


def test_the_pixel_check_looks_at_hash_matches_and_the_rankings_first_few() -> None:
    s = RankingSettings()
    hits = ["a", "b", "c", "d", "e"]
    # model similarities: "e" (a grey copy's original) is far below the others
    score = {"a": 0.6, "b": 0.62, "c": 0.61, "d": 0.6, "e": 0.3}.__getitem__
    seen: list[list[str]] = []

    def pixels(hs: list[str]) -> list[float | None]:
        seen.append(list(hs))
        return [0.99 if h == "e" else 0.5 for h in hs]

    assert edited_copies.lead(hits, score, s, pixels=pixels)[0] != "e"  # not looked at
    assert "e" not in seen[-1]
    assert edited_copies.lead(hits, score, s, pixels=pixels, hashed=[4])[0] == "e"
    assert seen[-1][-1] == "e"
    # the ranking's first pixel_ranked candidates are checked besides the model's closest
    hits2 = ["b", "a", "c", "d", "e"]  # the ranking's order; "a" is the model's 4th
    score2 = {"a": 0.55, "b": 0.62, "c": 0.61, "d": 0.6, "e": 0.3}.__getitem__
    a_first = lambda hs: seen.append(list(hs)) or [0.99 if h == "a" else 0.5 for h in hs]
    assert edited_copies.lead(hits2, score2, s, pixels=a_first)[0] == "a"
    assert edited_copies.lead(hits2, score2, dataclasses.replace(s, pixel_ranked=0), pixels=a_first) == hits2
    assert "a" not in seen[-1]


def test_one_image_in_a_list_is_searched_as_one_image(library: Library, tmp_path: Path) -> None:
    """The command line and the app pass a list of query images: a list of one gets the
    edited-copy search too (the grey copy of 900 finds its original first either way)."""
    query = _edited(library, tmp_path, "900.jpg", lambda im: ImageOps.grayscale(im), "grey")
    searcher = library.searcher()
    assert searcher.search_image([str(query)], k=5) == searcher.search_image(str(query), k=5)
    assert Path(searcher.search_image([str(query)], k=5)[0].path).name == "900.jpg"


def test_a_decoded_photo_is_searched_as_its_file(library: Library, tmp_path: Path) -> None:
    """The app decodes a dropped photo once for its preview and hands the decoded photo to the
    search: same hits as the file's path, alone or in a list, also for a sideways copy.
    ``embed_query`` (regions: cut from the full-resolution file) refuses a decoded photo."""
    from photofind.core.images.decode import decode_image
    from photofind.core.images.region import Region

    searcher = library.searcher()
    turned = _edited(library, tmp_path, ORIGINALS[0], lambda im: im.transpose(Image.Transpose.ROTATE_90), "turned")
    for path in (str(turned), _photos(library)[3]):
        photo = decode_image(path, min_side=library.model_info.preprocess.size)
        expected = [(h.photo_id, round(h.score, 5)) for h in searcher.search_image(path, k=10)]
        for source in (photo, [photo]):
            assert [(h.photo_id, round(h.score, 5)) for h in searcher.search_image(source, k=10)] == expected
    with pytest.raises(TypeError, match="path or its encoded bytes"):
        searcher.embed_query(photo, [Region(0.0, 0.0, 0.5, 0.5, "fraction")])
