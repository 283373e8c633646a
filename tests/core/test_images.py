"""Decoding real and hostile files, and preprocessing them for a model."""

from __future__ import annotations

import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from photofind.core.images import decode as images
from photofind.core.images.decode import (
    ImageDecodeError,
    decode_for_model,
    decode_image,
    load_for_model,
    preprocess,
)
from photofind.core.models.spec import PreprocessSpec
from tests import hostile_files as hf
from tests.synthetic_photos import write_photo, write_photos

SPEC = PreprocessSpec()  # 224, center_crop, NCHW, RGB
S = SPEC.size


def assert_decodes_or_reason(path: Path | bytes, **kw) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """The contract for any input: the right tensor, or ImageDecodeError with a reason."""
    try:
        tensor = load_for_model(path, SPEC, **kw)
    except ImageDecodeError as exc:
        assert exc.reason and isinstance(exc.reason, str)
        return None
    assert tensor.shape == (3, S, S) and tensor.dtype == np.float32
    assert np.isfinite(tensor).all()
    return tensor


def rgb_at(tensor: np.ndarray, y: int, x: int, spec: PreprocessSpec = SPEC) -> np.ndarray:
    """Undo normalisation at one pixel of an NCHW RGB tensor -> 0..255 values."""
    return tensor[:, y, x] * np.asarray(spec.std) + np.asarray(spec.mean)


def to_pixels(tensor: np.ndarray, spec: PreprocessSpec = SPEC) -> np.ndarray:
    """Undo normalisation of a whole NCHW RGB tensor -> (S, S, 3) in 0..255."""
    return tensor.transpose(1, 2, 0) * np.asarray(spec.std) + np.asarray(spec.mean)


# --- real photos ---------------------------------------------------------------------------


def test_real_photos_decode_with_original_size(corel_dir: Path, ukbench_dir: Path) -> None:
    for folder in (corel_dir / "images", ukbench_dir / "images"):
        paths = sorted(folder.glob("*.jpg"))[:10]
        assert len(paths) == 10, folder
        for path in paths:
            with Image.open(path) as ref:
                size = ref.size
            decoded = decode_for_model(path, SPEC)
            assert decoded.tensor.shape == (3, S, S)
            assert decoded.tensor.dtype == np.float32 and decoded.tensor.flags.c_contiguous
            assert (decoded.width, decoded.height) == size
            # normalised with mean 127, std 128: every value lies in [-1, 1]
            assert decoded.tensor.min() >= -1.0 and decoded.tensor.max() <= 1.0


# --- photo-like images made here --------------------------------------------------------------


def test_center_crop_matches_resize_then_crop(tmp_path: Path) -> None:
    path = write_photo(tmp_path / "landscape.jpg", seed=0)
    img = decode_image(path)
    w, h = img.size
    scale = S / min(w, h)
    big = img.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
    left, top = (big.width - S) // 2, (big.height - S) // 2
    ref = np.asarray(big.crop((left, top, left + S, top + S)), np.float32)
    ours = to_pixels(preprocess(img, SPEC))
    assert np.abs(ours - ref).mean() < 4.0  # sub-pixel offset/rounding differences only


def test_layouts_channel_order_and_squash(tmp_path: Path) -> None:
    img = decode_image(write_photo(tmp_path / "portrait.jpg", seed=3, width=256, height=384))
    mean, std = (120.0, 110.0, 100.0), (60.0, 50.0, 40.0)
    nchw = preprocess(img, PreprocessSpec(mean=mean, std=std))
    nhwc = preprocess(img, PreprocessSpec(mean=mean, std=std, layout="NHWC"))
    assert nhwc.shape == (S, S, 3)
    np.testing.assert_allclose(nhwc.transpose(2, 0, 1), nchw, rtol=0, atol=1e-6)
    # BGR: channel 0 is blue, normalised with the *first* mean/std
    bgr = preprocess(img, PreprocessSpec(mean=mean, std=std, channel_order="BGR"))
    rgb_pixels = nchw * np.asarray(std)[:, None, None] + np.asarray(mean)[:, None, None]
    np.testing.assert_allclose(bgr[0], (rgb_pixels[2] - mean[0]) / std[0], atol=1e-4)
    squash = preprocess(img, PreprocessSpec(size=100, resize="squash"))
    assert squash.shape == (3, 100, 100)


def test_bytes_source_equals_path_source(tmp_path: Path) -> None:
    path = write_photo(tmp_path / "photo.jpg", seed=5)
    np.testing.assert_array_equal(load_for_model(path.read_bytes(), SPEC), load_for_model(path, SPEC))


def test_thread_pool_gives_same_tensors(tmp_path: Path) -> None:
    paths = write_photos(tmp_path, range(16), width=640, height=480)
    serial = [load_for_model(p, SPEC) for p in paths]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda p: load_for_model(p, SPEC), paths))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


# --- draft mode and orientation --------------------------------------------------------------


def test_big_jpeg_decodes_reduced_but_reports_original_size(tmp_path: Path) -> None:
    path = hf.write_jpeg(tmp_path / "big.jpg", hf.pattern_rgb(2000, 1500))
    img = decode_image(path, min_side=224)
    assert img.size == (500, 375)  # 1/4: 1500/8 would be below 224
    assert min(decode_image(path, min_side=400).size) >= 400
    decoded = decode_for_model(path, SPEC)
    assert (decoded.width, decoded.height) == (2000, 1500)
    # the reduced decode gives nearly the same tensor as a full decode
    with Image.open(path) as full:
        ref = preprocess(full.convert("RGB"), SPEC)
    assert np.abs(decoded.tensor - ref).mean() < 0.02


def test_mpo_multi_picture_jpeg_uses_draft(tmp_path: Path) -> None:
    path = tmp_path / "camera.jpg"  # MPO: what some cameras and phones write as .jpg
    first, second = hf.pattern_rgb(2000, 1500), Image.new("RGB", (2000, 1500), (0, 0, 255))
    first.save(path, "MPO", save_all=True, append_images=[second], quality=95)
    with Image.open(path) as im:
        assert im.format == "MPO"
    assert decode_image(path).size == (500, 375)
    assert np.abs(load_for_model(path, SPEC) - preprocess(first, SPEC)).mean() < 0.02


# How each EXIF orientation stores an upright picture (TIFF/EXIF spec, tag 0x0112).
STORED_AS = {
    1: (),
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_90,),  # viewer must turn it 90° clockwise
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_270,),  # viewer must turn it 90° counter-clockwise
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_pixels(tmp_path: Path, orientation: int) -> None:
    upright = hf.pattern_rgb(320, 240)
    stored = upright
    for op in STORED_AS[orientation]:
        stored = stored.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = hf.write_jpeg(tmp_path / f"o{orientation}.jpg", stored, exif=exif)
    ref_path = hf.write_jpeg(tmp_path / "ref.jpg", upright)

    decoded = decode_for_model(path, SPEC)
    assert (decoded.width, decoded.height) == (320, 240)
    diff = np.abs(decoded.tensor - load_for_model(ref_path, SPEC))
    assert diff.mean() < 0.02, diff.mean()  # JPEG noise only; a wrong turn gives > 0.3
    # agrees with Pillow's own exif_transpose
    with Image.open(path) as im:
        pillow = preprocess(ImageOps.exif_transpose(im).convert("RGB"), SPEC)
    assert np.abs(decoded.tensor - pillow).mean() < 0.01


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_keeps_unrotated_image(tmp_path: Path) -> None:
    path = tmp_path / "badexif.jpg"
    hf.pattern_rgb().save(path, "JPEG", exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xffgarbage")
    decoded = decode_for_model(path, SPEC)
    assert (decoded.width, decoded.height) == (320, 240)


# --- colour modes and formats ----------------------------------------------------------------


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (300, 300), (255, 0, 0, 0)).save(path, "JPEG", quality=95)  # pure cyan
    r, g, b = rgb_at(load_for_model(path, SPEC), 100, 100)
    assert r < 40 and g > 200 and b > 200


def test_grayscale_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "gray.jpg"
    Image.new("L", (300, 250), 200).save(path, "JPEG")
    np.testing.assert_allclose(rgb_at(load_for_model(path, SPEC), 50, 50), [200, 200, 200], atol=2)


def test_16bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (256, 1))
    Image.fromarray(ramp).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # really a 16-bit image
    img = decode_image(path)
    assert img.mode == "RGB"
    row = np.asarray(img)[10, :, 0].astype(int)
    assert row[0] <= 1 and row[-1] >= 254 and abs(row[128] - 128) <= 2  # mid-grey stays mid-grey


def test_palette_png_transparency_on_white(tmp_path: Path) -> None:
    path = tmp_path / "pal.png"
    img = Image.new("P", (240, 240), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (0, 0, 120, 240))  # left half red, right half palette 0 = transparent black
    img.save(path, transparency=0)
    t = load_for_model(path, SPEC)
    np.testing.assert_allclose(rgb_at(t, 112, 10), [255, 0, 0], atol=2)
    np.testing.assert_allclose(rgb_at(t, 112, 210), [255, 255, 255], atol=2)


def test_rgba_and_la_transparency_on_white(tmp_path: Path) -> None:
    for mode, fill in (("RGBA", (0, 0, 255, 0)), ("LA", (0, 0))):
        path = tmp_path / f"{mode}.png"
        Image.new(mode, (240, 240), fill).save(path)
        np.testing.assert_allclose(rgb_at(load_for_model(path, SPEC), 5, 5), [255] * 3, atol=1)


def test_animated_gif_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (240, 240), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    np.testing.assert_allclose(rgb_at(load_for_model(path, SPEC), 5, 5), [255, 0, 0], atol=2)


def test_multipage_tiff_first_page(tmp_path: Path) -> None:
    path = tmp_path / "pages.tiff"
    pages = [Image.new("RGB", (240, 240), c) for c in ((0, 255, 0), (255, 0, 0))]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    np.testing.assert_allclose(rgb_at(load_for_model(path, SPEC), 5, 5), [0, 255, 0], atol=1)


@pytest.mark.parametrize("fmt,suffix", [("WEBP", ".webp"), ("PNG", ".png"), ("BMP", ".bmp"),
                                        ("HEIF", ".heic"), ("AVIF", ".avif")])
def test_other_formats(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"img{suffix}"
    images._ensure_heif_opener()
    try:
        hf.pattern_rgb(320, 240).save(path, fmt, **({"quality": 95} if fmt != "BMP" else {}))
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"this Pillow cannot encode {fmt}: {exc}")
    decoded = decode_for_model(path, SPEC)
    assert (decoded.width, decoded.height) == (320, 240)
    ref = preprocess(hf.pattern_rgb(320, 240), SPEC)
    assert np.abs(decoded.tensor - ref).mean() < 0.05


def test_heic_orientation_not_applied_twice(tmp_path: Path) -> None:
    images._ensure_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.heic"
    try:
        hf.pattern_rgb(320, 240).save(path, "HEIF", quality=95, exif=exif)
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"cannot encode HEIF: {exc}")
    with Image.open(path) as im:
        expected = ImageOps.exif_transpose(im).convert("RGB")
    decoded = decode_for_model(path, SPEC)
    assert (decoded.width, decoded.height) == expected.size
    assert np.abs(decoded.tensor - preprocess(expected, SPEC)).mean() < 0.01


def test_extreme_shapes(tmp_path: Path) -> None:
    for w, h in ((100_000, 1), (1, 100_000), (1, 1), (3, 2)):
        path = tmp_path / f"{w}x{h}.png"
        Image.new("RGB", (w, h), (10, 20, 30)).save(path)
        t = assert_decodes_or_reason(path)
        assert t is not None
        np.testing.assert_allclose(rgb_at(t, 0, 0), [10, 20, 30], atol=1)
    path = hf.write_jpeg(tmp_path / "long.jpg", Image.new("RGB", (60_000, 2), (90, 90, 90)))
    assert_decodes_or_reason(path)


# --- hostile inputs ----------------------------------------------------------------------------


def reason_of(source, **kw) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageDecodeError) as info:
        decode_for_model(source, SPEC, **kw)
    assert info.value.reason
    return info.value.reason


def test_empty_and_random_files(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert reason_of(tmp_path / "empty.jpg") == "empty file"
    assert reason_of(b"") == "empty file"
    assert reason_of(hf.random_bytes(tmp_path / "noise.jpg")).startswith("not an image")
    assert reason_of(tmp_path / "missing.jpg") == "file vanished"


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_jpeg(tmp_path: Path, fraction: float) -> None:
    src = hf.write_jpeg(tmp_path / "full.jpg", hf.pattern_rgb(640, 480))
    assert_decodes_or_reason(hf.truncated_copy(src, tmp_path / "cut.jpg", fraction))
    assert_decodes_or_reason(hf.truncated_copy(src, tmp_path / "cut.jpg", fraction).read_bytes())


@pytest.mark.parametrize("chunk", [b"IHDR", b"IDAT"])
def test_png_with_bad_crc(tmp_path: Path, chunk: bytes) -> None:
    # Pillow verifies the CRC of header chunks but not of IDAT: either outcome is fine.
    assert_decodes_or_reason(hf.png_bad_crc(tmp_path / "crc.png", chunk))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs(tmp_path: Path) -> None:
    # 10 GPixel declared in a file of ~100 bytes: refused before any allocation
    huge = hf.png_bomb(tmp_path / "bomb.png", 100_000, 100_000)
    assert huge.stat().st_size < 200
    assert reason_of(huge).startswith("image too large")
    # below Pillow's own limit, above ours: our check refuses it
    medium = hf.png_bomb(tmp_path / "medium.png", 12_000, 12_000)
    reason = reason_of(medium, max_pixels=100_000_000)
    assert reason.startswith("image too large") and "144 MPixel" in reason
    # and a real image over a small limit
    small = hf.write_jpeg(tmp_path / "ok.jpg", hf.pattern_rgb(400, 300))
    assert "limit" in reason_of(small, max_pixels=100_000)


def test_directory_named_like_a_photo(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").mkdir()
    assert reason_of(tmp_path / "x.jpg") == "not a regular file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_named_like_a_photo_returns_at_once(tmp_path: Path) -> None:
    path = hf.fifo(tmp_path / "x.jpg")
    result: list[object] = []

    def run() -> None:
        try:
            decode_for_model(path, SPEC)
        except ImageDecodeError as exc:
            result.append(exc.reason)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=10)
    if t.is_alive():  # unblock the reader so the test process can finish
        with open(os.open(path, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        pytest.fail("decoding a FIFO blocked")
    assert result == ["not a regular file"]


def test_permission_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = hf.write_jpeg(tmp_path / "p.jpg", hf.pattern_rgb())

    def denied(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images.os, "open", denied)
    assert reason_of(path) == "permission denied"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX permissions")
def test_unreadable_file_for_real(tmp_path: Path) -> None:
    """A real chmod-000 file. Root ignores permissions, so then check it in a forked child that
    has dropped to the 'nobody' user (no exec needed, so the venv's location doesn't matter)."""
    tmp_path.chmod(0o755)
    path = hf.write_jpeg(tmp_path / "secret.jpg", hf.pattern_rgb())
    path.chmod(0)
    if not os.access(path, os.R_OK):
        assert reason_of(path) == "permission denied"
        return
    if os.geteuid() != 0:
        pytest.skip("file stays readable after chmod 000 (unusual file system)")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                decode_image(path)
                answer = "decoded"
            except ImageDecodeError as exc:
                answer = exc.reason
        except BaseException as exc:  # noqa: BLE001
            answer = f"child failed: {exc!r}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        answer = f.read().decode()
    os.waitpid(pid, 0)
    if answer.startswith("child failed"):
        pytest.skip(answer)
    assert answer == "permission denied"


def test_errors_never_escape_as_other_types(tmp_path: Path) -> None:
    """A fuzz-lite pass: byte-flipped and spliced JPEG/PNG data only ever raises ImageDecodeError."""
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    hf.pattern_rgb(200, 150).save(buf, "JPEG")
    jpeg = bytearray(buf.getvalue())
    buf = io.BytesIO()
    hf.pattern_rgb(200, 150).save(buf, "PNG")
    png = bytearray(buf.getvalue())
    for base in (jpeg, png):
        for _ in range(40):
            data = bytearray(base)
            for i in rng.integers(0, len(data), 8):
                data[i] = int(rng.integers(0, 256))
            assert_decodes_or_reason(bytes(data))
