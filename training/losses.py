"""Training losses: an estimate ``(batch, 1, samples)`` against a reference of the same shape -> a scalar.

- ``l1``: the mean absolute error of the waveform (AudioSep's loss). A loud target weighs more than a
  quiet or sparse one: a camera's click in a second of silence costs little even when it is dropped.
- ``snr``: the negative signal-to-noise ratio of each item in dB, thresholded at :data:`MAX_SNR_DB`
  (Wisdom et al. 2020, "Unsupervised sound separation using mixture invariant training"), averaged over
  the batch: every item weighs the same whatever its level, which is how SI-SDRi scores them, and an
  item already separated beyond the threshold stops pulling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MAX_SNR_DB = 30.0
ENERGY_FLOOR = 1e-8  # keeps a silent reference finite: its loss is then the estimate's own level

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def l1(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.l1_loss(estimate, reference)


def negative_snr_db(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``-10 log10(|r|^2 / (|r - e|^2 + tau |r|^2))`` per item, ``tau = 10^(-MAX_SNR_DB / 10)``, averaged."""
    reference_energy = reference.square().flatten(1).sum(-1)
    error_energy = (reference - estimate).square().flatten(1).sum(-1)
    threshold = 10.0 ** (-MAX_SNR_DB / 10.0)
    noise = error_energy + threshold * reference_energy + ENERGY_FLOOR
    return (10.0 * torch.log10(noise / (reference_energy + ENERGY_FLOOR))).mean()


LOSSES: dict[str, Loss] = {"l1": l1, "snr": negative_snr_db}
