"""The results grid: a ``QListView`` in icon mode with a delegate that draws each photo's
thumbnail centred in a square cell, its file name under it, and its similarity (when searching)
and folder under that, in palette colours. Columns follow the width of the pane (cells share the
leftover width), and the thumbnail size zooms (``set_zoom``; Ctrl+wheel asks for it)."""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPalette, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

PAD = 6
ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 96, 320, 32


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, icon_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon_size = icon_size
        self.cell_width = icon_size + 2 * PAD  # set by the view: the pane's width shared out

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        line = option.fontMetrics.height()
        return QSize(max(self.cell_width, self.icon_size + 2 * PAD), self.icon_size + 2 * PAD + 2 * line + 6)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            colour = QColor(option.palette.color(QPalette.ColorRole.Highlight))
            colour.setAlpha(90 if selected else 35)
            painter.setBrush(colour)
            border = QColor(option.palette.color(QPalette.ColorRole.Highlight))
            painter.setPen(border if selected else Qt.PenStyle.NoPen)
            painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 6, 6)
            painter.restore()
        square = QRect(rect.x() + (rect.width() - self.icon_size) // 2, rect.y() + PAD, self.icon_size, self.icon_size)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            size = pixmap.deviceIndependentSize().toSize()
            if max(size.width(), size.height()) != self.icon_size:  # zoomed: fit the square
                size = size.scaled(square.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(
                square.x() + (square.width() - size.width()) // 2,
                square.y() + (square.height() - size.height()) // 2,
                size.width(), size.height(),
            )
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
            painter.restore()
        line = option.fontMetrics.height()
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        path = index.data(Qt.ItemDataRole.UserRole + 2) or ""  # PathRole
        score = index.data(Qt.ItemDataRole.UserRole + 3)  # ScoreRole
        folder = os.path.basename(os.path.dirname(path))
        second = f"{score:.2f} · {folder}" if score is not None else folder
        width = rect.width() - 2 * PAD
        painter.save()
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        first_rect = QRect(rect.x() + PAD, square.bottom() + 3, width, line + 1)
        painter.drawText(
            first_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width),
        )
        painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            first_rect.translated(0, line + 1), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            option.fontMetrics.elidedText(second, Qt.TextElideMode.ElideMiddle, width),
        )
        painter.restore()


class ResultsView(QListView):
    """The grid; paints a hint in the palette's placeholder colour when there is nothing to show."""

    zoom_requested = Signal(int)  # +1 / -1: Ctrl+wheel
    preview_requested = Signal()  # Space: the current photo, large
    copy_requested = Signal()  # Ctrl+C: the selected photos' paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._empty_text = ""

    @property
    def zoom(self) -> int:
        return self.itemDelegate().icon_size  # type: ignore[attr-defined, no-any-return]

    def set_zoom(self, size: int) -> None:
        """Thumbnails ``size`` pixels square (clamped to ZOOM_MIN..ZOOM_MAX)."""
        self.itemDelegate().icon_size = max(ZOOM_MIN, min(ZOOM_MAX, int(size)))  # type: ignore[attr-defined]
        self.setIconSize(QSize(self.zoom, self.zoom))
        self._share_width()

    def columns(self) -> int:
        return max(1, self.viewport().width() // (self.zoom + 2 * PAD + 2 * self.spacing()))

    def _share_width(self) -> None:
        """As many columns as fit; the leftover width is shared out so the grid fills the pane."""
        delegate = self.itemDelegate()
        delegate.cell_width = self.viewport().width() // self.columns() - 2 * self.spacing() - 1  # type: ignore[attr-defined]
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self._share_width()

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() == Qt.Key.Key_Space and self.currentIndex().isValid():
            self.preview_requested.emit()
            event.accept()
            return
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta:
                self.zoom_requested.emit(1 if delta > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self.viewport().update()

    def paintEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().paintEvent(event)
        model = self.model()
        if self._empty_text and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            painter.setFont(font)
            rect = self.viewport().rect().adjusted(40, 40, -40, -40)
            painter.drawText(
                rect,
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._empty_text,
            )
            painter.end()


def make_results_view(icon_size: int) -> ResultsView:
    view = ResultsView()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setLayoutMode(QListView.LayoutMode.Batched)
    view.setBatchSize(200)
    view.setUniformItemSizes(True)
    view.setIconSize(QSize(icon_size, icon_size))
    view.setSpacing(2)
    view.setItemDelegate(ThumbnailDelegate(icon_size, view))
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    return view
