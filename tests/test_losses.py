"""Training losses: the thresholded SNR weighs every item alike, whatever its level."""

import math

import pytest
import torch

from training.config import LOSS_NAMES
from training.losses import LOSSES, MAX_SNR_DB, l1, negative_snr_db


def test_every_loss_the_command_line_names_exists():
    assert set(LOSSES) == set(LOSS_NAMES)


def test_the_snr_loss_is_the_negative_snr_of_each_item_averaged():
    torch.manual_seed(0)
    reference = torch.randn(2, 1, 4000)
    half_error = reference + 0.5 * reference[[1, 0]]  # error energy a quarter of the other item's
    snr_db = 10 * torch.log10(reference.square().sum((1, 2)) / (0.25 * reference[[1, 0]].square().sum((1, 2))))
    threshold = 10 ** (-MAX_SNR_DB / 10)
    expected = -10 * torch.log10(1 / (10 ** (-snr_db / 10) + threshold))
    assert negative_snr_db(half_error, reference).item() == pytest.approx(expected.mean().item(), abs=1e-3)
    assert negative_snr_db(reference, reference).item() == pytest.approx(-MAX_SNR_DB, abs=1e-3)
    assert negative_snr_db(torch.zeros_like(reference), reference).item() == pytest.approx(10 * math.log10(1 + threshold), abs=1e-4)


def test_a_quiet_target_weighs_as_much_as_a_loud_one_under_snr_not_under_l1():
    """A click 40 dB below a tone, both half-lost: the SNR loss counts them alike, L1 hardly sees the click."""
    torch.manual_seed(1)
    loud, quiet = torch.randn(1, 1, 4000), 0.01 * torch.randn(1, 1, 4000)
    assert negative_snr_db(0.5 * quiet, quiet).item() == pytest.approx(negative_snr_db(0.5 * loud, loud).item(), abs=1e-4)
    assert l1(0.5 * quiet, quiet).item() < 0.02 * l1(0.5 * loud, loud).item()


def test_a_silent_reference_asks_for_silence():
    silent = torch.zeros(1, 1, 4000)
    assert negative_snr_db(silent, silent).item() == pytest.approx(0.0)
    assert negative_snr_db(0.1 * torch.ones_like(silent), silent).item() > 50.0
