"""Scrolling spectrogram views, and the pacing that makes them scroll smoothly at the display rate.

The engine publishes one hop of frames at a time (10 ms frames, e.g. 10 of them every 100 ms). Drawn
as they come, the views would jump ten times a second; :class:`ColumnPacer` releases the frames at
the pace they were recorded instead, one or two per display refresh (at the cost of up to a hop of
extra display delay), and catches up if the display falls behind.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from models.config import HOP_LENGTH, MODEL_SAMPLE_RATE_HZ

FRAME_S = HOP_LENGTH / MODEL_SAMPLE_RATE_HZ
HISTORY_COLUMNS = 400  # 4 s of 10 ms frames
DISPLAY_BINS = 256  # the 1024 lowest STFT bins, averaged in fours
MIN_DB = -80.0


class SpectrogramView:
    """A scrolling image of (time, frequency) with axes in seconds and Hz."""

    def __init__(self, plot: pg.PlotItem, title: str, levels: tuple[float, float], colormap: str) -> None:
        plot.setTitle(title)
        plot.setLabel("left", "frequency", units="Hz")
        plot.setLabel("bottom", "time", units="s")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(colormap))
        self.image.setLevels(levels)
        plot.addItem(self.image)
        self.data = np.full((DISPLAY_BINS, HISTORY_COLUMNS), levels[0], dtype=np.float32)
        seconds = HISTORY_COLUMNS * FRAME_S
        self.image.setImage(self.data, autoLevels=False)
        self.image.setRect(-seconds, 0, seconds, MODEL_SAMPLE_RATE_HZ / 2)  # after the image: x in s, y in Hz

    def push(self, columns: np.ndarray) -> None:
        """Append ``(frames, DISPLAY_BINS)`` columns on the right."""
        n = min(len(columns), HISTORY_COLUMNS)
        self.data = np.roll(self.data, -n, axis=1)
        self.data[:, -n:] = columns[-n:].T
        self.image.setImage(self.data, autoLevels=False)


def display_bins(frames: np.ndarray) -> np.ndarray:
    """``(frames, 1025)`` -> ``(frames, DISPLAY_BINS)``: the lowest 1024 bins averaged in fours."""
    return frames[:, : DISPLAY_BINS * 4].reshape(len(frames), DISPLAY_BINS, 4).mean(axis=2)


def display_db(magnitude: np.ndarray) -> np.ndarray:
    """``(frames, 1025)`` linear magnitude -> ``(frames, DISPLAY_BINS)`` in dB (presentation only)."""
    return 20 * np.log10(np.maximum(display_bins(magnitude), 10 ** (MIN_DB / 20)))


class ColumnPacer:
    """A queue of frames ``(n, ...)`` released at ``FRAME_S`` per frame of elapsed display time.

    No credit is saved up while the queue is empty (the next hop starts smoothly), and the queue never
    holds more than two of the latest deliveries (a display that falls behind skips ahead).
    """

    def __init__(self) -> None:
        self.pending: np.ndarray | None = None
        self.credit = 0.0
        self.last_s: float | None = None
        self.backlog_limit = 0

    def add(self, frames: np.ndarray) -> None:
        self.pending = frames if self.pending is None else np.concatenate([self.pending, frames])
        self.backlog_limit = 2 * len(frames)

    def take(self, now_s: float) -> np.ndarray | None:
        """The frames due at ``now_s`` (seconds, monotonic), or None when none are."""
        elapsed = 0.0 if self.last_s is None else now_s - self.last_s
        self.last_s = now_s
        queued = 0 if self.pending is None else len(self.pending)
        self.credit = min(self.credit + elapsed / FRAME_S, queued)
        count = max(int(self.credit), queued - self.backlog_limit)
        self.credit = max(0.0, self.credit - count)
        if count == 0:
            return None
        due, self.pending = self.pending[:count], self.pending[count:]
        return due
