"""What a drop or paste holds (no model, no library: fast)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage

from photofind.gui.query_panel.mime import parse_mime, remote_message


def test_files_and_folders_are_sorted(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    folder = tmp_path / "album"
    folder.mkdir()
    mime = QMimeData()
    mime.setUrls(
        [
            QUrl.fromLocalFile(str(photo)),
            QUrl.fromLocalFile(str(folder)),
            QUrl.fromLocalFile(str(photo)),
        ]
    )
    payload = parse_mime(mime)
    assert payload.images == [str(photo)]
    assert payload.folders == [str(folder)]
    assert not payload.remote_urls


def test_browser_drag_prefers_image_bytes_over_the_remote_url() -> None:
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/photo.jpg")])
    mime.setData("image/png", b"\x89PNG fake bytes")
    payload = parse_mime(mime)
    assert payload.images == [b"\x89PNG fake bytes"]
    assert not payload.remote_urls


def test_remote_url_only() -> None:
    mime = QMimeData()
    mime.setHtml('<a href="x"><img src="https://cdn.example.org/cat.png"></a>')
    payload = parse_mime(mime)
    assert payload.remote_urls == ["https://cdn.example.org/cat.png"]
    assert "cdn.example.org" in remote_message(payload.remote_urls)


def test_file_url_as_text_and_qimage(tmp_path: Path) -> None:
    photo = tmp_path / "b c.jpg"
    photo.write_bytes(b"x")
    mime = QMimeData()
    mime.setText(QUrl.fromLocalFile(str(photo)).toString())
    assert parse_mime(mime).images == [str(photo)]

    mime = QMimeData()
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(0)
    mime.setImageData(image)
    (got,) = parse_mime(mime).images
    assert isinstance(got, QImage) and got.width() == 8


def test_missing_file_is_reported(tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "gone.jpg"))])
    payload = parse_mime(mime)
    assert payload.unsupported and not payload.images


# ---------------------------------------------------------------- the query panel as a drop target
def _panel(qtbot):  # type: ignore[no-untyped-def]
    from photofind.gui.query_panel import QueryPanel

    panel = QueryPanel()
    qtbot.addWidget(panel)
    return panel


def test_panel_accepts_files_and_folders_and_says_what_they_are(qtbot, tmp_path: Path) -> None:
    from tests.gui.helpers import drop, file_mime

    panel = _panel(qtbot)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    album = tmp_path / "album"
    album.mkdir()
    with qtbot.waitSignal(panel.images_chosen) as chosen, qtbot.waitSignal(panel.folders_dropped) as folders:
        assert drop(panel, file_mime(photo, album))
    assert chosen.args == [[str(photo)], "a.jpg"]
    assert folders.args == [[str(album)]]


def test_panel_refuses_a_drag_with_nothing_usable(qtbot) -> None:
    from tests.gui.helpers import drop

    panel = _panel(qtbot)
    notices: list[str] = []
    panel.notice.connect(notices.append)
    assert not drop(panel, QMimeData())  # refused at drag-enter: never dropped
    assert not notices


def test_panel_drop_of_a_browser_image_without_bytes_explains_offline(qtbot) -> None:
    from tests.gui.helpers import drop

    panel = _panel(qtbot)
    mime = QMimeData()  # a browser drag whose image bytes were not offered: html and its URL
    mime.setHtml('<img src="https://cdn.example.org/cat.png">')
    mime.setUrls([QUrl("https://cdn.example.org/cat.png")])
    with qtbot.waitSignal(panel.notice) as notice:
        assert drop(panel, mime)
    assert "cdn.example.org" in notice.args[0]
