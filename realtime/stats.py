"""Live measurements of the engine: callback time against its budget, time per hop, real-time
factor, dropouts, dropped hops and device xruns. Preallocated; the callback only stores numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

HISTORY = 2048
LITTLE_FOUND_SHARE = 0.05  # an isolated sound under this share of the input's energy: the model found little of it


@dataclass
class EngineStats:
    hop_duration_s: float
    callbacks: int = 0
    callbacks_over_budget: int = 0
    callback_max_s: float = 0.0
    dropouts: int = 0
    dropped_hops: int = 0
    unprocessed_frames: int = 0  # device frames the callback played as the fallback, for want of output
    nonfinite_samples: int = 0  # NaN or infinite samples, in the input or the model's output, silenced
    input_xruns: int = 0
    output_xruns: int = 0
    hops: int = 0
    measured_latency_s: float = float("nan")
    input_peak: float = 0.0
    output_peak: float = 0.0
    sound_share: float = float("nan")  # the separated sound's energy over the input's, over the last second or so
    _hop_times: np.ndarray = field(default_factory=lambda: np.full(HISTORY, np.nan))

    def record_callback(self, frames: int, seconds: float, rate_hz: int | None = None) -> None:
        self.callbacks += 1
        self.callback_max_s = max(self.callback_max_s, seconds)
        if rate_hz and seconds > frames / rate_hz:
            self.callbacks_over_budget += 1

    def record_hops(self, hops: int, seconds: float) -> None:
        for _ in range(hops):
            self._hop_times[self.hops % HISTORY] = seconds / hops
            self.hops += 1

    def recent_hop_s(self, count: int) -> float:
        """The median wall time of the last ``count`` hops, in seconds (nan before the first hop)."""
        taken = min(count, self.hops, HISTORY)
        if not taken:
            return float("nan")
        return float(np.median(self._hop_times[(self.hops - 1 - np.arange(taken)) % HISTORY]))

    def snapshot(self) -> StatsSnapshot:
        """Current figures: hop time percentiles (ms), real-time factor, counters."""
        times = self._hop_times[~np.isnan(self._hop_times)]
        p50, p99 = (np.percentile(times, [50, 99]) * 1000) if len(times) else (np.nan, np.nan)
        return StatsSnapshot(
            hop_ms_p50=float(p50),
            hop_ms_p99=float(p99),
            rtf=float(np.mean(times) / self.hop_duration_s) if len(times) else float("nan"),
            hops=self.hops,
            dropouts=self.dropouts,
            dropped_hops=self.dropped_hops,
            unprocessed_frames=self.unprocessed_frames,
            nonfinite_samples=self.nonfinite_samples,
            callbacks=self.callbacks,
            callbacks_over_budget=self.callbacks_over_budget,
            callback_max_ms=1000 * self.callback_max_s,
            input_xruns=self.input_xruns,
            output_xruns=self.output_xruns,
            measured_latency_ms=1000 * self.measured_latency_s,
            sound_share=self.sound_share,
        )


@dataclass(frozen=True)
class StatsSnapshot:
    """The engine's figures at one moment (times in ms; nan before the first hop or measurement)."""

    hop_ms_p50: float
    hop_ms_p99: float
    rtf: float
    hops: int
    dropouts: int
    dropped_hops: int
    unprocessed_frames: int
    nonfinite_samples: int
    callbacks: int
    callbacks_over_budget: int
    callback_max_ms: float
    input_xruns: int
    output_xruns: int
    measured_latency_ms: float
    sound_share: float


def timing_text(snapshot: StatsSnapshot) -> str:
    """``RTF 0.42 · hop 1.4/5.1 ms (p50/p99)``, or what stands for it before the first hop (never "nan")."""
    if math.isnan(snapshot.rtf):
        return "RTF and hop times: after the first hop"
    return f"RTF {snapshot.rtf:.2f} · hop {snapshot.hop_ms_p50:.1f}/{snapshot.hop_ms_p99:.1f} ms (p50/p99)"


def kept_text(share: float, remove: bool = False) -> str:
    """An output's share of its input's energy: ``kept 42 % of the input's energy``; for an isolated
    sound under :data:`LITTLE_FOUND_SHARE`, also that the model found little of it (it returns little
    rather than pretend). Empty while there is no input to measure."""
    if math.isnan(share):
        return ""
    text = f"kept {_percent(share)} of the input's energy"
    return text + ": the model found little of the described sound" if not remove and share < LITTLE_FOUND_SHARE else text


def sound_share_text(share: float) -> str:
    """The live figure, in either mode: the described sound's share of the input's energy (isolated,
    it is what is heard; removed, what is taken out), and under :data:`LITTLE_FOUND_SHARE` that the
    model found little of it. Empty while there is no input to measure."""
    if math.isnan(share):
        return ""
    text = f"the described sound: {_percent(share)} of the input's energy"
    return text + " (the model found little of it)" if share < LITTLE_FOUND_SHARE else text


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %" if share >= 0.005 else "under 1 %"


def measured_text(measured_latency_ms: float) -> str:
    """``measured 433 ms``, or what stands for it before the audio path has reported one."""
    return "not measured yet" if math.isnan(measured_latency_ms) else f"measured {measured_latency_ms:.0f} ms"
