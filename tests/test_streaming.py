"""The streaming core and the real-time engine: agreement with offline, exact dry paths, latency,
query changes without clicks, and a slow worker that never stalls the callback."""

import sys
import threading
import time

import numpy as np
import pytest
import torch

from models.config import HOP_LENGTH, N_FREQ_BINS, SeparationConfig, ms_to_samples
from models.resunet import ResUNet30
from realtime.engine import WORKER_SWITCH_INTERVAL_S, Controls, Engine, EngineFailure, EngineSettings
from realtime.file_stream import stream_array
from realtime.streaming import StreamingSeparator, StreamSettings
from realtime.window_pass import WindowPass
from tests.doubles import SlowEngine
from models.metrics import sdr


def _noise(seconds, rate, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(0)
    return ResUNet30(SeparationConfig(width=0.125)).eval()


def _film(net, seed):
    condition = torch.from_numpy(np.random.default_rng(seed).standard_normal((1, 512)).astype(np.float32))
    with torch.inference_mode():
        return net.film(torch.nn.functional.normalize(condition, dim=-1))


def _stream(separator, x, block):
    return np.concatenate([separator.feed(x[i : i + block]) for i in range(0, len(x), block)] + [separator.flush()])


def test_streamed_matches_offline_full_model(seeded_separation_net):
    """Default W/H/L, the full-size seeded AudioSep model: >= 30 dB against one offline pass."""
    net = seeded_separation_net
    film = _film(net, 1)
    x = _noise(3.0, 32_000, seed=5)
    with torch.inference_mode():
        offline = net.separate(torch.from_numpy(x)[None, None], film)[0, 0].numpy()
    streamed = _stream(StreamingSeparator(net, film), x, block=1000)
    assert len(streamed) == len(x)
    assert sdr(offline, streamed) >= 30


@pytest.mark.parametrize("rate", [32_000, 48_000, 44_100])
def test_engine_dry_paths_are_exact(small_net, rate):
    film = _film(small_net, 1)
    x = _noise(1.5, rate)
    bypass = stream_array(Engine(small_net, film, EngineSettings(device_rate_hz=rate), Controls(bypass=True)), x)
    np.testing.assert_array_equal(bypass, x)
    isolated = stream_array(Engine(small_net, film, EngineSettings(device_rate_hz=rate)), x)
    removed = stream_array(Engine(small_net, film, EngineSettings(device_rate_hz=rate), Controls(remove=True)), x)
    np.testing.assert_allclose(isolated + removed, x, atol=1e-6)
    assert sdr(x, isolated) < 20  # the model did something


def test_a_broken_input_never_reaches_the_speakers_through_the_dry_mix(small_net):
    """NaN and infinite input samples (a failing device) are silence in every mix with dry signal."""
    x = _noise(1.0, 32_000)
    x[8_000:8_100], x[20_000] = np.nan, np.inf
    for controls in (Controls(remove=True), Controls(wet=0.5), Controls(bypass=True)):
        engine = Engine(small_net, _film(small_net, 1), EngineSettings(device_rate_hz=32_000), controls)
        out = stream_array(engine, x.copy())
        assert np.isfinite(out).all(), controls
        assert engine.stats.nonfinite_samples == 101
    np.testing.assert_array_equal(out, np.where(np.isfinite(x), x, 0.0))  # bypassed: the rest is the input, exactly


def test_where_the_worker_is_late_remove_plays_silence_and_isolate_the_dry_input(small_net):
    """No worker runs: every block is late. Remove must not bring back what it removes; the measured
    defaults (benchmarks/fallback.py) are silence there and the dry input when isolating or bypassed."""
    rate, block, blocks_per_mode = 32_000, 512, 40
    engine = Engine(small_net, _film(small_net, 1), EngineSettings(device_rate_hz=rate))
    modes = ({"remove": False}, {"remove": True}, {"bypass": True}, {"bypass": False})
    x = _noise(len(modes) * blocks_per_mode * block / rate, rate)
    played = np.zeros_like(x)
    for index, mode in enumerate(modes):
        engine.set_controls(**mode)
        for i in range(index * blocks_per_mode, (index + 1) * blocks_per_mode):
            engine.process_block(x[i * block : (i + 1) * block], played[i * block : (i + 1) * block])
    delay = engine.latency_samples
    assert delay < blocks_per_mode * block
    length = blocks_per_mode * block
    played_in, dry_in = (lambda k: played[k * length : (k + 1) * length]), (lambda k: x[k * length - delay : (k + 1) * length - delay])
    np.testing.assert_array_equal(played_in(0)[delay:], x[: length - delay])  # isolate: the dry input
    assert not played_in(1).any()  # remove: silence
    np.testing.assert_array_equal(played_in(2), dry_in(2))  # bypass: the dry input
    assert not played_in(3).any()  # remove again
    assert engine.stats.dropouts == len(modes) * blocks_per_mode - -(-delay // block)


def test_engine_equals_streaming_core_at_model_rate(small_net):
    film = _film(small_net, 2)
    x = _noise(2.0, 32_000)
    engine = Engine(small_net, film, EngineSettings(device_rate_hz=32_000))
    np.testing.assert_allclose(stream_array(engine, x), _stream(StreamingSeparator(small_net, film), x, 640), atol=1e-6)
    assert engine.stats.dropouts == 0


def test_latency_is_computed_from_the_settings(small_net):
    settings = EngineSettings(device_rate_hz=32_000, block_frames=256, stream=StreamSettings(40640, 1600, 960, 800))
    engine = Engine(small_net, _film(small_net, 1), settings)
    assert settings.stream.latency_samples == 1600 + 960 + 800
    assert engine.latency_samples == 256 + 3360 + 1600  # block + algorithmic + one hop of compute margin
    x = np.zeros(32_000, np.float32)
    x[5000] = 1.0
    engine = Engine(small_net, _film(small_net, 1), settings, Controls(bypass=True))
    engine.start()
    out = np.zeros(len(x) + engine.latency_samples + 256, np.float32)
    padded = np.concatenate([x, np.zeros(len(out) - len(x), np.float32)])
    try:
        for start in range(0, len(out) - 255, 256):
            while engine.output_ring.written < start - engine.latency_samples + 256 and not engine.worker_idle():
                time.sleep(0.0005)
            engine.process_block(padded[start : start + 256], out[start : start + 256])
    finally:
        engine.stop()
    assert int(np.argmax(np.abs(out))) == 5000 + engine.latency_samples


def test_a_running_stream_hands_the_interpreter_lock_around_often_and_gives_the_setting_back(small_net):
    """While the worker runs, no other Python thread (a view drawing) holds it off for Python's default
    5 ms; once stopped the interpreter is as it was."""
    before_s = sys.getswitchinterval()
    engine = Engine(small_net, _film(small_net, 1), EngineSettings(device_rate_hz=32_000))
    engine.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(min(before_s, WORKER_SWITCH_INTERVAL_S))
    finally:
        engine.stop()
    assert sys.getswitchinterval() == before_s


def test_query_change_is_click_free_and_in_effect_within_one_hop(small_net):
    film_a, film_b = _film(small_net, 1), _film(small_net, 2)
    settings = StreamSettings()
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(64_000) / 32_000)).astype(np.float32) + _noise(2.0, 32_000)
    change = 32_000
    only_a = _stream(StreamingSeparator(small_net, film_a), x, 320)
    only_b = _stream(StreamingSeparator(small_net, film_b), x, 320)
    switching = StreamingSeparator(small_net, film_a)
    first = switching.feed(x[:change])
    switching.set_condition(film_b)
    out = np.concatenate([first, switching.feed(x[change:]), switching.flush()])
    # Hops are final up to (input - lookahead - crossfade); the new query governs from there on.
    switch_at = change - settings.lookahead_samples - settings.crossfade_samples
    np.testing.assert_allclose(out[:switch_at], only_a[:switch_at], atol=1e-6)
    settled = switch_at + settings.crossfade_samples + settings.hop_samples
    np.testing.assert_allclose(out[settled:], only_b[settled:], atol=1e-6)
    assert settled - change <= settings.hop_samples  # in effect within one hop of the change
    own_jump = max(np.abs(np.diff(only_a)).max(), np.abs(np.diff(only_b)).max())
    assert np.abs(np.diff(out)).max() <= own_jump


def test_slow_worker_never_stalls_the_callback_and_recovers(small_net):
    """Paced like a device; the worker is slowed on purpose for 1 s, then runs freely again."""
    rate = 32_000
    engine = SlowEngine(small_net, _film(small_net, 1), EngineSettings(device_rate_hz=rate, block_frames=512))
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4 * rate) / rate)).astype(np.float32)

    recovered = {}

    def slow_down():
        time.sleep(1.0)
        engine.delay_s = 0.5
        time.sleep(1.0)
        engine.delay_s = 0.0
        time.sleep(0.8)
        recovered["dropouts"] = engine.stats.dropouts

    threading.Thread(target=slow_down, daemon=True).start()
    out = stream_array(engine, x, realtime=True)
    stats = engine.stats.snapshot()
    assert stats.dropouts > 0 and stats.dropped_hops > 0
    assert stats.callbacks_over_budget == 0 and stats.callback_max_ms < 1000 * 512 / rate
    assert engine.stats.dropouts == recovered["dropouts"]  # no dropout in the last 1.2 s: caught up
    blocks = out[: len(out) // 512 * 512].reshape(-1, 512)
    assert np.isfinite(out).all() and (np.sqrt((blocks**2).mean(axis=1)) > 1e-3).all()  # never silent


def test_stream_command_file_mode_matches_the_engine(stream_command, tmp_path):
    from audio.files import read_audio
    from cli.main import main

    x, args = stream_command(2.0)
    common = ["--hop-ms", "100", "--window-ms", "1270"]
    assert main(args + common + ["--mode", "remove", "--wet", "0.5"]) == 0
    out = read_audio(tmp_path / "out.wav")
    assert out.sample_rate_hz == 48_000 and out.samples.shape == (1, len(x))
    assert main(args + common + ["--wet", "0"]) == 0
    np.testing.assert_allclose(read_audio(tmp_path / "out.wav").samples[0], x, atol=1e-6)  # fully dry


def test_stream_command_file_mode_keeps_every_channel(stream_command, tmp_path):
    """Each channel of a stereo file streams as that channel alone would."""
    from audio.files import read_audio, write_audio
    from cli.main import main

    x, args = stream_command(1.5)
    y = np.roll(x, 4_800)[::-1].copy()
    common = ["--hop-ms", "100"]
    assert main(args + common) == 0
    mono_x = read_audio(tmp_path / "out.wav").samples[0]
    write_audio(tmp_path / "mix.wav", y[None], 48_000, "FLOAT")
    assert main(args + common) == 0
    mono_y = read_audio(tmp_path / "out.wav").samples[0]
    write_audio(tmp_path / "mix.wav", np.stack([x, y]), 48_000, "FLOAT")
    assert main(args + common) == 0
    stereo = read_audio(tmp_path / "out.wav")
    assert stereo.samples.shape == (2, len(x))
    np.testing.assert_allclose(stereo.samples[0], mono_x, atol=1e-6)
    np.testing.assert_allclose(stereo.samples[1], mono_y, atol=1e-6)


class IdentityNet:
    """A test double for the separation net whose estimate is its input: streamed through any setting,
    the output must then be the input itself, sample for sample, from the first to the last."""

    device = torch.device("cpu")

    def eval(self):
        return self

    def separate(self, mixture, film):
        return mixture

    def separate_combined(self, mixture, film, excluded=0):
        frames = torch.zeros(1, 1, mixture.shape[-1] // HOP_LENGTH + 1, N_FREQ_BINS)
        return mixture, frames, frames


# (hop, look-ahead, crossfade) in ms: look-ahead longer than hop + crossfade, none at all, and the usual.
STREAM_GRID_MS = [(10, 40, 10), (5, 40, 5), (10, 300, 10), (10, 0, 10), (50, 0, 25), (20, 20, 20), (100, 100, 100)]


def _grid_settings(hop_ms, lookahead_ms, crossfade_ms):
    return StreamSettings(40_640, ms_to_samples(hop_ms), ms_to_samples(lookahead_ms), ms_to_samples(crossfade_ms))


@pytest.mark.parametrize("block", [37, 1000])
@pytest.mark.parametrize("hop_ms, lookahead_ms, crossfade_ms", STREAM_GRID_MS)
def test_every_setting_streams_every_sample(hop_ms, lookahead_ms, crossfade_ms, block):
    x = _noise(0.5, 32_000, seed=7)
    streamed = _stream(StreamingSeparator(IdentityNet(), {}, _grid_settings(hop_ms, lookahead_ms, crossfade_ms)), x, block)
    assert len(streamed) == len(x)
    np.testing.assert_allclose(streamed, x, atol=1e-6)


@pytest.mark.parametrize("hop_ms, lookahead_ms, crossfade_ms", STREAM_GRID_MS)
def test_every_setting_agrees_with_offline_when_the_window_holds_the_input(small_net, hop_ms, lookahead_ms, crossfade_ms):
    """0.5 s of input inside a 1.27 s window: every hop sees all of it, as one offline pass does. Without
    look-ahead the newest frames of each hop see no future, so they agree less."""
    film = _film(small_net, 1)
    x = _noise(0.5, 32_000, seed=5)
    with torch.inference_mode():
        offline = small_net.separate(torch.from_numpy(x)[None, None], film)[0, 0].numpy()
    separator = StreamingSeparator(small_net, film, _grid_settings(hop_ms, lookahead_ms, crossfade_ms))
    streamed = _stream(separator, x, 1000)
    assert len(streamed) == len(x)
    assert sdr(offline, streamed) >= (25 if lookahead_ms >= 20 else 12)


def test_stream_command_with_a_long_lookahead(stream_command, tmp_path):
    """The reported crash: hop 10 ms with a 40 ms look-ahead, end to end through the CLI."""
    from audio.files import read_audio
    from cli.main import main

    x, args = stream_command(1.0)
    assert main(args + ["--hop-ms", "10", "--lookahead-ms", "40"]) == 0
    out = read_audio(tmp_path / "out.wav")
    assert out.samples.shape == (1, len(x)) and np.isfinite(out.samples).all()


class FailingNet(IdentityNet):
    """A test double for a separation net that fails on every pass (a CUDA error, a bad kernel...)."""

    def separate_combined(self, mixture, film, excluded=0):
        raise RuntimeError("device lost")


def test_a_failing_worker_is_reported_not_waited_for(small_net):
    engine = Engine(small_net, _film(small_net, 1), EngineSettings(device_rate_hz=32_000))
    engine.separator.window_pass = WindowPass(FailingNet(), {}, engine.settings.stream)
    with pytest.raises(EngineFailure, match="device lost"):
        stream_array(engine, _noise(1.0, 32_000))
