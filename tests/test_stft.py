"""The inverse STFT that a CUDA graph can capture computes what torch.istft computes."""

import pytest
import torch

from models.config import HOP_LENGTH, N_FFT
from models.stft import Stft


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("samples", [2048, 16_000, 16_001, 40_640, 40_959, 96_000])
def test_inverse_equals_torch_istft(batch, samples):
    stft = Stft()
    audio = 0.3 * torch.randn(batch, 1, samples, generator=torch.Generator().manual_seed(samples))
    spec = stft(audio)
    reference = torch.istft(
        spec[:, 0].transpose(1, 2), n_fft=N_FFT, hop_length=HOP_LENGTH, window=stft.window, center=True, length=samples
    )
    inverse = stft.inverse(spec, samples)
    assert inverse.shape == (batch, 1, samples)
    torch.testing.assert_close(inverse[:, 0], reference, rtol=0, atol=1e-6)
    torch.testing.assert_close(inverse, audio, rtol=0, atol=1e-5)  # and it inverts the analysis


def test_inverse_past_the_last_frame_is_zero():
    stft = Stft()
    spec = stft(torch.randn(1, 1, 6400))
    covered = N_FFT // 2 + 20 * HOP_LENGTH  # what 21 frames reach beyond the centre of the first
    inverse = stft.inverse(spec, covered + 100)
    torch.testing.assert_close(inverse[..., :covered], stft.inverse(spec, covered))
    assert not inverse[..., covered:].any()
