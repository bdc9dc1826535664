"""Offline separation of audio that arrives in blocks: a file of any length in bounded memory.

Blocks at the input's rate are resampled to 32 kHz with soxr's streaming resampler, segmented by
:class:`models.windowing.SegmentStream` (overlapping 10 s segments, crossfaded), and resampled back, so that the result equals one pass over the whole signal sample for sample, while
only about one 10 s segment of audio is held, whatever the length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from audio.files import stream_resampler
from models.batching import BatchingNet
from models.config import MAX_SEGMENT_SAMPLES, MODEL_SAMPLE_RATE_HZ, MODES, N_FFT
from models.errors import UserError
from models.resunet import FilmOffsets, ResUNet30
from models.windowing import DEFAULT_OVERLAP_SAMPLES, SegmentStream

MIN_MODEL_SAMPLES = N_FFT // 2 + 1  # what the centred STFT's reflect padding needs

Mode = Literal["isolate", "remove"]


@dataclass(frozen=True)
class Combination:
    """One output made of ``conditions`` consecutive condition rows: the sum of the sounds of the first
    ``conditions - excluded``, without the last ``excluded`` (:meth:`ResUNet30.separate_combined`)."""

    conditions: int = 1
    excluded: int = 0


class BlockSeparation:
    """Separates ``(channels, frames)`` blocks at ``rate_hz``: one output per condition, or per
    :class:`Combination` of conditions when ``combinations`` are given (one batched pass each).

    ``net`` is the network, or a :class:`BatchingNet` that several files' separations share.

    :meth:`push` returns ``(queries, channels, frames)`` blocks of output, aligned with the input and
    later than it by about a segment; :meth:`finish` returns the rest, so that the output has exactly
    the input's length. ``isolate`` gives the described sound, ``remove`` the input minus it.
    """

    def __init__(
        self,
        net: ResUNet30 | BatchingNet,
        film: FilmOffsets,
        queries: int,
        channels: int,
        rate_hz: int,
        mode: Mode = "isolate",
        segment_samples: int = MAX_SEGMENT_SAMPLES,
        overlap_samples: int = DEFAULT_OVERLAP_SAMPLES,
        combinations: tuple[Combination, ...] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'isolate' or 'remove', not {mode!r}")
        combinations = combinations or (Combination(),) * queries
        if sum(c.conditions for c in combinations) != queries:
            raise ValueError(f"the combinations take {sum(c.conditions for c in combinations)} conditions, not {queries}")
        self.net, self.film, self.channels, self.mode = net, film, channels, mode
        self.combinations, self.queries = combinations, len(combinations)  # queries: outputs
        plain = all(c.conditions == 1 for c in combinations)  # then row c * queries + q: channel c, query q
        self._film_rows = {path: offset.repeat(channels, 1, 1, 1) for path, offset in film.items()} if plain else None
        self.frames_in = 0
        self.frames_out = 0
        self._segments = SegmentStream(self._separate_segment, segment_samples, overlap_samples)
        self._to_model = stream_resampler(rate_hz, MODEL_SAMPLE_RATE_HZ, channels)
        self._from_model = stream_resampler(MODEL_SAMPLE_RATE_HZ, rate_hz, self.queries * channels)
        self._unmatched = np.zeros((channels, 0), dtype=np.float32)  # input not yet matched by output (remove)

    @torch.inference_mode()
    def push(self, block: np.ndarray) -> np.ndarray:
        """Take the next ``(channels, frames)``; return the output that is ready."""
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected blocks of shape ({self.channels}, frames), got {block.shape}")
        self.frames_in += block.shape[1]
        if self.mode == "remove":
            self._unmatched = np.concatenate([self._unmatched, block], axis=1)
        return self._emit(self._segments.push(self._to_model_rate(block, last=False)), last=False)

    @torch.inference_mode()
    def finish(self) -> np.ndarray:
        """The rest of the output, after the last block."""
        if self.frames_in == 0:
            raise UserError("nothing to separate: no samples were pushed")
        flushed = [self._segments.push(self._to_model_rate(np.zeros((self.channels, 0), np.float32), last=True))]
        short = MIN_MODEL_SAMPLES - self._segments.received
        if short > 0:  # shorter than the STFT needs: zero-padded here, cut from the output below
            flushed.append(self._segments.push(torch.zeros(self.channels, short)))
        out = np.concatenate(
            [self._emit(part, last=False) for part in flushed] + [self._emit(self._segments.finish(), last=True)], axis=2
        )
        missing = self.frames_in - self.frames_out  # resampling can end a sample short
        if missing > 0:
            out = np.concatenate([out, self._remove(np.zeros((self.queries, self.channels, missing), np.float32))], axis=2)
            self.frames_out += missing
        return out

    def _separate_segment(self, mixture: torch.Tensor) -> torch.Tensor:
        """``(channels, samples)`` at 32 kHz -> ``(outputs, channels, samples)``: every channel and output
        in one batch when each output is one condition, else one pass per channel and output."""
        mixture = mixture.to(self.net.device)
        if self._film_rows is not None:
            samples = mixture.shape[-1]
            rows = mixture[:, None, None, :].expand(-1, self.queries, 1, -1).reshape(-1, 1, samples)
            separated = self.net.separate(rows, self._film_rows).reshape(self.channels, self.queries, samples)
            return separated.transpose(0, 1).cpu()
        return torch.stack([self._separate_combinations(mono).cpu() for mono in mixture], dim=1)

    def _separate_combinations(self, mono: torch.Tensor) -> torch.Tensor:
        """``(samples,)`` -> ``(outputs, samples)``, one batched pass per combination."""
        outputs, row = [], 0
        for c in self.combinations:
            film = {path: offset[row : row + c.conditions] for path, offset in self.film.items()}
            outputs.append(self.net.separate_combined(mono[None, None], film, c.excluded)[0][:, 0])
            row += c.conditions
        return torch.cat(outputs)

    def _to_model_rate(self, block: np.ndarray, last: bool) -> torch.Tensor:
        if self._to_model is None:
            return torch.from_numpy(np.ascontiguousarray(block))
        return torch.from_numpy(np.ascontiguousarray(self._to_model.resample_chunk(block.T, last=last).T))

    def _emit(self, separated: torch.Tensor, last: bool) -> np.ndarray:
        """Separated 32 kHz output -> the next blocks at the input's rate, never beyond the input's length."""
        samples = separated.numpy().reshape(self.queries * self.channels, -1)
        if self._from_model is not None:
            samples = self._from_model.resample_chunk(samples.T, last=last).T
        count = min(samples.shape[1], self.frames_in - self.frames_out)
        out = np.ascontiguousarray(samples[:, :count]).reshape(self.queries, self.channels, count)
        self.frames_out += count
        return self._remove(out)

    def _remove(self, isolated: np.ndarray) -> np.ndarray:
        """In ``remove`` mode, the matching input minus ``isolated``; else ``isolated``."""
        if self.mode == "isolate":
            return isolated
        count = isolated.shape[2]
        matched, self._unmatched = self._unmatched[:, :count], self._unmatched[:, count:]
        return matched[None] - isolated
