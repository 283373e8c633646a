"""The picture of the query, on which the user drags a rectangle to search by that part only.

The widget shows a preview (one image, or several tiled) and knows where each query image sits
in it (``tiles``, in preview pixels). A drag inside a tile makes that image's region; handles on
the corners and edges resize it, dragging inside it moves it; Esc (or ``reset``) goes back to the
whole photos. When a drag ends, ``regions_changed`` carries one entry per query image: a fraction
``Region`` of that image, or None for the whole of it. It also stands in for the label it
replaced: ``setText``/``text``/``setPixmap``/``pixmap``.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from photofind.core.images.region import MIN_REGION_PIXELS, Region

HANDLE = 7  # half the size of a handle's grab area, in widget pixels
_EDGES = ("tl", "t", "tr", "r", "br", "b", "bl", "l")
_CURSORS = {
    "tl": Qt.CursorShape.SizeFDiagCursor, "br": Qt.CursorShape.SizeFDiagCursor,
    "tr": Qt.CursorShape.SizeBDiagCursor, "bl": Qt.CursorShape.SizeBDiagCursor,
    "t": Qt.CursorShape.SizeVerCursor, "b": Qt.CursorShape.SizeVerCursor,
    "l": Qt.CursorShape.SizeHorCursor, "r": Qt.CursorShape.SizeHorCursor,
    "move": Qt.CursorShape.SizeAllCursor,
}


class RegionSelector(QWidget):
    regions_changed = Signal(list)  # [Region | None], one per query image

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self._pixmap = QPixmap()
        self._tiles: list[QRectF] = []  # where each query image is, in preview pixels
        self._regions: dict[int, QRectF] = {}  # tile -> selection, in preview pixels
        self._drag: tuple[str, int, QPointF, QRectF] | None = None  # mode, tile, start, rect then
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumSize(QSize(200, 180))

    # ------------------------------------------------------------------ label-like API
    def setText(self, text: str) -> None:
        self._text = text
        self.update()

    def text(self) -> str:
        return self._text

    def setPixmap(self, pixmap: QPixmap, tiles: list[QRectF] | None = None) -> None:
        """A new picture: any selection is dropped (it belonged to the previous query)."""
        self._pixmap = pixmap
        self._tiles = tiles if tiles is not None else (
            [QRectF(0, 0, pixmap.width(), pixmap.height())] if not pixmap.isNull() else []
        )
        self._regions.clear()
        self._drag = None
        self.updateGeometry()
        self.update()

    def pixmap(self) -> QPixmap:
        return self._pixmap

    def sizeHint(self) -> QSize:
        return QSize(260, 260) if self._pixmap.isNull() else self._pixmap.size().grownBy(self.contentsMargins())

    # ------------------------------------------------------------------ regions
    def has_region(self) -> bool:
        return bool(self._regions)

    def regions(self) -> list[Region | None]:
        """One entry per query image: its selected part as fractions, or None (whole photo)."""
        out: list[Region | None] = []
        for i, tile in enumerate(self._tiles):
            r = self._regions.get(i)
            if r is None or tile.width() <= 0 or tile.height() <= 0:  # no picture of that image
                out.append(None)
                continue
            x, y = (r.x() - tile.x()) / tile.width(), (r.y() - tile.y()) / tile.height()
            w, h = r.width() / tile.width(), r.height() / tile.height()
            out.append(Region.fraction(max(0.0, x), max(0.0, y), min(w, 1 - max(0.0, x)), min(h, 1 - max(0.0, y))))
        return out

    def set_regions(self, regions: list[Region | None]) -> None:
        """Select fraction regions (one per image, None = whole) as if dragged; emits the change."""
        self._regions.clear()
        for i, (tile, region) in enumerate(zip(self._tiles, regions)):
            if region is not None and not region.is_whole():
                self._regions[i] = QRectF(
                    tile.x() + region.x * tile.width(), tile.y() + region.y * tile.height(),
                    region.w * tile.width(), region.h * tile.height(),
                )
        self.update()
        self.regions_changed.emit(self.regions())

    def reset(self) -> None:
        """Back to the whole photos."""
        had = bool(self._regions)
        self._regions.clear()
        self._drag = None
        self.update()
        if had:
            self.regions_changed.emit(self.regions())

    # ------------------------------------------------------------------ geometry
    def _scale_offset(self) -> tuple[float, QPointF]:
        """Preview pixels -> widget pixels: the picture fits the widget, centred, never enlarged
        more than twice."""
        area = QRectF(self.contentsRect())
        pw, ph = self._pixmap.width(), self._pixmap.height()
        scale = min(area.width() / pw, area.height() / ph, 2.0) if pw and ph else 1.0
        offset = QPointF(area.x() + (area.width() - pw * scale) / 2, area.y() + (area.height() - ph * scale) / 2)
        return scale, offset

    def _to_widget(self, r: QRectF) -> QRectF:
        s, o = self._scale_offset()
        return QRectF(o.x() + r.x() * s, o.y() + r.y() * s, r.width() * s, r.height() * s)

    def _to_image(self, p: QPointF) -> QPointF:
        s, o = self._scale_offset()
        return QPointF((p.x() - o.x()) / s, (p.y() - o.y()) / s)

    def _handles(self, r: QRectF) -> dict[str, QPointF]:
        w = self._to_widget(r)
        cx, cy = w.center().x(), w.center().y()
        return {
            "tl": w.topLeft(), "t": QPointF(cx, w.top()), "tr": w.topRight(), "r": QPointF(w.right(), cy),
            "br": w.bottomRight(), "b": QPointF(cx, w.bottom()), "bl": w.bottomLeft(), "l": QPointF(w.left(), cy),
        }

    def _hit(self, pos: QPointF) -> tuple[str, int] | None:
        """What a press at ``pos`` grabs: a handle or the inside of a selection, else a tile."""
        for i, r in self._regions.items():
            for name, point in self._handles(r).items():
                if abs(pos.x() - point.x()) <= HANDLE and abs(pos.y() - point.y()) <= HANDLE:
                    return name, i
            if self._to_widget(r).contains(pos):
                return "move", i
        p = self._to_image(pos)
        for i, tile in enumerate(self._tiles):
            if tile.contains(p):
                return "new", i
        return None

    # ------------------------------------------------------------------ mouse and keys
    def mousePressEvent(self, event: QMouseEvent) -> None:
        hit = self._hit(event.position()) if event.button() == Qt.MouseButton.LeftButton else None
        if hit is None:
            super().mousePressEvent(event)
            return
        mode, i = hit
        start = self._to_image(event.position())
        self._drag = (mode, i, start, QRectF(self._regions.get(i, QRectF(start, start))))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            hit = self._hit(event.position())
            cursor = _CURSORS.get(hit[0]) if hit and hit[0] != "new" else None
            self.setCursor(cursor if cursor is not None else Qt.CursorShape.CrossCursor if hit else Qt.CursorShape.ArrowCursor)
            return
        mode, i, start, before = self._drag
        tile = self._tiles[i]
        p = self._to_image(event.position())
        p = QPointF(min(max(p.x(), tile.left()), tile.right()), min(max(p.y(), tile.top()), tile.bottom()))
        if mode == "new":
            r = QRectF(start, p).normalized()
        elif mode == "move":
            r = before.translated(p - start)
            r.moveLeft(min(max(r.left(), tile.left()), tile.right() - r.width()))
            r.moveTop(min(max(r.top(), tile.top()), tile.bottom() - r.height()))
        else:
            r = QRectF(before)
            if "l" in mode:
                r.setLeft(p.x())
            if "r" in mode:
                r.setRight(p.x())
            if "t" in mode:
                r.setTop(p.y())
            if "b" in mode:
                r.setBottom(p.y())
            r = r.normalized()
        self._regions[i] = r
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            super().mouseReleaseEvent(event)
            return
        _mode, i, _start, _before = self._drag
        self._drag = None
        r = self._regions.get(i)
        tile = self._tiles[i]
        # a click (or a sliver) is not a region: the photo is searched whole
        too_small = r is None or min(r.width() / tile.width(), r.height() / tile.height()) < 0.03
        if r is not None and (too_small or min(r.width(), r.height()) < MIN_REGION_PIXELS / 4):
            del self._regions[i]
        self.update()
        self.regions_changed.emit(self.regions())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._regions:
            self.reset()
            event.accept()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ painting
    def paintEvent(self, _event) -> None:  # type: ignore[no-untyped-def]
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._pixmap.isNull():
            painter.drawText(self.contentsRect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._text)
            return
        painter.drawPixmap(self._to_widget(QRectF(self._pixmap.rect())), self._pixmap, QRectF(self._pixmap.rect()))
        for i, r in self._regions.items():
            outside = QPainterPath()
            outside.addRect(self._to_widget(self._tiles[i]))
            inside = QPainterPath()
            inside.addRect(self._to_widget(r))
            painter.fillPath(outside.subtracted(inside), QColor(0, 0, 0, 130))
            painter.setPen(QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine))
            painter.drawRect(self._to_widget(r))
            painter.setPen(QPen(QColor(40, 40, 40), 1))
            painter.setBrush(QColor(255, 255, 255))
            for point in self._handles(r).values():
                painter.drawRect(QRectF(point.x() - 3.5, point.y() - 3.5, 7, 7))
            painter.setBrush(Qt.BrushStyle.NoBrush)
