"""Audio front end of the CLAP query encoder: 32 -> 48 kHz, repeat-pad to 10 s, log-mel.

These reproduce what the official AudioSep query encoder feeds HTSAT. The resampler is a Hann-windowed
sinc with the same kernel as torchaudio's default (width 6, roll-off 0.99): the fixtures show that other
good resamplers (soxr, Kaiser, polyphase) move the log-mel by about 1 dB, so this one is not swapped for
soxr. The mel filterbank is librosa's Slaney filterbank (via transformers' ``mel_filter_bank``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers.audio_utils import mel_filter_bank

from models.config import CLAP_MAX_SAMPLES, CLAP_SAMPLE_RATE_HZ, MODEL_SAMPLE_RATE_HZ
from models.errors import UserError

CLAP_N_FFT = 1024
CLAP_HOP = 480
CLAP_N_MELS = 64
CLAP_FMIN_HZ = 50.0
CLAP_FMAX_HZ = 14_000.0
LOG_FLOOR = 1e-10
SINC_ZERO_CROSSINGS = 6
SINC_ROLLOFF = 0.99


def sinc_resample(waveform: torch.Tensor, orig_hz: int, new_hz: int) -> torch.Tensor:
    """Band-limited resampling with a Hann-windowed sinc kernel.

    waveform: ``(batch, samples)`` float. Returns ``(batch, ceil(samples * new_hz / orig_hz))``.
    """
    gcd = math.gcd(orig_hz, new_hz)
    up, down = new_hz // gcd, orig_hz // gcd
    cutoff = min(up, down) * SINC_ROLLOFF
    width = math.ceil(SINC_ZERO_CROSSINGS * down / cutoff)
    dtype = waveform.dtype
    taps = torch.arange(-width, width + down, dtype=dtype, device=waveform.device)[None, None] / down
    phases = torch.arange(0, -up, -1, dtype=dtype, device=waveform.device)[:, None, None] / up
    t = ((phases + taps) * cutoff).clamp(-SINC_ZERO_CROSSINGS, SINC_ZERO_CROSSINGS)
    window = torch.cos(t * math.pi / SINC_ZERO_CROSSINGS / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.ones_like(t), t.sin() / t) * window * (cutoff / down)
    batch, samples = waveform.shape
    padded = nn.functional.pad(waveform, (width, width + down))
    out = nn.functional.conv1d(padded[:, None], kernel, stride=down)
    out = out.transpose(1, 2).reshape(batch, -1)
    return out[:, : math.ceil(up * samples / down)]


def repeat_pad(waveform: torch.Tensor, length: int = CLAP_MAX_SAMPLES) -> torch.Tensor:
    """Tile a short ``(batch, samples)`` clip whole times, then zero-pad to ``length``.

    Longer clips are centre-cropped (the official code crops at random; a deterministic crop gives
    the same embedding for the same file).
    """
    samples = waveform.shape[-1]
    if samples == 0:
        raise UserError("the query audio is empty")
    if samples >= length:
        start = (samples - length) // 2
        return waveform[:, start : start + length]
    tiled = waveform.repeat(1, length // samples)
    return nn.functional.pad(tiled, (0, length - tiled.shape[-1]))


class LogMel(nn.Module):
    """48 kHz waveform -> log-mel power in dB, ``(batch, 1, frames, 64)``."""

    def __init__(self) -> None:
        super().__init__()
        mel = mel_filter_bank(
            num_frequency_bins=CLAP_N_FFT // 2 + 1,
            num_mel_filters=CLAP_N_MELS,
            min_frequency=CLAP_FMIN_HZ,
            max_frequency=CLAP_FMAX_HZ,
            sampling_rate=CLAP_SAMPLE_RATE_HZ,
            norm="slaney",
            mel_scale="slaney",
        )
        self.register_buffer("mel_basis", torch.from_numpy(mel).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(CLAP_N_FFT, periodic=True), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            waveform,
            n_fft=CLAP_N_FFT,
            hop_length=CLAP_HOP,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        power = (spec.real**2 + spec.imag**2).transpose(1, 2)
        return 10.0 * torch.log10(torch.clamp(power @ self.mel_basis, min=LOG_FLOOR))[:, None]


def query_audio_to_logmel(waveform_32k: torch.Tensor, logmel: LogMel) -> torch.Tensor:
    """``(batch, samples)`` at 32 kHz -> ``(batch, 1, 1001, 64)`` log-mel of the padded 10 s at 48 kHz."""
    waveform_48k = repeat_pad(sinc_resample(waveform_32k, MODEL_SAMPLE_RATE_HZ, CLAP_SAMPLE_RATE_HZ))
    return logmel(waveform_48k)
