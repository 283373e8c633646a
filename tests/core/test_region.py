"""Search by a region of the query photo: parsing, cutting it from the upright full-resolution
decode, refusing regions that are not inside the photo, and the Searcher's ``regions=``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.core.images.decode import (
    ImageDecodeError,
    decode_for_model,
    decode_image,
)
from photofind.core.images.region import Region, RegionError, parse_region
from photofind.core.models.spec import PreprocessSpec
from tests import hostile_files as hf
from tests.fake_library import library_with
from tests.fakes import FakeEmbedder

SPEC = PreprocessSpec()


def halves(width: int, height: int, left: tuple[int, int, int], right: tuple[int, int, int]) -> Image.Image:
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, : width // 2] = left
    arr[:, width // 2 :] = right
    return Image.fromarray(arr, "RGB")


def mean_rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), np.float32).reshape(-1, 3).mean(axis=0)


# --- parsing ---------------------------------------------------------------------------------


def test_parse_pixels_and_fractions() -> None:
    assert parse_region("10,20,300,200") == Region(10, 20, 300, 200, "px")
    assert parse_region("0,0,0.5,1") == Region(0, 0, 0.5, 1, "fraction")
    assert parse_region(" 0.25, 0.25 ,0.5,0.5") == Region.fraction(0.25, 0.25, 0.5, 0.5)
    # one value above 1 makes them all pixels
    assert parse_region("0,0,1,2").unit == "px"
    assert Region.fraction(0, 0, 1, 1).is_whole() and not Region.fraction(0, 0, 0.5, 1).is_whole()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1,2,3", "four numbers"),
        ("a,b,c,d", "four numbers"),
        ("", "four numbers"),
        ("0,0,0,0.5", "empty"),
        ("10,10,0,50", "empty"),
        ("-5,0,100,100", "outside"),
        ("0.6,0,0.5,1", "outside"),
        ("nan,0,10,10", "finite"),
        ("0,0,inf,10", "finite"),
    ],
)
def test_bad_region_text_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(RegionError, match=says):
        parse_region(text)


# --- cutting ---------------------------------------------------------------------------------


def test_pixel_region_is_cut_from_the_full_resolution_photo(tmp_path: Path) -> None:
    full = hf.pattern_rgb(1600, 1200)
    path = tmp_path / "big.png"
    full.save(path)
    img = decode_image(path, region=Region(100, 200, 400, 300))
    assert img.size == (400, 300)
    expected = full.crop((100, 200, 500, 500))
    assert np.abs(np.asarray(img, np.int16) - np.asarray(expected, np.int16)).max() == 0


def test_jpeg_region_keeps_detail_despite_draft_mode(tmp_path: Path) -> None:
    """A whole big JPEG decodes reduced (draft); its region comes from enough resolution."""
    path = hf.write_jpeg(tmp_path / "big.jpg", hf.pattern_rgb(3200, 2400))
    assert min(decode_image(path, min_side=224).size) < 2400  # whole photo: reduced
    crop = decode_image(path, min_side=224, region=Region(0, 0, 400, 300))
    assert min(crop.size) >= 224  # the region's own shorter side stays >= min_side
    # the top-left red block of pattern_rgb fills this region
    assert np.allclose(mean_rgb(crop), (250, 20, 20), atol=12)


def test_fraction_region_left_half(tmp_path: Path) -> None:
    path = hf.write_jpeg(tmp_path / "halves.jpg", halves(640, 480, (230, 30, 30), (30, 30, 230)))
    left = decode_image(path, region=parse_region("0,0,0.5,1"))
    right = decode_image(path, region=parse_region("0.5,0,0.5,1"))
    assert left.size == right.size == (320, 480)
    assert mean_rgb(left)[0] > 200 and mean_rgb(left)[2] < 60
    assert mean_rgb(right)[2] > 200 and mean_rgb(right)[0] < 60
    decoded = decode_for_model(path, SPEC, region=parse_region("0,0,0.5,1"))
    assert (decoded.width, decoded.height) == (640, 480)  # the photo's size, not the region's
    assert decoded.tensor.shape == (3, SPEC.size, SPEC.size)


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_region_is_in_upright_coordinates(tmp_path: Path, orientation: int) -> None:
    """A camera held sideways stores the pixels rotated and says so in EXIF: X,Y,W,H and fractions
    refer to the photo as the user sees it."""
    upright = halves(600, 400, (230, 30, 30), (30, 30, 230))  # red left, blue right, landscape
    undo = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}
    stored = upright.transpose(undo[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = hf.write_jpeg(tmp_path / f"o{orientation}.jpg", stored, exif=exif)
    assert decode_image(path).size == (600, 400)
    left = decode_image(path, region=Region(0, 0, 300, 400))
    assert left.size == (300, 400) and mean_rgb(left)[0] > 200 and mean_rgb(left)[2] < 60
    right = decode_image(path, region=Region.fraction(0.5, 0, 0.5, 1))
    assert right.size == (300, 400) and mean_rgb(right)[2] > 200 and mean_rgb(right)[0] < 60
    # the upright photo is 600 wide, 400 high: 500 pixels down is outside even if stored portrait
    with pytest.raises(RegionError, match="600x400"):
        decode_image(path, region=Region(0, 0, 300, 500))


@pytest.mark.parametrize(
    ("region", "says"),
    [
        (Region(600, 0, 100, 100), "outside"),
        (Region(0, 0, 641, 480), "outside"),
        (Region(0, 400, 100, 81), "outside"),
        (Region(10, 10, 4, 100), "too small"),
        (Region.fraction(0, 0, 0.001, 0.5), "too small"),
    ],
)
def test_region_outside_or_degenerate_is_a_region_error_not_a_bad_file(
    tmp_path: Path, region: Region, says: str
) -> None:
    path = hf.write_jpeg(tmp_path / "p.jpg", hf.pattern_rgb(640, 480))
    with pytest.raises(RegionError, match=says) as info:
        decode_for_model(path, SPEC, region=region)
    assert not isinstance(info.value, ImageDecodeError)


def test_region_of_an_unreadable_file_is_still_a_decode_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageDecodeError):
        decode_for_model(bad, SPEC, region=Region(0, 0, 10, 10))


# --- the Searcher ----------------------------------------------------------------------------


def test_search_by_region_finds_what_that_region_shows(tmp_path: Path) -> None:
    """The library holds a red and a blue photo; a query half red, half blue finds each colour by
    its region (FakeEmbedder: colour layout)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, colour in (("red", (220, 40, 40)), ("blue", (40, 40, 220)), ("green", (40, 200, 40))):
        Image.new("RGB", (320, 240), colour).save(photos / f"{name}.png")
    query = hf.write_jpeg(tmp_path / "query.jpg", halves(640, 240, (220, 40, 40), (40, 40, 220)))
    from photofind.config import get_paths

    lib = library_with(get_paths(tmp_path / "data"), FakeEmbedder())
    try:
        lib.add_folder(photos)
        lib.run_index()
        searcher = lib.searcher(None)
        left = searcher.search_image(query, k=3, regions=[Region.fraction(0, 0, 0.5, 1)])
        right = searcher.search_image([query], k=3, regions=[parse_region("320,0,320,240")])
        assert Path(left[0].path).stem == "red" and left[0].score > 0.99
        assert Path(right[0].path).stem == "blue" and right[0].score > 0.99
        # several images, a region each (None = the whole photo)
        both = searcher.search_image([query, photos / "green.png"], k=3, regions=[Region.fraction(0, 0, 0.5, 1), None])
        assert {Path(h.path).stem for h in both[:2]} == {"red", "green"}
        with pytest.raises(ValueError, match="regions"):
            searcher.search_image([query], regions=[None, None])
    finally:
        lib.close()
