"""List models for the ballot page: rows change in place, so a list never jumps while the
voter scores a proposal halfway down it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex


class RowModel(QAbstractListModel):
    """Rows of plain dicts; the dict keys are the QML role names."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__()
        self._names = roles
        self._roles = {Qt.ItemDataRole.UserRole + 1 + i: name for i, name in enumerate(roles)}
        self._rows: list[dict[str, Any]] = []

    def roleNames(self) -> dict[int, QByteArray]:
        return {role: QByteArray(name.encode()) for role, name in self._roles.items()}

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        name = self._roles.get(role)
        return None if name is None else self._rows[index.row()].get(name)

    def reset(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def update(self, rows: list[dict[str, Any]]) -> None:
        """Replace the rows; when the count is the same, only changed rows are signalled."""
        if len(rows) != len(self._rows):
            self.reset(rows)
            return
        for i, (old, new) in enumerate(zip(self._rows, rows, strict=True)):
            if old != new:
                self._rows[i] = new
                self.dataChanged.emit(self.index(i), self.index(i))

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self._rows
