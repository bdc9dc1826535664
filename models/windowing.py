"""Separation of audio of any length: one pass up to a segment, overlapping segments beyond.

Each segment's output is weighted by :func:`fade_window` (raised-cosine fades over the overlap, flat
between; the live stream's crossfade is the same window) and the sum is divided by the summed
weights, so the crossfade is exact for any overlap and seam-free.
Every segment is a full-length forward pass (the last one is aligned to the end of the signal), and
only one segment's activations are alive at a time: memory is flat in the signal's length.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from models.config import MAX_SEGMENT_SAMPLES, MODEL_SAMPLE_RATE_HZ
from models.errors import UserError

DEFAULT_OVERLAP_SAMPLES = 2 * MODEL_SAMPLE_RATE_HZ

SegmentFn = Callable[[torch.Tensor], torch.Tensor]
"""Separates one segment: ``(batch, 1, samples)`` -> ``(batch, 1, samples)``."""


def fade_window(length: int, fade: int, fade_in: bool = True, fade_out: bool = True) -> np.ndarray:
    """``(length,)`` float32: raised-cosine fade-in and fade-out over ``fade`` samples, flat between.
    Every overlap-add of this project uses it: windows overlapping by ``fade`` sum to exactly one."""
    window = np.ones(length, dtype=np.float32)
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32)
    if fade_in:
        window[:fade] = ramp
    if fade_out:
        window[-fade:] = ramp[::-1]
    return window


def fade_weights(segment: int, overlap: int, first: bool, last: bool) -> torch.Tensor:
    """``(segment,)`` :func:`fade_window` of a segment: no fade at the signal's ends."""
    return torch.from_numpy(fade_window(segment, overlap, fade_in=not first, fade_out=not last))


class SegmentStream:
    """Overlapping segments over a signal that arrives in pieces.

    :meth:`push` takes the next ``(..., samples)`` of the mixture and returns the output samples that no
    later segment can change, in order; :meth:`finish` returns the rest. Together they return exactly
    the whole signal's overlap-add (a signal up to one segment: one direct pass), while holding only
    about one segment of input and output: a file of any length is separated in bounded memory. ``separate_segment`` maps
    ``(..., segment)`` to ``(..., segment)``; the output's leading shape may differ from the input's.
    """

    def __init__(
        self,
        separate_segment: SegmentFn,
        segment_samples: int = MAX_SEGMENT_SAMPLES,
        overlap_samples: int = DEFAULT_OVERLAP_SAMPLES,
    ) -> None:
        if not 0 < overlap_samples < segment_samples:
            raise ValueError(f"overlap ({overlap_samples}) must be between 0 and the segment ({segment_samples})")
        self.separate_segment = separate_segment
        self.segment, self.overlap = segment_samples, overlap_samples
        self.received = 0  # mixture samples pushed so far
        self.segments = 0  # segments separated so far
        self._next_start = 0  # where the next regular (not end-aligned) segment starts
        self._input: torch.Tensor | None = None  # the mixture from ``_input_start`` on
        self._input_start = 0
        self._output: torch.Tensor | None = None  # weighted output sums from ``_done`` on
        self._weights = torch.zeros(0)
        self._done = 0  # output samples returned so far

    def push(self, piece: torch.Tensor) -> torch.Tensor:
        """Append ``(..., samples)`` of mixture; returns the finished output samples (maybe none)."""
        self._input = piece if self._input is None else torch.cat([self._input, piece], dim=-1)
        self.received += piece.shape[-1]
        # A regular segment is certain once a sample beyond it arrived (else the end-aligned one covers it).
        while self.received > self._next_start + self.segment:
            self._add_segment(self._next_start, last=False)
            self._next_start += self.segment - self.overlap
        # The end-aligned segment will start at (total - segment) >= (received - segment).
        return self._release(min(self._next_start, self.received - self.segment))

    def finish(self) -> torch.Tensor:
        """The output after the last push: the end-aligned segment (or one pass, if it all fits in one)."""
        if self._input is None:
            raise UserError("nothing to separate: no samples were pushed")
        if self.segments == 0:  # up to one segment: one pass, identical to a direct call
            self._output = self.separate_segment(self._input)
            self._weights = torch.ones(self.received)
            self.segments = 1
        else:
            self._add_segment(self.received - self.segment, last=True)
        return self._release(self.received)

    def _add_segment(self, start: int, last: bool) -> None:
        offset = start - self._input_start
        piece = self.separate_segment(self._input[..., offset : offset + self.segment])
        weights = fade_weights(self.segment, self.overlap, self.segments == 0, last).to(piece.dtype)
        end = start + self.segment - self._done  # in the accumulators
        if self._output is None:
            self._output = torch.zeros(piece.shape[:-1] + (0,), dtype=piece.dtype)
        grow = end - self._output.shape[-1]
        if grow > 0:
            self._output = torch.cat([self._output, self._output.new_zeros(self._output.shape[:-1] + (grow,))], dim=-1)
            self._weights = torch.cat([self._weights, self._weights.new_zeros(grow)])
        self._output[..., end - self.segment : end] += piece * weights
        self._weights[end - self.segment : end] += weights
        self.segments += 1

    def _release(self, until: int) -> torch.Tensor:
        """Return the output up to sample ``until`` (normalized by the summed fades) and let it go."""
        count = max(0, until - self._done)
        if self._output is None:
            return torch.zeros(0)
        released = self._output[..., :count] / self._weights[:count]
        self._output, self._weights = self._output[..., count:], self._weights[count:]
        self._done += count
        keep_from = min(self._next_start, self.received - self.segment)
        if keep_from > self._input_start:
            self._input = self._input[..., keep_from - self._input_start :]
            self._input_start = keep_from
        return released
