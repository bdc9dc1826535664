"""The streaming-native network: streamed hop by hop it equals its whole-signal pass at any block
size, its declared latency is the measured wait, a query change lands within a hop, the engine
runs it at 48 kHz behind the low-delay resamplers, and `lass stream` takes it for a latency target."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from audio.files import read_audio, resample, write_audio
from audio.low_delay import LowDelayResampler
from cli.main import main
from models.errors import ModelLoadingError
from models.loading import load_separation_net, save_bundle
from models.lowlatency import LowLatencyConfig, LowLatencyNet
from models.metrics import sdr
from realtime.engine import Controls, Engine, EngineSettings, latency_budget, margin_ms_of_samples, resampler_lag_samples
from realtime.file_stream import stream_array
from realtime.lowlatency_stream import LowLatencyStream
from realtime.tuning import LOWLATENCY_WORKER_FLOOR_MS, plan_lowlatency

CONFIG = LowLatencyConfig(hidden=32, layers=2)
CONTEXT_CONFIG = LowLatencyConfig(hidden=32, layers=2, context_samples=1000)  # features reach 1000 samples back


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return LowLatencyNet(CONFIG).eval()


@pytest.fixture(scope="module", params=[CONFIG, CONTEXT_CONFIG], ids=["frame", "context"])
def any_net(request):
    """The network with features of its frame alone, and with a longer context window's too."""
    torch.manual_seed(0)
    return LowLatencyNet(request.param).eval()


@pytest.fixture(scope="module")
def identity_net():
    """Masks of 1 everywhere: the output is the input, so delays can be read off an impulse."""
    net = LowLatencyNet(CONFIG).eval()
    with torch.no_grad():
        net.decoder[-1].weight.zero_()
        net.decoder[-1].bias.fill_(30.0)
    return net


def _film(net, seed, rows=1):
    condition = torch.from_numpy(np.random.default_rng(seed).standard_normal((rows, 512)).astype(np.float32))
    with torch.inference_mode():
        return net.film(torch.nn.functional.normalize(condition, dim=-1))


def _noise(seconds, rate=32_000, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def _stream(separator, x, block):
    return np.concatenate([separator.feed(x[i : i + block]) for i in range(0, len(x), block)] + [separator.flush()])


@pytest.mark.parametrize("block", [1, 77, 128, 1000, 4096])
def test_streaming_equals_the_whole_signal_at_any_block_size(any_net, block):
    film, x = _film(any_net, 1), _noise(1.0)
    with torch.inference_mode():
        whole = any_net.separate(torch.from_numpy(x)[None, None], film)[0, 0].numpy()
    streamed = _stream(LowLatencyStream(any_net, film), x, block)
    assert len(streamed) == len(x)
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_several_sounds_stream_as_their_combined_pass(any_net):
    film, x = _film(any_net, 2, rows=3), _noise(0.5)
    with torch.inference_mode():
        whole = any_net.separate_combined(torch.from_numpy(x)[None, None], film, excluded=1)[0][0, 0].numpy()
    np.testing.assert_allclose(_stream(LowLatencyStream(any_net, film, excluded=1), x, 300), whole, atol=1e-4)


def test_the_declared_latency_is_the_measured_wait(any_net):
    """Fed one sample at a time: the longest wait from a sample's arrival to its release (a context
    window reaches into the past only, and adds none)."""
    stream, longest, released = LowLatencyStream(any_net, _film(any_net, 1)), 0, 0
    for arrived, sample in enumerate(_noise(0.1), 1):
        released += len(stream.feed(np.array([sample], np.float32)))
        if released:
            longest = max(longest, arrived - (released - 1))  # the newest released sample waited this long
    c = any_net.config
    assert longest == c.latency_samples == c.window_samples + c.lookahead_frames * c.hop_samples


def test_a_query_change_lands_within_one_hop(net):
    film_a, film_b, x = _film(net, 1), _film(net, 2), _noise(1.0)
    only_a = _stream(LowLatencyStream(net, film_a), x, 128)
    change = 16_000  # a hop boundary
    switching = LowLatencyStream(net, film_a)
    first = switching.feed(x[:change])
    switching.set_condition(film_b)
    out = np.concatenate([first, switching.feed(x[change:]), switching.flush()])
    # The first frame after the change is masked L frames later; its samples start N - H before its end.
    c = CONFIG
    affected = change - (c.window_samples - c.hop_samples) - c.lookahead_frames * c.hop_samples
    np.testing.assert_array_equal(out[:affected], only_a[:affected])
    first_hop = slice(affected, affected + c.hop_samples)
    assert np.abs(out[first_hop] - only_a[first_hop]).max() > 1e-5  # the new query governs from the next hop


@pytest.mark.parametrize("rate", [48_000, 44_100])
def test_the_engine_delays_by_its_latency_and_nothing_else(identity_net, rate):
    """Worker kept up with the callback: an impulse comes out exactly the engine's latency later,
    with no dropout; bypass and remove stay exact at the device rate."""
    settings = EngineSettings(rate, 256, identity_net.config, compute_margin_ms=4.0, low_delay_resampling=True)
    engine = Engine(identity_net, _film(identity_net, 1), settings)
    x = np.zeros(rate, np.float32)
    x[3 * 1000] = 1.0
    out = np.zeros(len(x) + engine.latency_samples + 256, np.float32)
    padded = np.concatenate([x, np.zeros(len(out) - len(x), np.float32)])
    for start in range(0, len(out) - 255, 256):
        engine.process_block(padded[start : start + 256], out[start : start + 256])
        engine.work_once()
    assert engine.stats.dropouts == 0
    assert int(np.argmax(np.abs(out))) == 3000 + engine.latency_samples
    assert engine.latency_ms < 1000 * 256 / rate + CONFIG.latency_ms + 4.0 + 1.5  # the resamplers: under 1.5 ms
    noise = _noise(0.5, rate)
    isolated = stream_array(Engine(identity_net, _film(identity_net, 1), settings), noise)
    removed = stream_array(Engine(identity_net, _film(identity_net, 1), settings, Controls(remove=True)), noise)
    np.testing.assert_allclose(isolated + removed, noise, atol=1e-6)


@pytest.mark.parametrize("block", [128, 256, 512])
@pytest.mark.parametrize("every", [2, 3])
def test_a_margin_buys_the_worker_whole_blocks(net, block, every):
    """A worker that runs once every few callbacks keeps up exactly when the margin gives it that
    many blocks ((n - 1) blocks of margin for n); 40 samples less is late."""
    rate = 48_000
    x = _noise(1.0, rate)

    def dropouts(margin_samples):
        settings = EngineSettings(rate, block, net.config, compute_margin_ms=margin_ms_of_samples(margin_samples, rate), low_delay_resampling=True)
        engine = Engine(net, _film(net, 1), settings)
        assert latency_budget(settings).worker_blocks == margin_samples // block + 1
        out = np.zeros(block, np.float32)
        for index in range(len(x) // block):
            engine.process_block(x[index * block : (index + 1) * block], out)
            if index % every == every - 1:
                engine.work_once()
        return engine.stats.dropouts

    assert dropouts((every - 1) * block) == 0
    assert dropouts((every - 1) * block - 40) > 0


def test_the_planner_gives_the_worker_its_time_in_whole_blocks(net):
    """Without a target the margin is whole blocks; with one, it is all the target leaves; either way
    the worker has at least its floor of time per block."""
    film, rate = _film(net, 1), 48_000
    for block in (128, 256, 512):
        auto = latency_budget(plan_lowlatency(net, film, rate, block_frames=block))
        assert auto.compute_margin_samples % block == 0
        assert 1000 * auto.worker_time_s(rate) >= LOWLATENCY_WORKER_FLOOR_MS
    for target_ms in (30, 40):
        planned = latency_budget(plan_lowlatency(net, film, rate, target_ms))
        assert planned.total_samples <= target_ms * rate / 1000 and 1000 * planned.worker_time_s(rate) >= LOWLATENCY_WORKER_FLOOR_MS


@pytest.mark.parametrize("rates", [(48_000, 32_000), (32_000, 48_000), (44_100, 32_000), (32_000, 44_100)])
def test_the_low_delay_resampler_holds_back_under_a_millisecond_and_agrees_with_soxr(rates):
    from_hz, to_hz = rates
    assert resampler_lag_samples(from_hz, to_hz, low_delay=True) < to_hz / 1000
    assert resampler_lag_samples(from_hz, to_hz) > 10 * to_hz / 1000  # soxr's high quality: tens of ms
    t = np.arange(from_hz) / from_hz
    x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 5000 * t)).astype(np.float32)
    pieces = LowDelayResampler(from_hz, to_hz)
    streamed = np.concatenate([pieces.resample_chunk(x[i : i + 333]) for i in range(0, len(x), 333)])
    whole = LowDelayResampler(from_hz, to_hz).resample_chunk(x)
    np.testing.assert_allclose(streamed, whole[: len(streamed)], atol=1e-6)
    reference = resample(x[None], from_hz, to_hz)[0]
    middle = slice(to_hz // 10, len(streamed) - to_hz // 10)
    assert sdr(reference[middle], streamed[middle]) > 60  # aligned with soxr, sample for sample


def test_the_low_delay_resampler_keeps_out_what_would_fold_over():
    t = np.arange(48_000) / 48_000
    high = np.sin(2 * np.pi * 20_000 * t).astype(np.float32)  # above 16 kHz: folds onto 12 kHz at 32 kHz
    out = LowDelayResampler(48_000, 32_000).resample_chunk(high)[3200:-3200]
    assert 20 * np.log10(np.sqrt(np.mean(out**2)) / np.sqrt(0.5)) < -60


def test_a_bundle_records_the_architecture(net, tmp_path):
    path = tmp_path / "fast.safetensors"
    save_bundle(path, net, {}, "none")
    loaded = load_separation_net(path)
    assert isinstance(loaded, LowLatencyNet) and loaded.config == CONFIG
    for name, value in net.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(path)), str(tmp_path / "odd.safetensors"), {"format": "lass-bundle-1", "architecture": "transformer"})
    with pytest.raises(ModelLoadingError, match="unknown architecture 'transformer'"):
        load_separation_net(tmp_path / "odd.safetensors")


@pytest.fixture(scope="module")
def fast_bundle(net, tmp_path_factory):
    path = tmp_path_factory.mktemp("fast") / "fast.safetensors"
    save_bundle(path, net, {}, "none")
    return path


def _condition_file(folder):
    condition = np.random.default_rng(3).standard_normal(512).astype(np.float32)
    np.save(folder / "c.npy", condition / np.linalg.norm(condition))
    return folder / "c.npy"


def test_stream_at_30_ms_through_the_command_line_agrees_with_separate(fast_bundle, tmp_path, capsys):
    """At the model's rate no resampler runs: the streamed file equals `lass separate`'s."""
    x = _noise(1.0)
    write_audio(tmp_path / "mix.wav", x[None], 32_000, "FLOAT")
    model = ["--embedding", str(_condition_file(tmp_path)), "--checkpoint", str(fast_bundle)]
    streamed = ["stream", "--input-file", str(tmp_path / "mix.wav"), "--output-file", str(tmp_path / "out.wav")]
    assert main(streamed + model + ["--latency-ms", "30"]) == 0
    said = capsys.readouterr().err
    assert float(re.search(r"^latency ([0-9.]+) ms: low-latency model", said, re.MULTILINE).group(1)) <= 30
    assert main(["separate", str(tmp_path / "mix.wav"), "-o", str(tmp_path / "offline.wav")] + model) == 0
    offline = read_audio(tmp_path / "offline.wav").samples[0]
    np.testing.assert_allclose(read_audio(tmp_path / "out.wav").samples[0], offline, atol=1e-4)
    assert main(streamed + model + ["--hop-ms", "100"]) == 2
    assert "drop --hop-ms" in capsys.readouterr().err


def test_a_latency_target_the_default_cannot_reach_takes_the_bundled_low_latency_model(tmp_path, capsys):
    """The acceptance command, unpaced (so that the run waits for the worker and drops nothing
    whatever else the machine does): the planner says why it switches, and the latency it prints
    holds the target."""
    speech = read_audio(Path(__file__).resolve().parents[1] / "examples" / "speech_and_beeps.wav")
    write_audio(tmp_path / "mix.wav", resample(speech.samples[:, :64_000], speech.sample_rate_hz, 48_000), 48_000, "FLOAT")
    command = ["stream", "--input-file", str(tmp_path / "mix.wav"), "--output-file", str(tmp_path / "out.wav"), "-q", "speech"]
    assert main(command + ["--latency-ms", "30"]) == 0
    said = capsys.readouterr().err
    assert "taking the bundled low-latency model" in said and "low-latency model: frame 12 ms" in said
    assert float(re.search(r"^latency ([0-9.]+) ms: low-latency model", said, re.MULTILINE).group(1)) <= 30
    out = read_audio(tmp_path / "out.wav")
    assert out.sample_rate_hz == 48_000 and out.samples.shape == (1, 96_000)


@pytest.mark.parametrize("mask_logit, kept", [(30.0, 1.0), (-30.0, 0.0)])
def test_the_engine_says_how_much_of_the_input_the_separated_sound_takes(mask_logit, kept):
    """The live share of the input's energy that the separated sound takes (the app shows it, and says
    when the model found little): all of it for a mask of ones, none for a mask of zeros."""
    from realtime.stats import sound_share_text

    net = LowLatencyNet(CONFIG).eval()
    with torch.no_grad():
        net.decoder[-1].weight.zero_()
        net.decoder[-1].bias.fill_(mask_logit)
    rate = 48_000
    engine = Engine(net, _film(net, 1), EngineSettings(rate, 256, net.config, low_delay_resampling=True))
    assert np.isnan(engine.stats.sound_share) and sound_share_text(engine.stats.sound_share) == ""  # nothing heard yet
    below_12_khz = resample(_noise(2.0, 24_000)[None], 24_000, rate)[0]  # what the model's 32 kHz keeps whole
    stream_array(engine, below_12_khz)
    assert engine.stats.sound_share == pytest.approx(kept, abs=0.02)
    assert ("found little" in sound_share_text(engine.stats.sound_share)) == (kept == 0.0)
