"""Separation in blocks equals separation of the whole signal, sample for sample, at any block size."""

import numpy as np
import pytest
import torch

from audio.files import AudioSink, read_audio, write_audio
from models.config import SeparationConfig
from models.resunet import ResUNet30
from models.separator import Separator, WindowSettings
from models.windowing import SegmentStream, fade_weights

SEGMENT, OVERLAP = 6_400, 1_600  # 0.2 s segments at 32 kHz: many segments in little audio


def segment_starts(total, segment, overlap):
    """Full-length segments covering ``total`` samples, every ``segment - overlap``, the last one ending at it."""
    if total <= segment:
        return [0]
    return list(range(0, total - segment, segment - overlap)) + [total - segment]


def _overlap_add_reference(separate_segment, mixture, segment, overlap):
    """The whole signal at once: every segment's output faded and summed, divided by the summed fades."""
    total = mixture.shape[-1]
    starts = segment_starts(total, segment, overlap)
    output, weight_sum = torch.zeros_like(mixture), torch.zeros(total)
    for index, start in enumerate(starts):
        weights = fade_weights(segment, overlap, index == 0, index == len(starts) - 1)
        output[..., start : start + segment] += separate_segment(mixture[..., start : start + segment]) * weights
        weight_sum[start : start + segment] += weights
    return output / weight_sum


def _nonlinear(segment):
    """A stand-in for a net whose output depends on where the segment starts (so a misplaced segment shows)."""
    return torch.tanh(3 * segment) * segment.abs().mean(dim=-1, keepdim=True)


@pytest.mark.parametrize("total", [6_400, 6_401, 8_000, 11_200, 11_201, 33_333])
@pytest.mark.parametrize("piece", [1, 977, 6_400, 100_000])
def test_segment_stream_equals_the_whole_signal_overlap_add(total, piece):
    mixture = torch.from_numpy(np.random.default_rng(total).standard_normal((2, total)).astype(np.float32))
    if piece == 1 and total > 8_000:
        piece = 131  # sample by sample is slow; 131 still splits every segment boundary differently
    stream = SegmentStream(_nonlinear, SEGMENT, OVERLAP)
    pieces = [stream.push(mixture[:, start : start + piece]) for start in range(0, total, piece)]
    out = torch.cat([p.reshape(2, -1) for p in pieces] + [stream.finish()], dim=-1)
    expected = _nonlinear(mixture) if total <= SEGMENT else _overlap_add_reference(_nonlinear, mixture, SEGMENT, OVERLAP)
    assert out.shape == (2, total)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    assert len(segment_starts(total, SEGMENT, OVERLAP)) == stream.segments


def test_up_to_a_segment_is_one_direct_pass():
    mixture = torch.randn(1, 1, SEGMENT)
    stream = SegmentStream(_nonlinear, SEGMENT, OVERLAP)
    out = torch.cat([stream.push(mixture).reshape(1, 1, -1), stream.finish()], dim=-1)
    torch.testing.assert_close(out, _nonlinear(mixture), rtol=0, atol=0)


@pytest.fixture(scope="module")
def separator():
    torch.manual_seed(0)
    return Separator(ResUNet30(SeparationConfig(width=0.125)).eval(), windows=WindowSettings(SEGMENT, OVERLAP))


@pytest.mark.parametrize("rate_hz", [32_000, 44_100])
@pytest.mark.parametrize("mode", ["isolate", "remove"])
def test_blocks_of_any_size_give_the_same_output(separator, rate_hz, mode):
    x = (0.1 * np.random.default_rng(1).standard_normal((2, int(1.3 * rate_hz)))).astype(np.float32)
    conditions = torch.nn.functional.normalize(torch.randn(2, 512), dim=1)
    whole = separator.separate(x, rate_hz, conditions, mode)
    assert whole.shape == (2, 2, x.shape[1]) and np.isfinite(whole).all()
    for block in (1_000, 7_777):
        separation = separator.block_separation(conditions, 2, rate_hz, mode)
        pieces = [separation.push(x[:, start : start + block]) for start in range(0, x.shape[1], block)]
        np.testing.assert_array_equal(np.concatenate(pieces + [separation.finish()], axis=2), whole)
        assert max(p.shape[2] for p in pieces) < x.shape[1]  # output came out before the input ended


def test_remove_is_the_input_minus_isolate(separator):
    x = (0.1 * np.random.default_rng(2).standard_normal((1, 40_000))).astype(np.float32)
    condition = torch.nn.functional.normalize(torch.randn(1, 512), dim=1)
    isolated, removed = separator.separate(x, 48_000, condition, "isolate"), separator.separate(x, 48_000, condition, "remove")
    np.testing.assert_allclose(removed, x[None] - isolated, atol=1e-6)


@pytest.mark.parametrize("frames", [1, 1_000, 1_025])
def test_inputs_shorter_than_the_stft_are_padded(separator, frames):
    x = np.full((1, frames), 0.1, dtype=np.float32)
    out = separator.separate(x, 32_000, torch.nn.functional.normalize(torch.randn(1, 512), dim=1))
    assert out.shape == (1, 1, frames) and np.isfinite(out).all()


def test_a_file_is_separated_in_blocks_as_in_memory(separator, tmp_path):
    x = (0.1 * np.random.default_rng(3).standard_normal((2, 50_000))).astype(np.float32)
    write_audio(tmp_path / "mix.flac", x, 22_050, "PCM_24")
    conditions = torch.nn.functional.normalize(torch.randn(2, 512), dim=1)
    separator.separate_file(tmp_path / "mix.flac", [tmp_path / "a.flac", tmp_path / "b.wav"], conditions, block_frames=4_096)
    expected = separator.separate(read_audio(tmp_path / "mix.flac").samples, 22_050, conditions)
    for path, reference, subtype in zip((tmp_path / "a.flac", tmp_path / "b.wav"), expected, ("PCM_24", "PCM_24")):
        clip = read_audio(path)
        assert (clip.sample_rate_hz, clip.samples.shape, clip.subtype) == (22_050, x.shape, subtype)
        np.testing.assert_allclose(clip.samples, reference, atol=2**-22)  # 24-bit quantization


def test_a_failed_file_separation_leaves_no_output(separator, tmp_path):
    x = (0.1 * np.random.default_rng(4).standard_normal((1, 20_000))).astype(np.float32)
    x[0, 15_000] = np.inf
    write_audio(tmp_path / "mix.wav", x, 32_000, "FLOAT")
    with pytest.raises(Exception, match="NaN or infinite from 0.469 s"):
        separator.separate_file(tmp_path / "mix.wav", [tmp_path / "out.wav"], torch.randn(1, 512))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav"]


def test_a_sink_left_by_an_error_removes_its_temporary_file(tmp_path):
    with pytest.raises(RuntimeError):
        with AudioSink(tmp_path / "out.wav", 32_000, 1) as sink:
            sink.write(np.zeros((1, 100), np.float32))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
