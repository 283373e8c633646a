"""Pixel check of edited copies (issue 12): real Corel photos, no model."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from photofind.core.images.pixel_match import best_correlation


def _photo(corel_dir: Path, name: str) -> Image.Image:
    with Image.open(corel_dir / "images" / name) as im:
        return im.convert("RGB")


def test_a_crop_or_a_grey_copy_correlates_with_its_original_only(corel_dir: Path) -> None:
    original = _photo(corel_dir, "312.jpg")
    w, h = original.size
    crop = original.crop((round(0.03 * w), round(0.32 * h), round(0.63 * w), round(0.92 * h)))  # 60 %, off-centre
    small = crop.resize((crop.width // 2, crop.height // 2))
    copies = [crop, small, ImageOps.grayscale(original), ImageEnhance.Brightness(original).enhance(1.3), original]
    # other photos of the same class (Corel 300-399) and of others
    others = [_photo(corel_dir, n) for n in ("300.jpg", "313.jpg", "345.jpg", "105.jpg", "733.jpg")]
    for copy in copies:
        assert best_correlation(copy, original) > 0.95
        assert max(best_correlation(copy, other) for other in others) < 0.85


def test_a_turned_or_flat_query_does_not_correlate(corel_dir: Path) -> None:
    original = _photo(corel_dir, "517.jpg")
    assert best_correlation(original.transpose(Image.Transpose.ROTATE_90), original) < 0.85
    assert best_correlation(Image.new("RGB", (200, 150), (90, 120, 200)), original) == -1.0  # flat: no verdict
    assert best_correlation(original.resize((96, 64)), original) > 0.95  # a thumbnail still matches
