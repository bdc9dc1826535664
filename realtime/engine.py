"""The real-time engine: an audio callback that only copies, and a worker thread that separates.

Positions are absolute sample counts at the device rate, and the output is aligned with the input:
output position ``p`` is the separation of input position ``p``. Each callback appends its input
block to the input ring and plays positions ``[c - M, c - M + frames)``, ``c`` being the input
count before the block: the latency is ``M`` samples by construction, plus the device's own
buffering. ``M`` covers one block, the algorithmic latency (hop + look-ahead + crossfade), the
resamplers' delay and a margin for compute (one hop unless the settings give it), which gives the
worker whole blocks of time (:attr:`LatencyBudget.worker_blocks`).

The dry signal never leaves the device rate: the worker mixes ``a * dry + b * target`` there
(isolate: ``a = 1 - wet, b = wet``; remove: ``a = 1, b = -wet``; bypass: ``a = 1, b = 0``), ramping
the gains over each chunk so that switching never clicks.

When the worker has not produced a position in time, the callback plays the fallback (the dry
input at the same delay, or silence: :mod:`realtime.fallback` says which for each mode) and counts
a dropout; a worker that falls more than ``M`` behind skips to the newest input, counts the hops
it dropped, and starts afresh: it catches up instead of drifting. The callback never waits on the worker and allocates nothing.
"""

from __future__ import annotations

import functools
import gc
import math
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from audio.files import stream_resampler
from audio.low_delay import LowDelayResampler
from models.config import MODEL_SAMPLE_RATE_HZ
from models.networks import SeparationNet
from models.lowlatency import LowLatencyNet
from models.resunet import FilmOffsets
from realtime.contract import LiveSeparator, StreamShape
from realtime.errors import EngineFailure
from realtime.fallback import FALLBACK_GAINS, Fallback, fallback_for
from realtime.ring import SampleRing
from realtime.lowlatency_stream import LowLatencyStream
from realtime.stats import EngineStats
from realtime.streaming import StreamingSeparator, StreamSettings

WORKER_POLL_S = 0.001
# Python hands its interpreter lock from thread to thread every 5 ms by default, so a view drawing in
# Python (pyqtgraph) can hold the worker off that long each time it wakes: most of the low-latency
# model's few milliseconds of margin. While a stream runs, the lock changes hands at least this often.
WORKER_SWITCH_INTERVAL_S = 0.001
SOUND_SHARE_WINDOW_S = 1.0  # the separated sound's share of the input is judged over about this long
SILENT_RMS = 1e-4  # an input quieter than this (-80 dBFS) over that window has no share to judge
DEFAULT_BLOCK_FRAMES = 512  # device frames per callback where nothing chose the block
RESAMPLER_PROBE_PIECES = 200  # 10 ms pieces: two seconds, many of soxr's output blocks


@dataclass(frozen=True)
class Controls:
    """What the user steers: isolate or remove, dry/wet mix (1 = all processed), bypass."""

    remove: bool = False
    wet: float = 1.0
    bypass: bool = False
    output_gain: float = 1.0

    def gains(self) -> tuple[float, float]:
        """(dry gain, target gain) of the output mix, output gain included."""
        if self.bypass:
            return self.output_gain, 0.0
        dry, target = (1.0, -self.wet) if self.remove else (1.0 - self.wet, self.wet)
        return self.output_gain * dry, self.output_gain * target


@dataclass(frozen=True)
class EngineSettings:
    """``stream``: the ResUNet's :class:`StreamSettings`, or a low-latency network's own config.
    ``low_delay_resampling``: :mod:`audio.low_delay` between the device and the model (under 1 ms
    held back) instead of soxr's high quality (up to 37 ms)."""

    device_rate_hz: int = 48_000
    block_frames: int = DEFAULT_BLOCK_FRAMES
    stream: StreamShape = field(default_factory=StreamSettings)
    compute_margin_ms: float | None = None  # time the worker may take for a hop; None: one hop
    fallback: Fallback | None = None  # None: the measured default of each mode
    low_delay_resampling: bool = False


class Resampler(Protocol):
    def resample_chunk(self, samples: np.ndarray) -> np.ndarray: ...


def engine_resampler(from_hz: int, to_hz: int, low_delay: bool) -> Resampler | None:
    """The worker's streaming resampler of one channel (None when the rates match)."""
    if from_hz == to_hz:
        return None
    return LowDelayResampler(from_hz, to_hz) if low_delay else stream_resampler(from_hz, to_hz, 1)


def live_separator(net: SeparationNet, film: FilmOffsets, stream: StreamShape, excluded: int = 0) -> LiveSeparator:
    """The streaming core for ``net``: the ResUNet over windows of ``stream``, or the low-latency
    network frame by frame (``stream`` must then be its config)."""
    if isinstance(net, LowLatencyNet):
        if stream != net.config:
            raise ValueError(f"the low-latency network streams at its own settings ({net.config.describe()}), not {stream.describe()}")
        return LowLatencyStream(net, film, excluded)
    if not isinstance(stream, StreamSettings):
        raise ValueError(f"the ResUNet streams over windows: give it StreamSettings, not {stream.describe()}")
    separator = StreamingSeparator(net, film, stream)
    separator.set_condition(film, excluded)
    return separator


@functools.cache
def resampler_lag_samples(from_hz: int, to_hz: int, low_delay: bool = False) -> int:
    """The most output samples the worker's streaming resampler (soxr's, or with ``low_delay``
    :mod:`audio.low_delay`'s) holds back, fed as the worker feeds it.

    soxr returns its output in bursts of its own block: measured here with 10 ms pieces over two
    seconds, it holds back up to ~18 ms between 48 and 32 kHz, three times what one whole second fed
    at once shows (6 ms). The engine's latency must cover the most, or output arrives after it is due
    even with compute to spare."""
    stream = engine_resampler(from_hz, to_hz, low_delay)
    if stream is None:
        return 0
    piece = np.zeros(from_hz // 100, dtype=np.float32)
    fed = made = most = 0
    for _ in range(RESAMPLER_PROBE_PIECES):
        fed += len(piece)
        made += len(stream.resample_chunk(piece))
        most = max(most, math.ceil(fed * to_hz / from_hz) - made)
    return most


def round_trip_lag_samples(device_rate_hz: int, low_delay: bool = False) -> float:
    """Device samples that the two streaming resamplers (device rate -> 32 kHz -> device rate) hold back."""
    to_model = resampler_lag_samples(device_rate_hz, MODEL_SAMPLE_RATE_HZ, low_delay) * device_rate_hz / MODEL_SAMPLE_RATE_HZ
    return to_model + resampler_lag_samples(MODEL_SAMPLE_RATE_HZ, device_rate_hz, low_delay)


@dataclass(frozen=True)
class LatencyBudget:
    """An engine's latency ``M`` in device samples, by part (the one place it is computed)."""

    block_samples: int
    algorithmic_samples: int  # hop + look-ahead + crossfade, and the resamplers' most held-back output
    compute_margin_samples: int

    @property
    def total_samples(self) -> int:
        return self.block_samples + self.algorithmic_samples + self.compute_margin_samples

    def total_s(self, rate_hz: int) -> float:
        return self.total_samples / rate_hz

    @property
    def worker_blocks(self) -> int:
        """Callback periods the worker has for each block of input, from the callback that brings it to
        the one that plays the last output it completes. A margin buys them whole: ``m`` samples give
        ``m // block + 1``, and the samples between two multiples of the block buy latency, not time
        (tests/test_lowlatency.py runs the worker once every few callbacks to show it)."""
        return self.compute_margin_samples // self.block_samples + 1

    def worker_time_s(self, rate_hz: int) -> float:
        return self.worker_blocks * self.block_samples / rate_hz


def margin_ms_of_samples(samples: int, device_rate_hz: int) -> float:
    """The ``compute_margin_ms`` that makes a margin of exactly ``samples`` device samples
    (:func:`latency_budget` rounds a margin in ms up to whole samples)."""
    return 1000 * max(0.0, samples - 0.5) / device_rate_hz


def latency_budget(settings: EngineSettings) -> LatencyBudget:
    """The latency an engine with ``settings`` has: one block, the algorithmic latency with the
    resamplers' delay, and the compute margin (one hop unless the settings give it)."""
    rate = settings.device_rate_hz
    to_device = rate / MODEL_SAMPLE_RATE_HZ
    stream, margin_ms = settings.stream, settings.compute_margin_ms
    return LatencyBudget(
        settings.block_frames,
        math.ceil(stream.latency_samples * to_device + round_trip_lag_samples(rate, settings.low_delay_resampling)),
        math.ceil(stream.hop_samples * to_device if margin_ms is None else margin_ms * rate / 1000),
    )


class Engine:
    """Duplex processing of one mono channel; ``process_block`` is the body of the audio callback."""

    def __init__(
        self,
        net: SeparationNet,
        film: FilmOffsets,
        settings: EngineSettings = EngineSettings(),
        controls: Controls = Controls(),
        excluded: int = 0,
    ) -> None:
        """``film``: one row per sound, the last ``excluded`` left out of the rest."""
        self.settings = settings
        self.net = net
        self.separator = live_separator(net, film, settings.stream, excluded)
        self.separator.warm_up()  # before any audio: the first hop must not pay one-off set-up
        rate = settings.device_rate_hz
        stream = settings.stream
        self.budget = budget = latency_budget(settings)  # by part, for what reports the latency
        self.algorithmic_latency_samples = budget.algorithmic_samples
        self.compute_margin_samples = budget.compute_margin_samples
        self.latency_samples = budget.total_samples
        capacity = 1 << math.ceil(math.log2(8 * self.latency_samples + 4 * settings.block_frames + rate))
        self.input_ring = SampleRing(capacity)
        self.output_ring = SampleRing(capacity)
        self.played_ring = SampleRing(capacity)  # what the callback played, block by block
        self.stats = EngineStats(hop_duration_s=stream.hop_samples / MODEL_SAMPLE_RATE_HZ)
        self._read_position = 0
        self._running = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self._switch_interval_before_s = sys.getswitchinterval()  # restored by stop()
        self.failure: BaseException | None = None  # why the worker stopped, if it did
        self.controls = controls
        self._fallback_gain = FALLBACK_GAINS[self.fallback]
        self._gains = controls.gains()
        self._input_energy = self._target_energy = 0.0
        self._reset_stream(0)

    def sibling(self) -> Engine:
        """A new engine with this one's net, condition, settings and controls (another channel)."""
        film, excluded = self.separator.condition
        return Engine(self.net, film, self.settings, self.controls, excluded)

    @property
    def fallback(self) -> Fallback:
        """What the callback plays where the output is late, in the current mode."""
        return fallback_for(self.controls.remove, self.controls.bypass, self.settings.fallback)

    @property
    def latency_s(self) -> float:
        return self.latency_samples / self.settings.device_rate_hz

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency_s

    # --- controls, from any thread -------------------------------------------------------
    def set_condition(self, film: FilmOffsets, excluded: int = 0) -> None:
        self.separator.set_condition(film, excluded)

    def set_controls(self, **changes: object) -> None:
        """Change ``remove``, ``wet`` or ``bypass``; ramped in over the next chunk."""
        self.controls = replace(self.controls, **changes)
        self._fallback_gain = FALLBACK_GAINS[self.fallback]

    # --- the audio callback --------------------------------------------------------------
    def process_block(self, indata: np.ndarray, outdata: np.ndarray) -> None:
        """Copy ``indata`` in and the aligned, delayed output out; count a dropout if it is late."""
        started = time.perf_counter()
        frames = len(indata)
        captured = self.input_ring.written
        self.input_ring.write(indata)
        position = captured - self.latency_samples
        available = self.output_ring.read_into(outdata, position)
        if available < frames:
            outdata[:] = 0.0
            gain = self._fallback_gain
            if gain > 0.0:
                self.input_ring.read_into(outdata, position)
                outdata *= gain
            self.output_ring.read_into(outdata, position)
            if position >= 0:
                self.stats.dropouts += 1
            self.stats.unprocessed_frames += max(0, frames - max(0, -position) - available)
        self.played_ring.write(outdata)
        self.stats.record_callback(frames, time.perf_counter() - started, self.settings.device_rate_hz)

    # --- the worker ----------------------------------------------------------------------
    def start(self) -> None:
        # The model and its libraries are loaded: while the worker runs, their ~300 000 objects sit in
        # the collector's permanent generation, so that a full collection never pauses the worker for
        # the 50-120 ms it took to scan them (measured here), which a 30 ms latency cannot absorb.
        # What earlier streams left behind is collected first, or it would be frozen with the rest.
        gc.collect()
        gc.freeze()
        self._switch_interval_before_s = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval_before_s, WORKER_SWITCH_INTERVAL_S))
        self._running = True
        self._thread = threading.Thread(target=self._work, name="separation-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join()
        gc.unfreeze()  # what this stream held can be collected once it lets go
        sys.setswitchinterval(self._switch_interval_before_s)

    def work_once(self) -> int:
        """Process all input that has arrived; returns the number of input samples taken."""
        written = self.input_ring.written
        backlog = written - self._read_position
        if backlog <= 0 or self.failure is not None:
            return 0
        if backlog > self.latency_samples and self._read_position > 0:
            self._skip_to(written)
            return backlog
        self._busy = True
        chunk = np.zeros(backlog, dtype=np.float32)
        self.input_ring.read_into(chunk, self._read_position)
        self._read_position = written
        started = time.perf_counter()
        hops_before = self.separator.samples_in
        self.separator.infer = not (self.controls.bypass and self._gains[1] == 0.0)
        chunk = self._silence_nonfinite(chunk)
        model_in = self._to_model.resample_chunk(chunk) if self._to_model else chunk
        model_out = self._silence_nonfinite(self.separator.feed(model_in))
        target = self._to_device.resample_chunk(model_out) if self._to_device else model_out
        self.output_ring.write(self._mix(target, self.output_ring.written))
        self._busy = False
        hops = (self.separator.samples_in - hops_before) // self.settings.stream.hop_samples
        if hops:
            self.stats.record_hops(hops, time.perf_counter() - started)
        return backlog

    def _silence_nonfinite(self, samples: np.ndarray) -> np.ndarray:
        """NaN or infinite samples (a broken input, a diverged model) become silence and are counted:
        they never reach the network's context or the speakers."""
        bad = ~np.isfinite(samples)
        if bad.any():
            samples[bad] = 0.0
            self.stats.nonfinite_samples += int(bad.sum())
        return samples

    def _mix(self, target: np.ndarray, position: int) -> np.ndarray:
        """``a * dry + b * target`` for positions from ``position``, gains ramped from the last chunk's."""
        dry = np.zeros(len(target), dtype=np.float32)
        self.input_ring.read_into(dry, position)
        new = self.controls.gains()
        dry_gain, target_gain = self._gain_ramps(new, len(target))
        self._gains = new
        dry_energy = float(np.dot(dry, dry))
        if not math.isfinite(dry_energy):  # a broken input: checked through the energy, which the share needs anyway
            dry = np.nan_to_num(dry, nan=0.0, posinf=0.0, neginf=0.0)
            dry_energy = float(np.dot(dry, dry))
        out = dry_gain * dry + target_gain * target
        self._update_sound_share(len(dry), dry_energy, float(np.dot(target, target)))
        if len(out):
            self.stats.input_peak = float(np.abs(dry).max())
            self.stats.output_peak = float(np.abs(out).max())
        return out

    def _gain_ramps(self, new: tuple[float, float], frames: int) -> tuple[np.ndarray | float, np.ndarray | float]:
        """The dry and target gains over ``frames`` samples: ramps from the last chunk's gains to
        ``new`` (0 to 1 across the chunk), or plain numbers where they did not change (most chunks)."""
        if new == self._gains:
            return new
        ramp = np.arange(frames, dtype=np.float32) / np.float32(max(1, frames - 1))
        return tuple(old + (gain - old) * ramp for old, gain in zip(self._gains, new))

    def _update_sound_share(self, frames: int, input_energy: float, target_energy: float) -> None:
        """The separated sound's energy over the input's (sums of squares over the latest ``frames``),
        both leaking away over :data:`SOUND_SHARE_WINDOW_S` (nan while the input is silent)."""
        keep = math.exp(-frames / (SOUND_SHARE_WINDOW_S * self.settings.device_rate_hz))
        self._input_energy = keep * self._input_energy + input_energy
        self._target_energy = keep * self._target_energy + target_energy
        silent = self._input_energy < SILENT_RMS**2 * SOUND_SHARE_WINDOW_S * self.settings.device_rate_hz
        self.stats.sound_share = float("nan") if silent else self._target_energy / self._input_energy

    def worker_idle(self) -> bool:
        """True when the worker has taken all input and is not processing."""
        return not self._busy and self._read_position >= self.input_ring.written

    def check(self) -> None:
        """Raise :class:`EngineFailure` if the worker has stopped on an error."""
        if self.failure is not None:
            raise EngineFailure(f"the separation worker stopped: {self.failure!r}") from self.failure

    def _work(self) -> None:
        try:
            while self._running:
                if not self.work_once():
                    time.sleep(WORKER_POLL_S)
        except Exception as error:  # kept for the owner (check, status), never swallowed
            self.failure = error

    def _skip_to(self, position: int) -> None:
        hop_device = self.settings.stream.hop_samples * self.settings.device_rate_hz / MODEL_SAMPLE_RATE_HZ
        self.stats.dropped_hops += math.ceil((position - self._read_position) / hop_device)
        self._reset_stream(position)

    def _reset_stream(self, position: int) -> None:
        """Start a fresh stream at input ``position``: new resamplers and context, output aligned there."""
        rate = self.settings.device_rate_hz
        self.separator.reset()
        low_delay = self.settings.low_delay_resampling
        self._to_model = engine_resampler(rate, MODEL_SAMPLE_RATE_HZ, low_delay)
        self._to_device = engine_resampler(MODEL_SAMPLE_RATE_HZ, rate, low_delay)
        self._read_position = position
        self.output_ring.seek(position)
