"""Scrolling spectrogram views (log frequency, with colour bars), and the pacing that makes them scroll smoothly at the display rate.

The engine publishes one hop of frames at a time (10 ms frames, e.g. 10 of them every 100 ms). Drawn
as they come, the views would jump ten times a second; :class:`ColumnPacer` releases the frames at
the pace they were recorded instead, one or two per display refresh (at the cost of up to a hop of
extra display delay), and catches up if the display falls behind.
"""

from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg

from models.config import HOP_LENGTH, MODEL_SAMPLE_RATE_HZ, N_FREQ_BINS

FRAME_S = HOP_LENGTH / MODEL_SAMPLE_RATE_HZ
HISTORY_COLUMNS = 400  # 4 s of 10 ms frames
DISPLAY_BINS = 256  # rows, spaced evenly in log frequency
LOWEST_HZ, HIGHEST_HZ = 40.0, MODEL_SAMPLE_RATE_HZ / 2
TICKS_HZ = (50, 100, 200, 500, 1000, 2000, 5000, 10000)
MIN_DB = -80.0


@functools.cache
def log_frequency_weights(n_fft_bins: int = N_FREQ_BINS, rows: int = DISPLAY_BINS) -> np.ndarray:
    """``(n_fft_bins, rows)``: each row averages the STFT bins between its edges (geometric midpoints
    of log-spaced centres from ``LOWEST_HZ`` to ``HIGHEST_HZ``); a row narrower than a bin takes the
    nearest bin. Columns sum to one."""
    bin_hz = np.linspace(0, MODEL_SAMPLE_RATE_HZ / 2, n_fft_bins)
    edges_hz = np.geomspace(LOWEST_HZ, HIGHEST_HZ, rows + 1)
    weights = np.zeros((n_fft_bins, rows), dtype=np.float32)
    for row in range(rows):
        inside = (bin_hz >= edges_hz[row]) & (bin_hz < edges_hz[row + 1])
        if inside.any():
            weights[inside, row] = 1.0 / inside.sum()
        else:
            weights[np.argmin(np.abs(bin_hz - np.sqrt(edges_hz[row] * edges_hz[row + 1]))), row] = 1.0
    return weights


class SpectrogramView:
    """A scrolling image of (time, frequency): time in seconds, frequency on a log axis in Hz, and a
    colour bar saying what the colours mean."""

    def __init__(self, plot: pg.PlotItem, title: str, levels: tuple[float, float], colormap: str, unit: str) -> None:
        plot.setTitle(title)
        plot.setLabel("left", "frequency (Hz)")
        plot.setLabel("bottom", "time", units="s")
        plot.getAxis("left").setTicks([[(np.log10(hz), f"{hz // 1000}k" if hz >= 1000 else str(hz)) for hz in TICKS_HZ]])
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.data = np.full((DISPLAY_BINS, HISTORY_COLUMNS), levels[0], dtype=np.float32)
        seconds = HISTORY_COLUMNS * FRAME_S
        self.image.setImage(self.data, autoLevels=False)
        low, high = np.log10(LOWEST_HZ), np.log10(HIGHEST_HZ)
        self.image.setRect(-seconds, low, seconds, high - low)  # after the image: x in s, y in log10(Hz)
        self.legend = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(colormap), interactive=False, label=unit)
        self.legend.setImageItem(self.image, insert_in=plot)

    def push(self, columns: np.ndarray) -> None:
        """Append ``(frames, DISPLAY_BINS)`` columns on the right."""
        n = min(len(columns), HISTORY_COLUMNS)
        self.data = np.roll(self.data, -n, axis=1)
        self.data[:, -n:] = columns[-n:].T
        self.image.setImage(self.data, autoLevels=False)


def display_bins(frames: np.ndarray) -> np.ndarray:
    """``(frames, bins)`` (1025 for the ResUNet, 193 for the low-latency model) -> ``(frames,
    DISPLAY_BINS)`` on the log frequency axis (linear values kept: a mask of 0.1 stays 0.1)."""
    return frames @ log_frequency_weights(frames.shape[-1])


def display_columns(frames: np.ndarray, frame_samples: int) -> np.ndarray:
    """``(frames, ...)`` spaced ``frame_samples`` apart at 32 kHz -> the display's 10 ms columns:
    the frame under each column (frames of 4 ms: 5 make 2 columns)."""
    if frame_samples == HOP_LENGTH:
        return frames
    columns = len(frames) * frame_samples // HOP_LENGTH
    return frames[np.arange(columns) * HOP_LENGTH // frame_samples]


def display_db(magnitude: np.ndarray) -> np.ndarray:
    """``(frames, bins)`` linear magnitude -> ``(frames, DISPLAY_BINS)`` in dB (presentation only)."""
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
