"""The results grid's model: ranked hits (or browsed photos) as one ``QAbstractListModel``.

One row per photo, no widget per photo. Thumbnails are asked for lazily in
``data(DecorationRole)`` (so only rows the view paints are loaded) and show a placeholder until
the ``ThumbnailLoader`` reports them ready. Browsing fetches further pages through
``canFetchMore``/``fetchMore`` as the view scrolls.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPixmap

from photofind.gui.results.thumbs import ThumbnailLoader, placeholder

PhotoIdRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ResultItem:
    photo_id: int
    path: str
    score: float | None  # None when browsing
    fingerprint: str | None = None


ORDER_NOTE = (
    "Similarity: this photo's own likeness to the query (1.00 = the same picture).\n"
    "The order also weighs each photo's near neighbours in your library, so a photo\n"
    "a little less similar on its own can come first. Copies of the query always lead."
)


def tooltip(item: ResultItem) -> str:
    name, folder = os.path.basename(item.path), os.path.dirname(item.path)
    if item.score is None:
        return f"{name}\n{folder}"
    return f"{name}\n{folder}\n\nsimilarity {item.score:.3f} ({item.score:.0%})\n\n{ORDER_NOTE}"


class ResultsModel(QAbstractListModel):
    """Search hits ranked by score, or library photos newest first (``mode == "browse"``)."""

    def __init__(self, thumbnails: ThumbnailLoader | None, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._items: list[ResultItem] = []
        self._rows: dict[str, list[int]] = {}
        self.mode = "browse"
        self._thumbs = thumbnails
        self._fetch_more: Callable[[int], None] | None = None
        self._more_possible = False
        self._fetching = False
        size = thumbnails.icon_size if thumbnails is not None else 160
        self._placeholder = placeholder(size)
        self._broken = placeholder(size, broken=True)
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnail_ready)

    # ------------------------------------------------------------------ content
    def set_items(
        self,
        items: list[ResultItem],
        mode: str,
        more: Callable[[int], None] | None = None,
        page: int = 0,
    ) -> None:
        """Replace every row. ``more(offset)`` asks for a further page (browse mode)."""
        self.beginResetModel()
        self._items = list(items)
        self.mode = mode
        self._fetch_more = more
        self._more_possible = more is not None and page > 0 and len(items) >= page
        self._page = page
        self._fetching = False
        self._reindex()
        self.endResetModel()
        if self._thumbs is not None:
            self._thumbs.cancel_pending()

    def append_items(self, items: list[ResultItem]) -> None:
        self._fetching = False
        self._more_possible = len(items) >= self._page > 0
        known = {i.photo_id for i in self._items}
        items = [i for i in items if i.photo_id not in known]
        if not items:
            return
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        self._items.extend(items)
        self._reindex(first)
        self.endInsertRows()

    def clear(self) -> None:
        self.set_items([], self.mode)

    def item(self, row: int) -> ResultItem:
        return self._items[row]

    def items(self) -> list[ResultItem]:
        return list(self._items)

    def _reindex(self, start: int = 0) -> None:
        if start == 0:
            self._rows = {}
        for row in range(start, len(self._items)):
            self._rows.setdefault(self._items[row].path, []).append(row)

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(item.path)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(item)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(item)
        if role == PhotoIdRole:
            return item.photo_id
        if role == PathRole:
            return item.path
        if role == ScoreRole:
            return item.score
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsDragEnabled
        )

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self._more_possible and not self._fetching

    def fetchMore(self, parent: Index) -> None:
        if self.canFetchMore(parent) and self._fetch_more is not None:
            self._fetching = True
            self._fetch_more(len(self._items))

    def mimeData(self, indexes):  # type: ignore[no-untyped-def]  # drag photos out as files
        from PySide6.QtCore import QMimeData, QUrl

        mime = QMimeData()
        mime.setUrls(
            [
                QUrl.fromLocalFile(self._items[i.row()].path)
                for i in indexes
                if i.isValid()
            ]
        )
        return mime

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    # ------------------------------------------------------------------ thumbnails
    def _decoration(self, item: ResultItem) -> QPixmap:
        if self._thumbs is None:
            return self._placeholder
        pixmap = self._thumbs.pixmap(item.path, item.fingerprint)
        if pixmap is not None:
            return pixmap
        return self._broken if self._thumbs.failed(item.path) else self._placeholder

    def _thumbnail_ready(self, path: str) -> None:
        for row in self._rows.get(path, ()):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])
