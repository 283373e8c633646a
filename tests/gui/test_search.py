"""Queries from the window: drops, pastes, Find similar, the result count, opening a photo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage

from photofind.gui import photo_actions
from photofind.gui.results_model import PathRole, ScoreRole
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done


def _classes(window, labels: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    return [labels[Path(item.path).name] for item in window.model.items()]


def test_dropped_photo_ranks_itself_first_then_its_class(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    query = photo_dir / "705.jpg"  # a horse
    drop(window.query_panel, file_mime(query))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)

    items = window.model.items()
    assert Path(items[0].path) == query
    assert items[0].score > 0.99
    scores = [i.score for i in items]
    assert scores == sorted(scores, reverse=True)
    next_nine = _classes(window, labels)[1:10]
    assert next_nine.count(labels["705.jpg"]) >= 6, next_nine
    # The query image is shown beside the results.
    qtbot.waitUntil(
        lambda: (
            window.query_panel.image.pixmap() is not None
            and not window.query_panel.image.pixmap().isNull()
        )
    )
    assert "705.jpg" in window.heading.text()


def test_several_dropped_photos_make_one_query(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    horses = sorted(p for p in photo_dir.iterdir() if labels[p.name] == "horses")[:2]
    drop(window, file_mime(*horses))  # dropped on the window itself this time
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    top = _classes(window, labels)[:10]
    assert top.count("horses") >= 7, top
    assert {Path(i.path) for i in window.model.items()[:4]} & set(horses)


def test_pasted_image_data_and_qimage_search(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    photo = photo_dir / "305.jpg"  # a bus
    mime = QMimeData()
    mime.setData(
        "image/jpeg", photo.read_bytes()
    )  # what a browser puts on the clipboard
    QGuiApplication.clipboard().setMimeData(mime)
    window.paste()
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    assert Path(window.model.item(0).path) == photo
    assert window.model.item(0).score > 0.99

    # An image copied as pixels (no file, no encoded bytes): the query worker encodes it.
    mime = QMimeData()
    mime.setImageData(QImage(str(photo_dir / "705.jpg")))
    window.handle_mime(mime)
    qtbot.waitUntil(
        lambda: (
            search_done(window) and Path(window.model.item(0).path).name == "705.jpg"
        ),
        timeout=TIMEOUT_MS,
    )


def test_remote_url_gets_a_clear_message(make_window, qtbot) -> None:
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/cat.jpg")])
    window.handle_mime(mime)
    assert window.notice.isVisible()
    assert "offline" in window.notice.text.text()
    assert "example.com" in window.notice.text.text()
    assert window.model.mode == "browse"


def test_unreadable_query_is_a_notice_not_a_crash(
    make_window, qtbot, tmp_path: Path
) -> None:
    window = make_window()
    bad = tmp_path / "not-a-photo.jpg"
    bad.write_bytes(b"this is text")
    drop(window.query_panel, file_mime(bad))
    qtbot.waitUntil(lambda: window.notice.isVisible(), timeout=TIMEOUT_MS)
    assert "Cannot read the query image" in window.notice.text.text()


def test_find_similar_uses_the_stored_vector(
    make_window, qtbot, photo_dir: Path, labels
) -> None:
    window = make_window()
    qtbot.waitUntil(
        lambda: window.model.rowCount() == 100, timeout=TIMEOUT_MS
    )  # browsing
    row = next(
        i for i in window.model.items() if Path(i.path).name == "405.jpg"
    )  # dinosaurs
    window.find_similar(row.photo_id, row.path)
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    paths = [i.path for i in window.model.items()]
    assert row.path not in paths  # the photo itself is left out
    assert _classes(window, labels)[:9].count(labels["405.jpg"]) >= 6


def test_result_count_and_browse_again(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    window.count.setValue(7)
    drop(window.query_panel, file_mime(photo_dir / "5.jpg"))
    qtbot.waitUntil(
        lambda: search_done(window) and window.model.rowCount() == 7, timeout=TIMEOUT_MS
    )
    window.count.setValue(12)  # re-runs the same query
    qtbot.waitUntil(lambda: window.model.rowCount() == 12, timeout=TIMEOUT_MS)
    window.browse()
    qtbot.waitUntil(
        lambda: window.model.mode == "browse" and window.model.rowCount() == 100,
        timeout=TIMEOUT_MS,
    )
    assert window.model.item(0).score is None


def test_enter_opens_the_current_photo_and_thumbnails_load(
    make_window, qtbot, photo_dir: Path, monkeypatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(
        photo_actions, "open_url", lambda url: opened.append(url.toLocalFile()) or True
    )
    window = make_window()
    drop(window.query_panel, file_mime(photo_dir / "405.jpg"))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    window.view.setFocus()
    window.view.setCurrentIndex(window.model.index(1))
    qtbot.keyClick(window.view, Qt.Key.Key_Right)
    assert window.view.currentIndex().row() == 2
    qtbot.keyClick(window.view, Qt.Key.Key_Return)
    assert opened == [window.model.index(2).data(PathRole)]
    assert window.model.index(2).data(ScoreRole) is not None
    # Thumbnails were requested by painting and arrive from the thread pool, cached on disk.
    first = window.model.item(0).path
    qtbot.waitUntil(
        lambda: window.thumbnails.pixmap(first) is not None, timeout=TIMEOUT_MS
    )
    assert any(window.library.paths.thumbnails_dir.rglob("*.jpg"))


def test_newer_query_supersedes_older(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    for name in ("5.jpg", "105.jpg", "205.jpg", "705.jpg"):
        drop(window.query_panel, file_mime(photo_dir / name))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    qtbot.wait(300)
    assert Path(window.model.item(0).path).name == "705.jpg"
