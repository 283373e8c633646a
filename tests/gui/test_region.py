"""Search by a region from the window: drag a rectangle on the query's picture, move and resize
it, Esc or "Whole photo" resets it; for a dropped file, a paste, Find similar and several images.
The query's picture comes from photofind's own decoder (HEIC, CMYK, 16-bit PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication

from photofind.core.images.region import Region
from photofind.gui.results.queries import compose_preview, read_scaled
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done


def side_by_side(left: Path, right: Path, out: Path) -> Path:
    canvas = Image.new("RGB", (768, 256))
    for x, path in ((0, left), (384, right)):
        with Image.open(path) as im:
            canvas.paste(im.convert("RGB").resize((384, 256)), (x, 0))
    canvas.save(out, quality=92)
    return out


def top_classes(window, labels, n: int = 5) -> list[str]:  # type: ignore[no-untyped-def]
    return [labels[Path(i.path).name] for i in window.results.model.items()[:n]]


def drag(qtbot, widget, start: QPointF, end: QPointF) -> None:  # type: ignore[no-untyped-def]
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start.toPoint())
    for t in (0.3, 0.6, 1.0):
        qtbot.mouseMove(widget, (start + (end - start) * t).toPoint())
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end.toPoint())


def wait_results(qtbot, window, labels, cls: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: search_done(window) and top_classes(window, labels).count(cls) >= 4, timeout=TIMEOUT_MS
    )


def test_drag_a_region_on_a_dropped_photo_then_move_resize_and_reset(
    make_window, qtbot, photo_dir: Path, labels, tmp_path: Path
) -> None:
    window = make_window()
    panel, selector = window.query_panel, window.query_panel.image
    query = side_by_side(photo_dir / "305.jpg", photo_dir / "405.jpg", tmp_path / "bus-and-dinosaur.jpg")
    assert drop(panel, file_mime(query))
    qtbot.waitUntil(lambda: search_done(window) and not selector.pixmap().isNull(), timeout=TIMEOUT_MS)
    assert not panel.whole_button.isVisible()

    # drag over the right half (the dinosaur), in the widget's own coordinates
    tile = selector._to_widget(selector._tiles[0])
    drag(qtbot, selector, QPointF(tile.center().x() + 6, tile.top() + 3), QPointF(tile.right() - 3, tile.bottom() - 3))
    (region,) = selector.regions()
    assert region is not None and region.x == pytest.approx(0.5, abs=0.05) and region.w == pytest.approx(0.5, abs=0.05)
    assert panel.whole_button.isVisible()
    wait_results(qtbot, window, labels, labels["405.jpg"])
    assert window.results.query.regions == [region]

    # move it left by dragging its inside: now it covers the bus
    r = selector._to_widget(selector._regions[0])
    drag(qtbot, selector, r.center(), QPointF(r.center().x() - tile.width() / 2, r.center().y()))
    (moved,) = selector.regions()
    assert moved.x == pytest.approx(0.0, abs=0.03) and moved.w == pytest.approx(region.w, abs=0.01)
    wait_results(qtbot, window, labels, labels["305.jpg"])

    # shrink it with the right-edge handle
    r = selector._to_widget(selector._regions[0])
    drag(qtbot, selector, QPointF(r.right(), r.center().y()), QPointF(r.right() - r.width() / 4, r.center().y()))
    (shrunk,) = selector.regions()
    assert shrunk.w == pytest.approx(moved.w * 0.75, abs=0.03) and shrunk.x == pytest.approx(moved.x, abs=0.01)

    # Esc: the whole photo again
    selector.setFocus()
    qtbot.keyClick(selector, Qt.Key.Key_Escape)
    assert selector.regions() == [None] and not panel.whole_button.isVisible()
    qtbot.waitUntil(lambda: window.results.query.regions is None and search_done(window), timeout=TIMEOUT_MS)

    # a click is not a region
    drag(qtbot, selector, tile.center(), tile.center() + QPointF(1, 1))
    assert selector.regions() == [None]
    # "Whole photo" resets too
    selector.set_regions([Region.fraction(0.5, 0, 0.5, 1)])
    wait_results(qtbot, window, labels, labels["405.jpg"])
    qtbot.mouseClick(panel.whole_button, Qt.MouseButton.LeftButton)
    assert selector.regions() == [None]
    qtbot.waitUntil(lambda: window.results.query.regions is None, timeout=TIMEOUT_MS)


def test_region_of_a_pasted_image(make_window, qtbot, photo_dir: Path, labels, tmp_path: Path) -> None:
    window = make_window()
    query = side_by_side(photo_dir / "705.jpg", photo_dir / "5.jpg", tmp_path / "pair.jpg")
    mime = QMimeData()
    mime.setData("image/jpeg", query.read_bytes())
    QGuiApplication.clipboard().setMimeData(mime)
    window.menu_actions["Paste image"].trigger()
    selector = window.query_panel.image
    qtbot.waitUntil(lambda: search_done(window) and not selector.pixmap().isNull(), timeout=TIMEOUT_MS)
    selector.set_regions([Region.fraction(0, 0, 0.5, 1)])
    wait_results(qtbot, window, labels, labels["705.jpg"])


def test_region_of_find_similar_cuts_the_library_photo(
    make_window, qtbot, photo_dir: Path, labels, tmp_path: Path
) -> None:
    window = make_window()
    model = window.results.model
    qtbot.waitUntil(lambda: model.rowCount() == 100, timeout=TIMEOUT_MS)
    row = next(r for r in range(model.rowCount()) if Path(model.item(r).path).name == "405.jpg")
    window.results.find_similar(model.item(row).photo_id, model.item(row).path)
    selector = window.query_panel.image
    qtbot.waitUntil(lambda: search_done(window) and not selector.pixmap().isNull(), timeout=TIMEOUT_MS)
    assert Path(model.item(0).path).name != "405.jpg"  # from the stored vector: itself left out
    selector.set_regions([Region.fraction(0.25, 0.25, 0.5, 0.5)])
    qtbot.waitUntil(
        lambda: search_done(window) and Path(model.item(0).path).name == "405.jpg", timeout=TIMEOUT_MS
    )  # the region is decoded from the photo, which now finds itself among the dinosaurs
    assert top_classes(window, labels).count(labels["405.jpg"]) >= 4


def test_several_images_have_a_region_each(make_window, qtbot, photo_dir: Path, labels, tmp_path: Path) -> None:
    window = make_window()
    pair = side_by_side(photo_dir / "305.jpg", photo_dir / "405.jpg", tmp_path / "pair.jpg")
    other = side_by_side(photo_dir / "705.jpg", photo_dir / "408.jpg", tmp_path / "other.jpg")
    assert drop(window.query_panel, file_mime(pair, other))
    selector = window.query_panel.image
    qtbot.waitUntil(lambda: search_done(window) and not selector.pixmap().isNull(), timeout=TIMEOUT_MS)
    assert len(selector._tiles) == 2
    # drag inside the second image's tile only: the first stays whole
    tile = selector._to_widget(selector._tiles[1])
    drag(qtbot, selector, QPointF(tile.center().x() + 2, tile.top() + 2), QPointF(tile.right() - 2, tile.bottom() - 2))
    first, second = selector.regions()
    assert first is None and second is not None and second.x == pytest.approx(0.5, abs=0.06)
    selector.set_regions([Region.fraction(0.5, 0, 0.5, 1), Region.fraction(0.5, 0, 0.5, 1)])
    wait_results(qtbot, window, labels, labels["405.jpg"])  # both right halves: dinosaurs
    assert window.results.query.regions == selector.regions()


# --- the query's picture, by photofind's own decoder ------------------------------------------


def _pattern(width: int = 300, height: int = 200) -> Image.Image:
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, : width // 2] = (220, 30, 30)
    arr[:, width // 2 :] = (30, 30, 220)
    return Image.fromarray(arr, "RGB")


def test_preview_reads_heic_cmyk_and_16_bit_png(tmp_path: Path, qapp) -> None:  # type: ignore[no-untyped-def]
    heic = tmp_path / "photo.heic"
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _pattern().save(heic, "HEIF", quality=90)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"pillow_heif cannot write HEIC here: {exc}")
    cmyk = tmp_path / "cmyk.jpg"
    _pattern().convert("CMYK").save(cmyk, "JPEG", quality=90)
    png16 = tmp_path / "deep.png"
    Image.fromarray((np.linspace(0, 65535, 300 * 200).reshape(200, 300)).astype(np.uint16)).save(png16)
    for path in (heic, cmyk, png16):
        image = read_scaled(str(path), 128)
        assert not image.isNull(), path
        assert max(image.width(), image.height()) == 128 and image.width() > image.height(), path
    left = read_scaled(str(heic), 128).pixelColor(QPoint(10, 40))
    assert left.red() > 180 and left.blue() < 80
    preview = compose_preview([str(heic), str(png16)])
    assert len(preview.tiles) == 2 and all(w > 0 for _x, _y, w, _h in preview.tiles)
