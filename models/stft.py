"""STFT and inverse STFT of the separation network, on ``torch.stft``/``torch.istft``.

Same analysis as the official torchlibrosa front end: periodic Hann window, centred frames with
reflect padding of ``n_fft // 2`` on each side, ``n_fft // 2 + 1`` bins. Layout follows the network:
``(batch, channels, frames, freq_bins)``.
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import HOP_LENGTH, N_FFT

MAGNITUDE_FLOOR = 1e-10  # floor on |X|^2 before the square root, as the official model


class Stft(nn.Module):
    """Complex STFT and its inverse with a fixed periodic Hann window."""

    def __init__(self, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

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
        waveform = torch.istft(
            spec.reshape(batch * channels, frames, bins).transpose(1, 2),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            length=length,
        )
        return waveform.reshape(batch, channels, length)


def magnitude_phase(spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Complex spectrum -> (magnitude, cos, sin), with |X| floored at sqrt(1e-10)."""
    magnitude = torch.clamp(spec.real**2 + spec.imag**2, min=MAGNITUDE_FLOOR).sqrt()
    return magnitude, spec.real / magnitude, spec.imag / magnitude
