"""A one-line label that never widens the window: a status, a warning or a saved path can be any length."""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QResizeEvent
from PyQt6.QtWidgets import QLabel


class ElidedLabel(QLabel):
    """Takes the width its layout gives it (at least ``min_width_px``), never the width of its text: text
    that does not fit is cut with an ellipsis (``elide`` says where), and the whole text is the tooltip.
    ``text()`` is the whole text."""

    def __init__(self, text: str = "", min_width_px: int = 0, elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> None:
        super().__init__()
        self._text = ""
        self._elide = elide
        self._min_width_px = min_width_px
        self.setText(text)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(self._min_width_px, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(self._min_width_px, super().minimumSizeHint().height())

    def text(self) -> str:  # the whole text, not what fits
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        if text == self._text:
            return
        self._text = text
        self.setToolTip(text)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        super().setText(self.fontMetrics().elidedText(self._text, self._elide, max(0, self.contentsRect().width())))
