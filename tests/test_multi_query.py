"""Several sounds at once: "a + b" is the sum of their separations from one batched pass, "a but not b"
masks b's bins out of a, offline, streamed and live."""

import numpy as np
import pytest
import soundfile as sf
import torch

from cli.main import main
from models.config import SeparationConfig
from models.queries import QuerySet, describe, excluded_count, parse_query, texts_of
from models.resunet import ResUNet30, apply_masks
from models.stft import magnitude_phase
from realtime.streaming import StreamingSeparator


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("speech", "speech"),
        ("speech + guitar", QuerySet(("speech", "guitar"))),
        ("music but not the vocals", QuerySet(("music",), ("the vocals",))),
        ("dog barking + siren But Not sirens far away + horns", QuerySet(("dog barking", "siren"), ("sirens far away", "horns"))),
        ("hi-hat", "hi-hat"),
    ],
)
def test_query_texts_parse_into_sets_and_back(text, parsed):
    assert parse_query(text) == parsed
    assert parse_query(describe(parsed)) == parsed
    assert excluded_count(parsed) == (len(parsed.exclude) if isinstance(parsed, QuerySet) else 0)
    assert texts_of(parsed) == (list(parsed.queries) if isinstance(parsed, QuerySet) else [parsed])


@pytest.mark.parametrize("text", ["speech +", "+ guitar", "but not speech", "music but not", "a ++ b"])
def test_a_set_with_an_empty_part_is_refused(text):
    with pytest.raises(ValueError, match="empty"):
        parse_query(text)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return ResUNet30(SeparationConfig(width=0.125)).eval()


def _film(net, rows, seed=0):
    condition = torch.from_numpy(np.random.default_rng(seed).standard_normal((rows, 512)).astype(np.float32))
    with torch.inference_mode():
        return net.film(torch.nn.functional.normalize(condition, dim=-1))


def _rows(film, rows):
    return {path: offset[rows] for path, offset in film.items()}


@torch.inference_mode()
def test_a_combined_pass_sums_the_included_and_masks_out_the_excluded(net):
    mixture = torch.from_numpy((0.1 * np.random.default_rng(1).standard_normal(32_000)).astype(np.float32))[None, None]
    film = _film(net, 3)
    single = [net.separate_with_spectra(mixture, _rows(film, slice(i, i + 1))) for i in range(3)]
    one = net.separate_combined(mixture, _rows(film, slice(0, 1)))
    for ours, reference in zip(one, single[0]):
        torch.testing.assert_close(ours, reference, rtol=0, atol=0)  # one sound: the plain pass, exactly
    both = net.separate_combined(mixture, _rows(film, slice(0, 2)))[0]
    torch.testing.assert_close(both, single[0][0] + single[1][0], rtol=0, atol=1e-6)
    # "0 + 1 but not 2": the sum of the masked spectra, times (1 - magnitude mask of 2), in one pass.
    waveform, magnitude, mask = net.separate_combined(mixture, film, excluded=1)
    reference_magnitude, cos, sin = magnitude_phase(net.stft(mixture))
    logits = net.base(reference_magnitude.expand(3, -1, -1, -1), film)
    spectrum = apply_masks(logits[:2], reference_magnitude, cos, sin).sum(0, keepdim=True)
    expected = net.stft.inverse(spectrum * (1 - torch.sigmoid(logits[2:, 0:1])), mixture.shape[-1])
    torch.testing.assert_close(waveform, expected, rtol=0, atol=1e-6)
    assert torch.all((mask >= 0) & (mask <= 1 - single[2][2] + 1e-6))
    torch.testing.assert_close(magnitude, magnitude_phase(net.stft(mixture))[0])
    with pytest.raises(ValueError, match="at least one sound must be included"):
        net.separate_combined(mixture, film, excluded=3)


def test_streaming_several_sounds_equals_the_sum_of_their_streams(net):
    x = (0.1 * np.random.default_rng(2).standard_normal(3 * 32_000)).astype(np.float32)
    film = _film(net, 2, seed=3)

    def stream(film):
        separator = StreamingSeparator(net, film)
        return np.concatenate([separator.feed(x[i : i + 1000]) for i in range(0, len(x), 1000)] + [separator.flush()])

    together = stream(film)
    apart = stream(_rows(film, slice(0, 1))) + stream(_rows(film, slice(1, 2)))
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_one_output_of_several_sounds_from_the_command_line(tmp_path):
    mix = "examples/speech_and_beeps.wav"
    assert main(["separate", mix, "-q", "beeps + speech", "-o", str(tmp_path / "both.wav"), "--precision", "float32"]) == 0
    assert main(["separate", mix, "-q", "beeps", "-q", "speech", "-o", str(tmp_path / "each.wav"), "--precision", "float32"]) == 0
    both = sf.read(tmp_path / "both.wav", dtype="float32")[0]
    beeps, speech = (sf.read(tmp_path / f"each-{i}-{name}.wav", dtype="float32")[0] for i, name in ((1, "beeps"), (2, "speech")))
    np.testing.assert_allclose(both, beeps + speech, atol=1e-4)
    assert main(["separate", mix, "-q", "beeps + speech but not beeps", "-o", str(tmp_path / "not.wav"), "--mode", "remove"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both.wav", "each-1-beeps.wav", "each-2-speech.wav", "not.wav"]


def test_a_preset_streams_as_its_query_mode_and_mix(tmp_path, monkeypatch, capsys):
    from realtime.presets import Preset, save_preset

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    save_preset(Preset("calls", "beeps + a hum", "remove", 0.5))
    stream = ["stream", "--input-file", "examples/speech_and_beeps.wav", "--hop-ms", "100", "--output-file"]
    assert main([*stream, str(tmp_path / "preset.wav"), "--preset", "calls"]) == 0
    assert main([*stream, str(tmp_path / "direct.wav"), "-q", "beeps + a hum", "--mode", "remove", "--wet", "0.5"]) == 0
    preset, direct = (sf.read(tmp_path / f"{name}.wav", dtype="float32")[0] for name in ("preset", "direct"))
    np.testing.assert_array_equal(preset, direct)
    assert main([*stream, str(tmp_path / "x.wav"), "--preset", "meetings"]) == 2
    said = capsys.readouterr().err
    assert "no preset 'meetings'" in said and "saved presets: calls" in said
    (tmp_path / "config" / "lass-live" / "presets.json").write_text('{"calls": {"query": ""}}')
    assert main([*stream, str(tmp_path / "x.wav"), "--preset", "calls"]) == 2
    assert "is damaged" in capsys.readouterr().err
