"""STFT and inverse STFT of the separation network.

Same analysis as the official torchlibrosa front end: periodic Hann window, centred frames with
reflect padding of ``n_fft // 2`` on each side, ``n_fft // 2 + 1`` bins. Layout follows the network:
``(batch, channels, frames, freq_bins)``.

The inverse computes what ``torch.istft`` computes (``irfft``, window, overlap-add, division by the
summed squared window) in operations that never read a value back to the host: ``torch.istft`` checks
its window envelope on the host, which a CUDA graph cannot capture. The overlap-add adds each frame's
``ceil(n_fft / hop)`` hop-long pieces into strided views of the output, and the envelope is computed
once per frame count. On CPU it is also faster than ``torch.istft`` (``benchmarks/istft.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.config import HOP_LENGTH, N_FFT

MAGNITUDE_FLOOR = 1e-10  # floor on |X|^2 before the square root, as the official model


class Stft(nn.Module):
    """Complex STFT and its inverse with a fixed periodic Hann window."""

    def __init__(self, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        # Made on the CPU even inside a ``torch.device("meta")`` build (the shape check of a checkpoint):
        # a meta Hann window goes through torch's decompositions, which import torch._dynamo (0.6 s).
        window = torch.hann_window(n_fft, periodic=True, device="cpu")
        self.register_buffer("window", window, persistent=False)
        self._envelopes: dict[int, torch.Tensor] = {}  # by frame count

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, samples)`` float -> ``(batch, channels, frames, bins)`` complex."""
        batch, channels, samples = waveform.shape
        spec = torch.stft(
            waveform.reshape(batch * channels, samples),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        return spec.transpose(1, 2).reshape(batch, channels, spec.shape[2], spec.shape[1])

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """``(batch, channels, frames, bins)`` complex -> ``(batch, channels, length)`` float."""
        batch, channels, frames, bins = spec.shape
        pieces = torch.fft.irfft(spec.reshape(batch * channels, frames, bins), n=self.n_fft, dim=-1)
        summed = self._overlap_add(pieces.mul_(self.window))
        start = self.n_fft // 2
        kept = summed[:, start : start + length] / self._envelope(frames)[start : start + length]
        waveform = F.pad(kept, (0, length - kept.shape[-1]))  # beyond the last frame: zeros, as torch.istft
        return waveform.reshape(batch, channels, length)

    def _overlap_add(self, pieces: torch.Tensor) -> torch.Tensor:
        """``(rows, frames, n_fft)`` -> ``(rows, n_fft + (frames - 1) * hop)``: frame ``f`` added at ``f * hop``."""
        rows, frames, n_fft = pieces.shape
        hop = self.hop_length
        shifts = math.ceil(n_fft / hop)
        out = pieces.new_zeros(rows, (frames + shifts - 1) * hop)
        for k in range(shifts):  # piece k of every frame lands in hop-long slot f + k
            width = min(hop, n_fft - k * hop)
            slots = out[:, k * hop : (k + frames) * hop].view(rows, frames, hop)
            slots[:, :, :width].add_(pieces[:, :, k * hop : k * hop + width])
        return out[:, : n_fft + (frames - 1) * hop]

    def _envelope(self, frames: int) -> torch.Tensor:
        """The overlap-added squared window for ``frames`` frames, computed once per frame count."""
        envelope = self._envelopes.get(frames)
        if envelope is None or envelope.device != self.window.device:
            squared = (self.window**2).expand(1, frames, self.n_fft)
            envelope = self._envelopes[frames] = self._overlap_add(squared)[0]
        return envelope


def magnitude_phase(spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Complex spectrum -> (magnitude, cos, sin), with |X| floored at sqrt(1e-10)."""
    magnitude = torch.clamp(spec.real**2 + spec.imag**2, min=MAGNITUDE_FLOOR).sqrt()
    return magnitude, spec.real / magnitude, spec.imag / magnitude
