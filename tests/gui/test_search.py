"""Queries from the window: drops, pastes, Find similar, the result count, opening a photo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage

from photofind.gui import photo_actions
from photofind.gui.results.model import PathRole, ScoreRole
from tests.gui.helpers import TIMEOUT_MS, browser_mime, drop, file_mime, search_done


def _classes(window, labels: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    return [labels[Path(item.path).name] for item in window.results.model.items()]


def test_dropped_photo_ranks_itself_first_then_its_class(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    query = photo_dir / "705.jpg"  # a horse
    assert drop(window.query_panel, file_mime(query))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)

    items = window.results.model.items()
    assert Path(items[0].path) == query
    assert items[0].score > 0.99
    assert all(i.score <= items[0].score for i in items)  # each its own similarity; the copy first
    next_nine = _classes(window, labels)[1:10]
    assert next_nine.count(labels["705.jpg"]) >= 6, next_nine
    # The query image is shown beside the results.
    image = window.query_panel.image
    qtbot.waitUntil(lambda: image.pixmap() is not None and not image.pixmap().isNull())
    assert "705.jpg" in window.results.heading.text()
    assert window.results.back_button.isVisible()


def test_several_dropped_photos_make_one_query(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    horses = sorted(p for p in photo_dir.iterdir() if labels[p.name] == "horses")[:2]
    assert drop(window, file_mime(*horses))  # dropped on the window itself this time
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    top = _classes(window, labels)[:10]
    assert top.count("horses") >= 7, top
    assert {Path(i.path) for i in window.results.model.items()[:4]} & set(horses)


def test_image_dragged_from_a_browser_searches_by_its_bytes(
    make_window, qtbot, photo_dir: Path
) -> None:
    window = make_window()
    photo = photo_dir / "305.jpg"  # a bus; the browser's URL cannot be fetched offline
    assert drop(window.query_panel, browser_mime(photo.read_bytes()))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    assert Path(window.results.model.item(0).path) == photo
    assert not window.results.notice_bar.isVisible()


def test_pasted_image_data_and_qimage_search(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    photo = photo_dir / "305.jpg"  # a bus
    mime = QMimeData()
    mime.setData("image/jpeg", photo.read_bytes())  # what a browser puts on the clipboard
    QGuiApplication.clipboard().setMimeData(mime)
    window.menu_actions["Paste image"].trigger()
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    assert Path(window.results.model.item(0).path) == photo
    assert window.results.model.item(0).score > 0.99

    # An image copied as pixels (no file, no encoded bytes): the query job encodes it.
    mime = QMimeData()
    mime.setImageData(QImage(str(photo_dir / "705.jpg")))
    QGuiApplication.clipboard().setMimeData(mime)
    window.menu_actions["Paste image"].trigger()
    qtbot.waitUntil(
        lambda: search_done(window)
        and Path(window.results.model.item(0).path).name == "705.jpg",
        timeout=TIMEOUT_MS,
    )


def test_remote_url_gets_a_clear_message(make_window, qtbot) -> None:
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/cat.jpg")])
    assert drop(window, mime)
    notice = window.results.notice_bar
    assert notice.isVisible()
    assert "offline" in notice.text.text()
    assert "example.com" in notice.text.text()
    assert window.results.model.mode == "browse"


def test_unreadable_query_is_a_notice_not_a_crash(
    make_window, qtbot, tmp_path: Path
) -> None:
    window = make_window()
    bad = tmp_path / "not-a-photo.jpg"
    bad.write_bytes(b"this is text")
    drop(window.query_panel, file_mime(bad))
    qtbot.waitUntil(lambda: window.results.notice_bar.isVisible(), timeout=TIMEOUT_MS)
    assert "Cannot read the query image" in window.results.notice_bar.text.text()
    assert "Cannot read the query image" in window.query_panel.caption.text()
    assert "Cannot read the query image" in window.results.heading.text()
    assert not window.results.searching


def _find_similar_action(window, row: int):  # type: ignore[no-untyped-def]
    """The right-click menu's "Find similar" of the photo in ``row`` of the grid."""
    view = window.results.view
    rect = view.visualRect(window.results.model.index(row))
    menu = window.results.photo_menu(rect.center())
    return next(a for a in menu.actions() if a.text() == "Find similar")


def test_find_similar_uses_the_stored_vector(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    model = window.results.model
    qtbot.waitUntil(lambda: model.rowCount() == 100, timeout=TIMEOUT_MS)  # browsing
    row = next(r for r in range(model.rowCount()) if Path(model.item(r).path).name == "405.jpg")
    path = model.item(row).path  # dinosaurs
    _find_similar_action(window, row).trigger()
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    paths = [i.path for i in model.items()]
    assert path not in paths  # the photo itself is left out
    assert _classes(window, labels)[:9].count(labels["405.jpg"]) >= 6


def test_result_count_and_browse_again(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    results = window.results
    results.count.setValue(7)
    drop(window.query_panel, file_mime(photo_dir / "5.jpg"))
    qtbot.waitUntil(
        lambda: search_done(window) and results.model.rowCount() == 7, timeout=TIMEOUT_MS
    )
    results.count.setValue(12)  # re-runs the same query
    qtbot.waitUntil(lambda: results.model.rowCount() == 12, timeout=TIMEOUT_MS)
    qtbot.mouseClick(results.back_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: results.model.mode == "browse" and results.model.rowCount() == 100,
        timeout=TIMEOUT_MS,
    )
    assert results.model.item(0).score is None
    assert window.query_panel.image.text() == window.query_panel.HINT


def test_enter_opens_the_current_photo_and_thumbnails_load(
    make_window, qtbot, photo_dir: Path, monkeypatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(
        photo_actions, "open_url", lambda url: opened.append(url.toLocalFile()) or True
    )
    window = make_window()
    view, model = window.results.view, window.results.model
    drop(window.query_panel, file_mime(photo_dir / "405.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    view.setFocus()
    view.setCurrentIndex(model.index(1))
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == 2
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert opened == [model.index(2).data(PathRole)]
    assert model.index(2).data(ScoreRole) is not None
    # Thumbnails were requested by painting and arrive from the thumbs queue, cached on disk.
    first = model.item(0).path
    thumbnails = window.results.thumbnails
    qtbot.waitUntil(lambda: thumbnails.pixmap(first) is not None, timeout=TIMEOUT_MS)
    assert any(window.library.paths.thumbnails_dir.rglob("*.jpg"))


def test_newer_query_supersedes_older(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    shown: list[str] = []
    window.results.model.modelReset.connect(
        lambda: shown.append(window.results.model.mode)
    )
    for name in ("5.jpg", "105.jpg", "205.jpg", "705.jpg"):
        drop(window.query_panel, file_mime(photo_dir / name))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    qtbot.wait(300)
    assert Path(window.results.model.item(0).path).name == "705.jpg"
    assert shown.count("search") == 1  # the superseded queries' answers were never shown


def test_one_dropped_photo_is_decoded_once_for_preview_and_search(library, photo_dir: Path, monkeypatch) -> None:
    """The usual drop reads the photo once: the preview shows before the model runs, and the
    ranking is the one the searcher gives for the photo's path."""
    from photofind.core.images import decode
    from photofind.gui.results import queries

    query = photo_dir / "705.jpg"
    expected = [(h.path, round(h.score, 5)) for h in library.searcher().search_image([str(query)], k=12)]
    reads, previews = [], []
    real = decode._decode
    monkeypatch.setattr(decode, "_decode", lambda source, *a, **k: (reads.append(source), real(source, *a, **k))[1])
    items = queries.search_images(library, library.ranking, [str(query)], 12, previews.append)
    assert [(i.path, round(i.score, 5)) for i in items] == expected
    assert reads == [str(query)]
    (preview,) = previews
    assert max(preview.image.width(), preview.image.height()) == queries.PREVIEW_SIZE
    assert preview.tiles == ((0.0, 0.0, float(preview.image.width()), float(preview.image.height())),)
