"""A level meter in dBFS: the bar follows the peak, the number holds the highest peak for a moment,
and a clip light stays lit for a while after a sample reached full scale.

The meters change with every view refresh, so changing them must not draw: Qt's QProgressBar repaints
on the spot in ``setValue``, about half a millisecond each with the interpreter lock held (two meters:
over half of the view timer's work, measured with cProfile in the app streaming the low-latency
model), time the separation worker waits for. The bar here asks for a repaint, which Qt folds into
the window's next one, and the clip light is restyled only when it turns on or off.
"""

from __future__ import annotations

import math

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QPainter, QPaintEvent, QPalette
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

FLOOR_DBFS = -60.0
PEAK_HOLD_S = 1.5
CLIP_HOLD_S = 3.0
CLIP_LEVEL = 0.999  # a sample this close to full scale counts as clipping
BAR_SIZE_PX = QSize(14, 120)  # width, height the bar asks of the layout


def dbfs(peak: float) -> float:
    """A linear level (1.0 = full scale, or unity gain) in dB, ``-inf`` for silence."""
    return 20 * math.log10(peak) if peak > 0 else -math.inf


class LevelMeter(QWidget):
    """A vertical meter titled ``name`` (e.g. "in", "out")."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.bar = LevelBar()
        self.reading = QLabel("")
        self.clip = QLabel("clip")
        self.clip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel(name), self.clip, self.bar, self.reading):
            layout.addWidget(widget, alignment=Qt.AlignmentFlag.AlignHCenter)
        self._held_dbfs, self._held_at_s, self._clipped_at_s = -math.inf, -math.inf, -math.inf
        self.reset()

    def show_peak(self, peak: float, now_s: float) -> None:
        """The newest block's linear peak, at ``now_s`` (monotonic seconds)."""
        level = dbfs(peak)
        self.bar.set_value(int(max(FLOOR_DBFS, level)))
        if level >= self._held_dbfs or now_s - self._held_at_s > PEAK_HOLD_S:
            self._held_dbfs, self._held_at_s = level, now_s
        self.reading.setText(f"{self._held_dbfs:.1f} dBFS")
        if peak >= CLIP_LEVEL:
            self._clipped_at_s = now_s
        self._light(now_s - self._clipped_at_s < CLIP_HOLD_S)

    def reset(self) -> None:
        """Nothing playing: an empty bar, no reading, the light off."""
        self.bar.set_value(int(FLOOR_DBFS))
        self._held_dbfs, self._held_at_s, self._clipped_at_s = -math.inf, -math.inf, -math.inf
        self.reading.setText(f"{self._held_dbfs:.1f} dBFS")
        self._light(False)

    @property
    def clipping(self) -> bool:
        return self.clip.property("lit") is True

    def _light(self, lit: bool) -> None:
        if self.clip.property("lit") is lit:
            return
        self.clip.setProperty("lit", lit)
        self.clip.setStyleSheet("background: #d62728; color: white" if lit else "color: #999")


class LevelBar(QWidget):
    """A vertical bar from ``FLOOR_DBFS`` (empty) to 0 dBFS (full), in whole dB."""

    def __init__(self) -> None:
        super().__init__()
        self._value = int(FLOOR_DBFS)

    def value(self) -> int:
        return self._value

    def set_value(self, level_dbfs: int) -> None:
        """Show ``level_dbfs`` at the window's next repaint (never drawn here)."""
        if level_dbfs != self._value:
            self._value = level_dbfs
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return BAR_SIZE_PX

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        area = self.rect()
        filled = round(area.height() * (self._value - FLOOR_DBFS) / -FLOOR_DBFS)
        painter.fillRect(area, self.palette().color(QPalette.ColorRole.Base))
        painter.fillRect(0, area.height() - filled, area.width(), filled, self.palette().color(QPalette.ColorRole.Highlight))
        painter.end()
