"""SeparationNet: the ResUNet30 of AudioSep, conditioned by FiLM offsets.

Parameter names follow the official model (``base.*`` for the U-Net, ``film.<block path>->betaN`` for
the FiLM layers), so the ``ss_model.`` part of an official checkpoint loads strictly. The five analytic
DSP tensors of the official torchlibrosa front end are not parameters here: ``torch.stft`` computes
the same transform.

The FiLM offsets depend only on the query, so they are computed once per query by
:meth:`ResUNet30.film` and passed to :meth:`ResUNet30.separate` for every block of audio.

Shapes: waveforms ``(batch, 1, samples)`` at 32 kHz, spectrograms ``(batch, channels, frames, bins)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import N_FREQ_BINS, SeparationConfig
from models.stft import Stft, magnitude_phase

BN_MOMENTUM = 0.01
LEAKY_SLOPE = 0.01
MASK_CHANNELS = 3  # magnitude logit, phase real logit, phase imaginary logit
# 2 ** (number of encoder blocks that halve time): the frame count is padded to a multiple of it.
TIME_DOWNSAMPLE = 32

FilmOffsets = dict[str, torch.Tensor]
"""FiLM offsets by unique block path, e.g. ``"encoder_block1->conv_block1->beta1"``, each
``(batch, channels, 1, 1)``."""


class ConvBlockRes(nn.Module):
    """Pre-activation residual block: (BN + FiLM offset, LeakyReLU, 3x3 conv) twice, plus shortcut."""

    def __init__(self, path: str, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.path = path
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def film_sizes(self) -> dict[str, int]:
        return {f"{self.path}->beta1": self.bn1.num_features, f"{self.path}->beta2": self.bn2.num_features}

    def forward(self, x: torch.Tensor, film: FilmOffsets) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.bn1(x) + film[f"{self.path}->beta1"], LEAKY_SLOPE))
        h = self.conv2(F.leaky_relu(self.bn2(h) + film[f"{self.path}->beta2"], LEAKY_SLOPE))
        return (self.shortcut(x) if self.shortcut is not None else x) + h


class EncoderBlock(nn.Module):
    """A residual block, then average pooling; returns (pooled, skip)."""

    def __init__(self, name: str, in_channels: int, out_channels: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.conv_block1 = ConvBlockRes(f"{name}->conv_block1", in_channels, out_channels)
        self.pool = pool

    def film_sizes(self) -> dict[str, int]:
        return self.conv_block1.film_sizes()

    def forward(self, x: torch.Tensor, film: FilmOffsets) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.conv_block1(x, film)
        return F.avg_pool2d(skip, self.pool), skip


class DecoderBlock(nn.Module):
    """(BN + FiLM, LeakyReLU, transposed-conv upsampling), concatenation with the skip, residual block.

    ``bn2`` and the ``beta2`` offset exist in the official model but are never used; they are kept so
    that checkpoints load strictly in both directions.
    """

    def __init__(self, name: str, in_channels: int, out_channels: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.name = name
        self.conv1 = nn.ConvTranspose2d(in_channels, out_channels, stride, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)
        self.conv_block2 = ConvBlockRes(f"{name}->conv_block2", 2 * out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(in_channels, momentum=BN_MOMENTUM)

    def film_sizes(self) -> dict[str, int]:
        own = {f"{self.name}->beta1": self.bn1.num_features, f"{self.name}->beta2": self.bn2.num_features}
        return own | self.conv_block2.film_sizes()

    def forward(self, x: torch.Tensor, skip: torch.Tensor, film: FilmOffsets) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.bn1(x) + film[f"{self.name}->beta1"], LEAKY_SLOPE))
        return self.conv_block2(torch.cat((h, skip), dim=1), film)


class ResUNetBase(nn.Module):
    """The U-Net: magnitude spectrogram + FiLM offsets -> mask logits."""

    ENCODER_POOLS = ((2, 2), (2, 2), (2, 2), (2, 2), (2, 2), (1, 2))

    def __init__(self, config: SeparationConfig) -> None:
        super().__init__()
        c = config.channels()
        self.bn0 = nn.BatchNorm2d(N_FREQ_BINS, momentum=BN_MOMENTUM)
        self.pre_conv = nn.Conv2d(1, c[0], 1)
        for i, pool in enumerate(self.ENCODER_POOLS, start=1):
            self.add_module(f"encoder_block{i}", EncoderBlock(f"encoder_block{i}", c[i - 1], c[i], pool))
        self.conv_block7a = EncoderBlock("conv_block7a", c[6], c[7], (1, 1))
        decoder_io = [(c[7], c[6])] + [(c[i], c[i - 1]) for i in range(6, 1, -1)]
        for i, (cin, cout) in enumerate(decoder_io, start=1):
            stride = self.ENCODER_POOLS[6 - i]
            self.add_module(f"decoder_block{i}", DecoderBlock(f"decoder_block{i}", cin, cout, stride))
        self.after_conv = nn.Conv2d(c[1], MASK_CHANNELS, 1)

    def encoders(self) -> list[EncoderBlock]:
        return [getattr(self, f"encoder_block{i}") for i in range(1, 7)]

    def decoders(self) -> list[DecoderBlock]:
        return [getattr(self, f"decoder_block{i}") for i in range(1, 7)]

    def film_sizes(self) -> dict[str, int]:
        """Sizes of every FiLM offset, in the official pre-order (encoders, centre, decoders)."""
        sizes: dict[str, int] = {}
        for block in [*self.encoders(), self.conv_block7a, *self.decoders()]:
            sizes |= block.film_sizes()
        return sizes

    def forward(self, magnitude: torch.Tensor, film: FilmOffsets) -> torch.Tensor:
        """``(batch, 1, frames, 1025)`` magnitude -> ``(batch, 3, frames, 1025)`` mask logits."""
        frames = magnitude.shape[2]
        x = self.bn0(magnitude.transpose(1, 3)).transpose(1, 3)
        pad_frames = -frames % TIME_DOWNSAMPLE
        x = F.pad(x, (0, 0, 0, pad_frames))[..., :-1]  # 1025 bins -> 1024, halvable six times
        x = self.pre_conv(x)
        skips = []
        for encoder in self.encoders():
            x, skip = encoder(x, film)
            skips.append(skip)
        x, _ = self.conv_block7a(x, film)
        for decoder, skip in zip(self.decoders(), reversed(skips)):
            x = decoder(x, skip, film)
        logits = F.pad(self.after_conv(x), (0, 1))
        return logits[:, :, :frames, :]


class Film(nn.Module):
    """One linear layer per FiLM offset, named by the block path as in the official checkpoint."""

    def __init__(self, sizes: dict[str, int], condition_dim: int) -> None:
        super().__init__()
        for path, size in sizes.items():
            self.add_module(path, nn.Linear(condition_dim, size))

    def forward(self, condition: torch.Tensor) -> FilmOffsets:
        """``(batch, condition_dim)`` (any device) -> offsets by path, each ``(batch, channels, 1, 1)``,
        on the network's device."""
        condition = condition.to(next(self.parameters()).device, torch.float32)
        return {path: layer(condition)[:, :, None, None] for path, layer in self.named_children()}


def apply_masks(
    logits: torch.Tensor, magnitude: torch.Tensor, cos_in: torch.Tensor, sin_in: torch.Tensor
) -> torch.Tensor:
    """Apply a magnitude mask and a unit phase rotation to a mixture spectrum.

    logits: ``(batch, 3, frames, bins)``; the mixture as magnitude, cos and sin of its phase, each
    ``(batch, 1, frames, bins)``. Returns the masked complex spectrum ``(batch, 1, frames, bins)``.
    """
    mask_magnitude = torch.sigmoid(logits[:, 0:1])
    phase_real, phase_imag = torch.tanh(logits[:, 1:2]), torch.tanh(logits[:, 2:3])
    phase_norm = torch.clamp((phase_real**2 + phase_imag**2).sqrt(), min=1e-10)
    mask_cos, mask_sin = phase_real / phase_norm, phase_imag / phase_norm
    out_magnitude = F.relu(magnitude * mask_magnitude)
    out_cos = cos_in * mask_cos - sin_in * mask_sin
    out_sin = sin_in * mask_cos + cos_in * mask_sin
    return torch.complex(out_magnitude * out_cos, out_magnitude * out_sin)


class ResUNet30(nn.Module):
    """Text-queried separation network: mixture waveform + 512-d condition -> target waveform."""

    architecture = "resunet"

    def __init__(self, config: SeparationConfig = SeparationConfig()) -> None:
        super().__init__()
        self.config = config
        self.base = ResUNetBase(config)
        self.film = Film(self.base.film_sizes(), config.condition_dim)
        self.stft = Stft()
        # The U-Net's reduced-precision compute type (None: float32); set by models.fast_path.
        self.compute_dtype: torch.dtype | None = None

    @property
    def device(self) -> torch.device:
        return self.stft.window.device

    @torch.no_grad()
    def init_identity_phase(self, phase_bias: float = 2.0) -> None:
        """Start training from an identity phase mask (no rotation) and a 0.5 magnitude mask.

        With random weights the phase mask rotates every bin at random, and an L1 waveform loss then
        first teaches the network to output silence. Only for training from scratch.
        """
        self.base.after_conv.weight[1:] = 0.0
        self.base.after_conv.bias.copy_(torch.tensor([0.0, phase_bias, 0.0]))

    def separate(self, mixture: torch.Tensor, film: FilmOffsets) -> torch.Tensor:
        """``(batch, 1, samples)`` mixture + precomputed FiLM offsets -> ``(batch, 1, samples)``."""
        return self.separate_with_spectra(mixture, film)[0]

    def separate_with_spectra(
        self, mixture: torch.Tensor, film: FilmOffsets
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """As :meth:`separate`, also returning the mixture magnitude and the magnitude mask, each
        ``(batch, 1, frames, 1025)`` (what a live view shows)."""
        magnitude, cos_in, sin_in = magnitude_phase(self.stft(mixture))
        logits = self._mask_logits(magnitude, film)
        waveform = self.stft.inverse(apply_masks(logits, magnitude, cos_in, sin_in), mixture.shape[-1])
        return waveform, magnitude, torch.sigmoid(logits[:, 0:1])

    def separate_combined(
        self, mixture: torch.Tensor, film: FilmOffsets, excluded: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One mixture ``(1, 1, samples)``, ``N`` conditions in one batched pass: the sum of the sounds
        of the first ``N - excluded``, with the bins of the last ``excluded`` masked out of it (their
        magnitude masks ``m``: the sum times ``(1 - m)`` for each). Returns the waveform
        ``(1, 1, samples)``, the mixture magnitude and the combined magnitude mask ``(1, 1, frames,
        1025)``. One condition and no exclusion is exactly :meth:`separate_with_spectra`."""
        conditions = next(iter(film.values())).shape[0]
        if not 0 <= excluded < conditions:
            raise ValueError(f"{excluded} exclusions of {conditions} conditions: at least one sound must be included")
        if conditions == 1:
            return self.separate_with_spectra(mixture, film)
        magnitude, cos_in, sin_in = magnitude_phase(self.stft(mixture))
        logits = self._mask_logits(magnitude.expand(conditions, -1, -1, -1), film)
        included = conditions - excluded
        spectrum = apply_masks(logits[:included], magnitude, cos_in, sin_in).sum(0, keepdim=True)
        masks = torch.sigmoid(logits[:, 0:1])
        kept = (1.0 - masks[included:]).prod(0, keepdim=True)  # 1 where nothing is excluded
        waveform = self.stft.inverse(spectrum * kept, mixture.shape[-1])
        return waveform, magnitude, (masks[:included].sum(0, keepdim=True).clamp(max=1.0) * kept)

    def _mask_logits(self, magnitude: torch.Tensor, film: FilmOffsets) -> torch.Tensor:
        """The U-Net, in ``compute_dtype`` where one is set; float32 logits either way."""
        dtype = self.compute_dtype
        if dtype is None:
            return self.base(magnitude, film)
        film = {path: offset.to(dtype) for path, offset in film.items()}  # no promotion back to float32
        # No autocast cache: the weights are stored in ``dtype`` already, and a CUDA graph capture forbids it.
        with torch.autocast(self.device.type, dtype=dtype, cache_enabled=False):
            return self.base(magnitude, film).float().contiguous()

    def forward(self, mixture: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, samples)`` mixture, ``(batch, 512)`` condition -> ``(batch, 1, samples)``."""
        return self.separate(mixture, self.film(condition))
