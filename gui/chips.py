"""The active descriptions as removable chips, each with its own isolate/remove switch.

Chips make one query: the isolated ones are taken together and the removed ones left out of them
("guitar + piano but not drums", isolate mode); with none isolated, all of them are removed together
(remove mode). Every change emits ``changed`` once.
"""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from models.queries import Query, QuerySet

Chip = tuple[str, bool]  # (description, removed)


def chips_query(chips: Sequence[Chip]) -> tuple[Query, bool] | None:
    """The query the chips make and whether it is removed (None without chips)."""
    if not chips:
        return None
    taken = tuple(text for text, removed in chips if not removed)
    left_out = tuple(text for text, removed in chips if removed)
    include, exclude, remove = (taken, left_out, False) if taken else (left_out, (), True)
    return (include[0] if len(include) == 1 and not exclude else QuerySet(include, exclude)), remove


def query_chips(query: Query, remove: bool) -> list[Chip] | None:
    """Chips that make ``query`` in that mode, or None when chips cannot (a clip, a saved condition, or
    sounds left out of a removal)."""
    include = query.include if isinstance(query, QuerySet) else (query,)
    exclude = query.exclude if isinstance(query, QuerySet) else ()
    if not all(isinstance(q, str) for q in (*include, *exclude)) or (remove and exclude):
        return None
    return [(str(text), remove) for text in include] + [(str(text), True) for text in exclude]


class QueryChips(QWidget):
    """A row of chips; ``chips`` lists them in order."""

    changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.chips: list[Chip] = []
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addStretch(1)

    def set_chips(self, chips: Sequence[Chip]) -> None:
        """Replace every chip (one change)."""
        self.chips = list(chips)
        self._redraw()
        self.changed.emit()

    def add(self, text: str, removed: bool = False) -> None:
        if (text, removed) not in self.chips:
            self.set_chips([*self.chips, (text, removed)])

    def remove_at(self, index: int) -> None:
        self.set_chips(self.chips[:index] + self.chips[index + 1 :])

    def toggle_at(self, index: int) -> None:
        """Switch a chip between isolate and remove."""
        text, removed = self.chips[index]
        self.set_chips(self.chips[:index] + [(text, not removed)] + self.chips[index + 1 :])

    def chip_widgets(self) -> list[QFrame]:
        return [self._row.itemAt(i).widget() for i in range(self._row.count() - 1)]

    def _redraw(self) -> None:
        while self._row.count() > 1:
            self._row.takeAt(0).widget().deleteLater()
        for index, (text, removed) in enumerate(self.chips):
            self._row.insertWidget(index, self._chip(index, text, removed))

    def _chip(self, index: int, text: str, removed: bool) -> QFrame:
        chip = QFrame()
        chip.setFrameShape(QFrame.Shape.StyledPanel)
        chip.setStyleSheet("QFrame { border-radius: 8px; background: %s; }" % ("#f5d5d0" if removed else "#d5e8f5"))
        layout = QHBoxLayout(chip)
        layout.setContentsMargins(6, 1, 2, 1)
        layout.addWidget(QLabel(text))
        mode = QPushButton("remove" if removed else "isolate", clicked=lambda: self.toggle_at(index))
        mode.setToolTip("switch between isolating this sound and removing it")
        close = QToolButton(text="✕", clicked=lambda: self.remove_at(index))
        close.setToolTip(f"drop {text!r}")
        layout.addWidget(mode)
        layout.addWidget(close)
        return chip
