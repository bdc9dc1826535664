"""Block-streaming separation at 32 kHz: ``feed`` any number of samples, ``flush`` the rest, ``reset``.

Every hop of ``H`` new samples, the network runs on the last ``W`` samples of context. Of its output,
the region that ends ``L`` samples (the look-ahead) before the newest input is kept: ``H + X`` samples
weighted by a window whose fades over ``X`` (the crossfade) sum to one with the neighbouring hops,
and overlap-added. Output is aligned with the input (output sample ``i`` estimates input sample
``i``) and is final ``L + X`` samples behind the newest input; a sample waits at most ``H + L + X``
samples from arrival to release: that is the algorithmic latency.

A change of query applies from the next hop and is crossfaded over ``X``. The output is the estimated
target; mixing with the dry signal is done at the device rate by :mod:`realtime.engine`. State is
explicit attributes; nothing here is threaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.config import HOP_LENGTH, UNPADDED_SEGMENT_SAMPLES, samples_to_ms
from models.errors import UserError
from models.resunet import FilmOffsets, ResUNet30
from models.windowing import fade_window
from realtime.contract import HopFeeder, SpectralFrames
from realtime.window_pass import CudaGraphWindowPass, window_pass


@dataclass(frozen=True)
class StreamSettings:
    """Window, hop, look-ahead and crossfade in samples at 32 kHz.

    The default window of 127 hops + 1 gives 128 STFT frames, which the U-Net needs without padding.
    """

    window_samples: int = UNPADDED_SEGMENT_SAMPLES
    hop_samples: int = 3200
    lookahead_samples: int = 3200
    crossfade_samples: int = 3200

    def __post_init__(self) -> None:
        if not 0 < self.crossfade_samples <= self.hop_samples:
            raise UserError("the crossfade must be positive and at most one hop")
        if self.window_samples < self.hop_samples + self.crossfade_samples + self.lookahead_samples:
            raise UserError("the window must hold the hop, the crossfade and the look-ahead")

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: the longest wait of a sample from arrival to release."""
        return self.hop_samples + self.lookahead_samples + self.crossfade_samples

    @property
    def latency_ms(self) -> float:
        return samples_to_ms(self.latency_samples)

    def describe(self) -> str:
        return (
            f"hop {samples_to_ms(self.hop_samples):g} ms, look-ahead {samples_to_ms(self.lookahead_samples):.1f} ms, "
            f"crossfade {samples_to_ms(self.crossfade_samples):g} ms"
        )


def runs_cuda_graph(separator: object) -> bool:
    """Whether a live separator is the ResUNet's streamer replaying a captured CUDA graph."""
    return isinstance(separator, StreamingSeparator) and isinstance(separator.window_pass, CudaGraphWindowPass)


class StreamingSeparator(HopFeeder):
    """The streaming core of the ResUNet30 (a :class:`realtime.contract.LiveSeparator`): holds
    context, runs one forward pass per hop, overlap-adds the output."""

    def __init__(self, net: ResUNet30, film: FilmOffsets, settings: StreamSettings = StreamSettings()) -> None:
        self.net = net.eval()
        self.settings = settings
        self.window_pass = window_pass(self.net, film, settings)
        self.infer = True  # False: keep the context moving but skip the network (output silence)
        self.latest: SpectralFrames | None = None  # replaced (never mutated) once per hop
        s = settings
        self._region = s.hop_samples + s.crossfade_samples
        self._window = fade_window(self._region, s.crossfade_samples)
        self.reset()

    @property
    def film(self) -> FilmOffsets:
        """The FiLM offsets of the query in use."""
        return self.window_pass.film

    @property
    def condition(self) -> tuple[FilmOffsets, int]:
        """The FiLM offsets of the query in use, and how many of their rows are left out."""
        return self.window_pass.condition

    @property
    def fallback_reason(self) -> str | None:
        return self.window_pass.fallback_reason

    def reset(self) -> None:
        """Forget all audio: the next sample fed is sample 0 of a new stream."""
        s = self.settings
        self.context = np.zeros(s.window_samples, dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)  # input not yet part of a hop
        self.samples_in = 0  # input samples that are part of a processed hop
        self.samples_out = 0  # output samples released
        length = s.window_samples + self._region
        self.accumulator = np.zeros(length, dtype=np.float32)  # indexed from self.samples_out
        self.weights = np.zeros(length, dtype=np.float32)

    def warm_up(self) -> None:
        """Run the network once at the window's shape: the first pass of a shape pays one-off set-up
        (oneDNN primitives, CUDA kernels), which must not land on the first hop of a live stream."""
        self.window_pass.warm_up()

    def set_condition(self, film: FilmOffsets, excluded: int = 0) -> None:
        """Swap the query's FiLM offsets (one row per sound, the last ``excluded`` left out); used from
        the next hop (a reference swap, atomic)."""
        self.window_pass.set_condition(film, excluded)

    def _process_hop(self, hop_samples: np.ndarray) -> np.ndarray:
        s = self.settings
        self.context = np.concatenate([self.context[s.hop_samples :], hop_samples])
        self.samples_in += s.hop_samples
        region = self._estimate(self.context)
        # Output region [end - L - H - X, end - L) in stream positions, end = self.samples_in.
        region_start = self.samples_in - s.lookahead_samples - self._region
        offset = region_start - self.samples_out
        # Early in a stream the region may begin (or lie wholly) before sample 0: that part is dropped.
        skip = min(self._region, max(0, -region_start))
        piece = region[skip:] * self._window[skip:]
        self.accumulator[offset + skip : offset + self._region] += piece
        self.weights[offset + skip : offset + self._region] += self._window[skip:]
        ready = max(0, region_start + s.hop_samples - self.samples_out)
        return self._release(ready)

    def _release(self, count: int) -> np.ndarray:
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        out = self.accumulator[:count] / np.maximum(self.weights[:count], 1e-12)
        for buffer in (self.accumulator, self.weights):
            buffer[:-count] = buffer[count:].copy()
            buffer[-count:] = 0.0
        self.samples_out += count
        return out

    def _estimate(self, window: np.ndarray) -> np.ndarray:
        """``(W,)`` context -> the ``(H + X,)`` output region of this hop; publishes the newest frames."""
        if not self.infer:
            return np.zeros(self._region, dtype=np.float32)
        region, magnitude, mask = self.window_pass.run(window)
        self.latest = SpectralFrames(self.samples_in // self.settings.hop_samples, magnitude, mask, HOP_LENGTH)
        return region
