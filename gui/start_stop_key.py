"""Ctrl+Space starts and stops from anywhere in the window, whatever has the focus."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import QApplication, QWidget


class StartStopKey(QObject):
    """An application event filter that takes Ctrl+Space aimed at ``window`` (or any widget in it)
    before the focused widget sees it: a push button presses itself on a space whatever the modifiers,
    and a user saw Ctrl+Space on the file button open its dialog where a window shortcut was meant to
    start. ``remove`` takes it away."""

    def __init__(self, window: QWidget, toggle: Callable[[], None]) -> None:
        super().__init__(window)
        self.window, self.toggle = window, toggle
        QApplication.instance().installEventFilter(self)

    def remove(self) -> None:
        QApplication.instance().removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride):
            return False
        if not isinstance(event, QKeyEvent) or event.key() != Qt.Key.Key_Space:
            return False
        if event.modifiers() != Qt.KeyboardModifier.ControlModifier or not self._inside(watched):
            return False
        if event.type() == QEvent.Type.KeyPress and not event.isAutoRepeat():
            self.toggle()
        return True  # the focused widget never sees it

    def _inside(self, watched: QObject) -> bool:
        return isinstance(watched, QWidget) and (watched is self.window or self.window.isAncestorOf(watched))
