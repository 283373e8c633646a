"""The results grid: a ``QListView`` in icon mode with a delegate that draws each photo's
thumbnail centred in a square cell and its score (or name) under it, in palette colours."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

PAD = 6


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, icon_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon_size = icon_size

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        line = option.fontMetrics.height()
        return QSize(self.icon_size + 2 * PAD, self.icon_size + 2 * PAD + line + 4)

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
        square = QRect(rect.x() + PAD, rect.y() + PAD, self.icon_size, self.icon_size)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            size = pixmap.deviceIndependentSize().toSize()
            x = square.x() + (square.width() - size.width()) // 2
            y = square.y() + (square.height() - size.height()) // 2
            painter.drawPixmap(x, y, pixmap)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        text_rect = QRect(
            rect.x() + PAD,
            square.bottom() + 2,
            rect.width() - 2 * PAD,
            option.fontMetrics.height() + 2,
        )
        painter.save()
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        elided = option.fontMetrics.elidedText(
            text, Qt.TextElideMode.ElideMiddle, text_rect.width()
        )
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, elided
        )
        painter.restore()


class ResultsView(QListView):
    """The grid; paints a hint in the palette's placeholder colour when there is nothing to show."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._empty_text = ""

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
