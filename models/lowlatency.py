"""A separation network made for streaming: causal frames, recurrent state, a declared look-ahead.

At 32 kHz, frames of ``N`` samples (sqrt-Hann) every ``H`` samples; frame ``f`` covers input samples
``[(f + 1) H - N, (f + 1) H)``, so it is complete once hop ``f`` has arrived. Each frame's log
magnitude (with, if the network has context, the log magnitude of a longer Hann window of ``C``
samples ending at the same sample: finer frequency at no latency, since it reaches only into the
past) goes through a linear encoder, FiLM from the 512-d query condition, a GRU (its state
carries everything from earlier frames) and a second FiLM, and a decoder gives a magnitude mask
(0..1). The mask computed at frame ``f`` applies to frame ``f - L`` (``L`` frames of look-ahead):
masked, inverted and overlap-added, frame ``g`` completes output hop ``g + 1 - N / H``.

Streamed hop by hop (:class:`LowLatencyStream`) the network computes exactly what :meth:`separate`
computes over the whole signal: a sample waits at most ``N + L H`` samples from its arrival to its
release (16 ms at the defaults). Output sample ``i`` estimates input sample ``i``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.config import CONDITION_DIM, samples_to_ms
from models.errors import UserError
from models.resunet import FilmOffsets

ARCHITECTURE = "lowlatency"
LOG_FLOOR = 1e-4  # added to the magnitude before its log: about -80 dB of a full-scale sine's bin


@dataclass(frozen=True)
class LowLatencyConfig:
    """Shape of a :class:`LowLatencyNet`; samples at 32 kHz. ``N`` must be a multiple of ``H``."""

    window_samples: int = 384
    hop_samples: int = 128
    lookahead_frames: int = 1
    hidden: int = 256
    layers: int = 2
    condition_dim: int = CONDITION_DIM
    context_samples: int = 0  # the longer analysis window ``C`` of the features; 0: none

    def __post_init__(self) -> None:
        if self.window_samples % self.hop_samples or self.window_samples < 2 * self.hop_samples:
            raise UserError(f"the window ({self.window_samples}) must be a multiple of the hop ({self.hop_samples}), at least two")
        if self.lookahead_frames < 0:
            raise UserError("the look-ahead is a number of frames, 0 or more")
        if self.context_samples and self.context_samples <= self.window_samples:
            raise UserError(f"the context window ({self.context_samples} samples) must be longer than the frame ({self.window_samples}), or 0")

    @property
    def bins(self) -> int:
        return self.window_samples // 2 + 1

    @property
    def feature_bins(self) -> int:
        """The encoder's input: the frame's bins, then the context window's."""
        return self.bins + (self.context_samples // 2 + 1 if self.context_samples else 0)

    @property
    def span_samples(self) -> int:
        """The input samples one frame's features read: ``max(N, C)``, ending at the frame's end."""
        return max(self.window_samples, self.context_samples)

    @property
    def overlap(self) -> int:
        """Frames covering each sample: ``N / H``."""
        return self.window_samples // self.hop_samples

    @property
    def latency_samples(self) -> int:
        """The longest wait of a sample from arrival to release: ``N + L H``."""
        return self.window_samples + self.lookahead_frames * self.hop_samples

    @property
    def latency_ms(self) -> float:
        return samples_to_ms(self.latency_samples)

    def describe(self) -> str:
        return (
            f"low-latency model: frame {samples_to_ms(self.window_samples):g} ms, hop {samples_to_ms(self.hop_samples):g} ms, "
            f"look-ahead {samples_to_ms(self.lookahead_frames * self.hop_samples):g} ms"
            + (f", context {samples_to_ms(self.context_samples):g} ms" if self.context_samples else "")
        )

    def metadata(self) -> dict[str, int]:
        return asdict(self)


class LowLatencyNet(nn.Module):
    """Mixture waveform + 512-d condition -> target waveform, computed frame by frame."""

    architecture = ARCHITECTURE
    compute_dtype: torch.dtype | None = None  # always float32: small, and its GRU state carries on

    def __init__(self, config: LowLatencyConfig = LowLatencyConfig()) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = nn.Linear(c.feature_bins, c.hidden)
        self.film = LowLatencyFilm(c.condition_dim, c.hidden)
        self.gru = nn.GRU(c.hidden, c.hidden, c.layers, batch_first=True)
        self.decoder = nn.Sequential(nn.Linear(2 * c.hidden, c.hidden), nn.ReLU(), nn.Linear(c.hidden, c.bins))
        window = torch.hann_window(c.window_samples, periodic=True).sqrt()
        self.register_buffer("window", window, persistent=False)
        context_window = torch.hann_window(c.context_samples, periodic=True) if c.context_samples else torch.zeros(0)
        self.register_buffer("context_window", context_window, persistent=False)
        # sqrt-Hann analysis and synthesis overlap-add to sum(Hann shifted by H) = N / (2 H).
        self.synthesis_gain = 2.0 * c.hop_samples / c.window_samples

    @property
    def device(self) -> torch.device:
        return self.window.device

    # --- frames ---------------------------------------------------------------------------
    def spectra(self, spans: torch.Tensor) -> torch.Tensor:
        """``(..., span)`` samples -> ``(..., bins)`` complex spectra of their last ``N``, windowed."""
        return torch.fft.rfft(spans[..., -self.config.window_samples :] * self.window)

    def features(self, spans: torch.Tensor, spectra: torch.Tensor) -> torch.Tensor:
        """``(..., span)`` samples and their frames' spectra -> ``(..., feature_bins)`` log magnitudes."""
        features = torch.log(spectra.abs() + LOG_FLOOR)
        if not self.config.context_samples:
            return features
        context = torch.fft.rfft(spans[..., -self.config.context_samples :] * self.context_window).abs()
        return torch.cat([features, torch.log(context + LOG_FLOOR)], dim=-1)

    def masks(
        self, features: torch.Tensor, film: FilmOffsets, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, frames, feature_bins)`` -> magnitude masks ``(batch, frames, bins)`` and the GRU state
        after the last frame. Row ``b`` of the batch uses FiLM row ``b``."""
        hidden = modulate(F.relu(self.encoder(features)), film["input"])
        recurrent, state = self.gru(hidden, state)
        out = torch.cat([modulate(recurrent, film["output"]), hidden], dim=-1)
        return torch.sigmoid(self.decoder(out)), state

    def synthesise(self, spectra: torch.Tensor) -> torch.Tensor:
        """``(..., bins)`` complex -> ``(..., N)`` windowed frames ready to overlap-add."""
        return torch.fft.irfft(spectra, n=self.config.window_samples) * (self.window * self.synthesis_gain)

    # --- the whole signal at once (training, offline) --------------------------------------
    def separate(self, mixture: torch.Tensor, film: FilmOffsets) -> torch.Tensor:
        """``(batch, 1, samples)``, FiLM row ``b`` for row ``b`` -> ``(batch, 1, samples)``: what
        streaming it hop by hop and flushing gives, in one pass."""
        return self._separate(mixture, film, excluded=None)[0]

    def separate_combined(
        self, mixture: torch.Tensor, film: FilmOffsets, excluded: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One mixture ``(1, 1, samples)``, ``N`` conditions: the sounds of the first ``N - excluded``
        without the last ``excluded`` (:func:`combine_masks`). Returns the waveform ``(1, 1,
        samples)``, the mixture magnitude and the combined mask ``(1, 1, frames, bins)``, frame ``g``
        the one that ends at sample ``(g + 1) H``."""
        return self._separate(mixture, film, excluded)

    def _separate(
        self, mixture: torch.Tensor, film: FilmOffsets, excluded: int | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``excluded`` None: row by row; else one mixture, its conditions combined."""
        c = self.config
        length = mixture.shape[-1]
        hops = math.ceil(length / c.hop_samples) + c.overlap - 1 + c.lookahead_frames
        padded = F.pad(mixture[:, 0], (c.span_samples - c.hop_samples, hops * c.hop_samples - length))
        spans = padded.unfold(-1, c.span_samples, c.hop_samples)  # (batch, hops, span)
        spectra = self.spectra(spans)  # (batch, hops, bins)
        features = self.features(spans, spectra)
        if excluded is None:
            masks, _ = self.masks(features, film)
        else:
            masks = combine_masks(self.masks(features.expand(condition_rows(film), -1, -1), film)[0], excluded)
        kept = hops - c.lookahead_frames
        masks, spectra = masks[:, c.lookahead_frames :], spectra[:, :kept]
        pieces = self.synthesise(masks * spectra)  # frame g starts at g H - (N - H) in the signal
        out = F.fold(
            pieces.transpose(1, 2), (1, (kept - 1) * c.hop_samples + c.window_samples),
            kernel_size=(1, c.window_samples), stride=(1, c.hop_samples),
        )[:, 0, 0]
        start = c.window_samples - c.hop_samples
        return out[:, None, start : start + length], spectra.abs()[:, None], masks[:, None]

    def forward(self, mixture: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Training entry: ``(batch, 1, samples)`` and ``(batch, 512)`` -> ``(batch, 1, samples)``."""
        return self.separate(mixture, self.film(condition))


class LowLatencyFilm(nn.Module):
    """The condition -> FiLM step: a scale-and-shift pair for the encoder's output and the GRU's."""

    def __init__(self, condition_dim: int, hidden: int) -> None:
        super().__init__()
        self.input = nn.Linear(condition_dim, 2 * hidden)
        self.output = nn.Linear(condition_dim, 2 * hidden)

    def forward(self, condition: torch.Tensor) -> FilmOffsets:
        """``(rows, 512)`` -> offsets ``(rows, 2 hidden, 1, 1)`` by name (the ResUNet's layout, so that
        rows are picked and repeated alike), on the network's device."""
        condition = condition.to(self.input.weight.device, torch.float32)
        return {"input": self.input(condition)[:, :, None, None], "output": self.output(condition)[:, :, None, None]}


def modulate(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """``x (rows, frames, hidden) * (1 + scale) + shift``, the offsets ``(rows, 2 hidden, 1, 1)`` split in half."""
    scale, shift = offsets[:, None, :, 0, 0].chunk(2, dim=-1)
    return x * (1.0 + scale) + shift


def combine_masks(masks: torch.Tensor, excluded: int) -> torch.Tensor:
    """``(N, frames, bins)`` masks of ``N`` sounds -> ``(1, frames, bins)``: the first ``N - excluded``
    summed (at most 1), times ``1 - m`` for each of the last ``excluded``."""
    included = masks.shape[0] - excluded
    if included < 1:
        raise ValueError(f"{excluded} exclusions of {masks.shape[0]} conditions: at least one sound must be included")
    kept = (1.0 - masks[included:]).prod(0, keepdim=True)
    return masks[:included].sum(0, keepdim=True).clamp(max=1.0) * kept


def condition_rows(film: FilmOffsets) -> int:
    """How many sounds (condition rows) FiLM offsets hold."""
    return next(iter(film.values())).shape[0]
