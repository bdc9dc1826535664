"""Separation of audio of any length: one pass up to a segment, overlapping segments beyond.

Each segment's output is weighted by a trapezoid (linear fades over the overlap, flat between) and
the sum is divided by the summed weights, so the crossfade is exact for any overlap and seam-free.
Every segment is a full-length forward pass (the last one is aligned to the end of the signal), and
only one segment's activations are alive at a time: memory is flat in the signal's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from models.config import MAX_SEGMENT_SAMPLES, MODEL_SAMPLE_RATE_HZ

DEFAULT_OVERLAP_SAMPLES = 2 * MODEL_SAMPLE_RATE_HZ

SegmentFn = Callable[[torch.Tensor], torch.Tensor]
"""Separates one segment: ``(batch, 1, samples)`` -> ``(batch, 1, samples)``."""


def segment_starts(total: int, segment: int, overlap: int) -> list[int]:
    """Start offsets of full-length segments covering ``total`` samples, the last one ending at it."""
    if total <= segment:
        return [0]
    hop = segment - overlap
    starts = list(range(0, total - segment, hop))
    return starts + [total - segment]


def fade_weights(segment: int, overlap: int, first: bool, last: bool) -> torch.Tensor:
    """``(segment,)`` trapezoid: linear fade-in/out over ``overlap`` samples except at the signal's ends."""
    weights = torch.ones(segment)
    ramp = torch.arange(1, overlap + 1, dtype=torch.float32) / (overlap + 1)
    if not first:
        weights[:overlap] = ramp
    if not last:
        weights[-overlap:] = ramp.flip(0)
    return weights


def separate_long(
    separate_segment: SegmentFn,
    mixture: torch.Tensor,
    segment_samples: int = MAX_SEGMENT_SAMPLES,
    overlap_samples: int = DEFAULT_OVERLAP_SAMPLES,
    progress: Callable[[Iterable[int]], Iterable[int]] = iter,
) -> torch.Tensor:
    """Separate ``(batch, 1, samples)`` of any length with overlapping segments.

    Signals up to ``segment_samples`` go through in one pass, identical to a direct call. ``progress``
    wraps the iteration over segment starts (e.g. a tqdm bar).
    """
    total = mixture.shape[-1]
    if total <= segment_samples:
        return separate_segment(mixture)
    if not 0 < overlap_samples < segment_samples:
        raise ValueError(f"overlap ({overlap_samples}) must be between 0 and the segment ({segment_samples})")
    starts = segment_starts(total, segment_samples, overlap_samples)
    output = torch.zeros_like(mixture)
    weight_sum = torch.zeros(total, dtype=mixture.dtype)
    for index in progress(range(len(starts))):
        start = starts[index]
        weights = fade_weights(segment_samples, overlap_samples, index == 0, index == len(starts) - 1)
        piece = separate_segment(mixture[..., start : start + segment_samples])
        output[..., start : start + segment_samples] += piece * weights
        weight_sum[start : start + segment_samples] += weights
    return output / weight_sum
