"""A level meter in dBFS: the bar follows the peak, the number holds the highest peak for a moment,
and a clip light stays lit for a while after a sample reached full scale."""

from __future__ import annotations

import math

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

FLOOR_DBFS = -60.0
PEAK_HOLD_S = 1.5
CLIP_HOLD_S = 3.0
CLIP_LEVEL = 0.999  # a sample this close to full scale counts as clipping


def dbfs(peak: float) -> float:
    """A linear level (1.0 = full scale, or unity gain) in dB, ``-inf`` for silence."""
    return 20 * math.log10(peak) if peak > 0 else -math.inf


class LevelMeter(QWidget):
    """A vertical meter titled ``name`` (e.g. "in", "out")."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.bar = QProgressBar(minimum=int(FLOOR_DBFS), maximum=0, orientation=Qt.Orientation.Vertical, textVisible=False)
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
        self.bar.setValue(int(max(FLOOR_DBFS, level)))
        if level >= self._held_dbfs or now_s - self._held_at_s > PEAK_HOLD_S:
            self._held_dbfs, self._held_at_s = level, now_s
        self.reading.setText(f"{self._held_dbfs:.1f} dBFS")
        if peak >= CLIP_LEVEL:
            self._clipped_at_s = now_s
        self._light(now_s - self._clipped_at_s < CLIP_HOLD_S)

    def reset(self) -> None:
        """Nothing playing: an empty bar, no reading, the light off."""
        self.bar.setValue(int(FLOOR_DBFS))
        self._held_dbfs, self._held_at_s, self._clipped_at_s = -math.inf, -math.inf, -math.inf
        self.reading.setText(f"{self._held_dbfs:.1f} dBFS")
        self._light(False)

    @property
    def clipping(self) -> bool:
        return self.clip.property("lit") is True

    def _light(self, lit: bool) -> None:
        self.clip.setProperty("lit", lit)
        self.clip.setStyleSheet("background: #d62728; color: white" if lit else "color: #999")
