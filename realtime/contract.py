"""The streaming contract every live separator fills, whatever its network.

A live separator takes mono input at 32 kHz in pieces of any length (``feed``), returns the output
that is final (aligned: output sample ``i`` estimates input sample ``i``), releases the rest on
``flush`` and forgets everything on ``reset``. It declares its hop and its algorithmic latency (the
longest wait of a sample from arrival to release), is conditioned by FiLM offsets of a query
condition (one row per sound, the last ``excluded`` left out), and publishes the frames of its
newest hop for the live views. :mod:`realtime.engine` runs any of them behind the same callback.

- :class:`realtime.streaming.StreamingSeparator`: the ResUNet30 over overlapping windows.
- :class:`realtime.lowlatency_stream.LowLatencyStream`: the streaming-native network, frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from models.resunet import FilmOffsets


@dataclass(frozen=True)
class SpectralFrames:
    """What the newest hop looked like, for live views: ``(frames, bins)`` each, ``frame_samples``
    apart at 32 kHz.

    ``input_magnitude`` is the mixture's STFT magnitude, ``mask`` the magnitude mask (0..1) the network
    applied; ``hop_index`` counts hops so that a viewer can tell new frames from ones it has shown.
    """

    hop_index: int
    input_magnitude: np.ndarray
    mask: np.ndarray
    frame_samples: int


class StreamShape(Protocol):
    """A live separator's timing at 32 kHz."""

    @property
    def hop_samples(self) -> int: ...

    @property
    def latency_samples(self) -> int: ...

    @property
    def latency_ms(self) -> float: ...

    def describe(self) -> str:
        """One line for the terminal and the app: hop, look-ahead and what else shapes the latency."""
        ...


class LiveSeparator(Protocol):
    """The contract (see the module's text). ``infer`` False keeps time moving but outputs silence."""

    settings: StreamShape
    infer: bool
    latest: SpectralFrames | None
    samples_in: int  # input samples that are part of a processed hop

    @property
    def condition(self) -> tuple[FilmOffsets, int]: ...

    @property
    def fallback_reason(self) -> str | None:
        """Why a faster pass is not used, if one was tried (the app shows it)."""
        ...

    def set_condition(self, film: FilmOffsets, excluded: int = 0) -> None: ...

    def warm_up(self) -> None: ...

    def feed(self, samples: np.ndarray) -> np.ndarray: ...

    def flush(self) -> np.ndarray: ...

    def reset(self) -> None: ...


class HopFeeder:
    """``feed`` and ``flush`` of a separator that works in hops of ``settings.hop_samples``: it
    implements ``_process_hop`` (``(H,)`` in, the output released by it out) and keeps ``pending``,
    ``samples_in`` and ``samples_out`` (reset by its ``reset``)."""

    settings: StreamShape
    pending: np.ndarray
    samples_in: int
    samples_out: int

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Take ``(n,)`` float32 input at 32 kHz; return the output samples released by it."""
        self.pending = np.concatenate([self.pending, samples.astype(np.float32, copy=False)])
        released = []
        hop = self.settings.hop_samples
        while len(self.pending) >= hop:
            released.append(self._process_hop(self.pending[:hop]))
            self.pending = self.pending[hop:]
        return np.concatenate(released) if released else np.zeros(0, dtype=np.float32)

    def flush(self) -> np.ndarray:
        """Release everything still held, by feeding silence: the total output equals the total input.

        The stream ends here; ``reset`` before feeding a new one.
        """
        total = self.samples_in + len(self.pending)
        already = self.samples_out
        pieces = [np.zeros(0, dtype=np.float32)]
        while self.samples_out < total:
            pieces.append(self.feed(np.zeros(self.settings.hop_samples - len(self.pending), dtype=np.float32)))
        return np.concatenate(pieces)[: total - already]

    def _process_hop(self, hop_samples: np.ndarray) -> np.ndarray:
        raise NotImplementedError
