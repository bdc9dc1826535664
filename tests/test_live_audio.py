"""Through a real audio server (JACK, dummy driver): the measured delay of the bypass path equals the
latency the engine reports, within one block; the bundled model separates a live speech + beeps mix;
a rate the server does not run at is refused before the model loads."""

from pathlib import Path

import numpy as np
import pytest
import torch

from audio.files import mono_at, read_audio
from models.config import SeparationConfig
from models.separator import Separator, default_checkpoint
from models.resunet import ResUNet30
from realtime.audio_io import DuplexStream, find_device
from realtime.engine import Controls, Engine, EngineSettings
from models.metrics import si_sdr
from tests.live_audio import PERIOD_FRAMES, RATE_HZ, LoopbackTester, delay_samples

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture
def server(jack):
    yield


def _run(engine, signal):
    stream = DuplexStream(engine, find_device("system", "input"), find_device("system", "output"), channels=(1, 1))
    stream.start()
    try:
        tester = LoopbackTester(signal)
        recorded = tester.wait()
        device_latency_s = stream.device_latency_s
    finally:
        stream.stop()
    return recorded, device_latency_s


def test_bypass_delay_equals_reported_latency(server):
    torch.manual_seed(0)
    net = ResUNet30(SeparationConfig(width=0.125)).eval()
    with torch.inference_mode():
        film = net.film(torch.nn.functional.normalize(torch.randn(1, 512), dim=-1))
    engine = Engine(net, film, EngineSettings(device_rate_hz=RATE_HZ, block_frames=PERIOD_FRAMES), Controls(bypass=True))
    signal = (0.2 * np.random.default_rng(0).standard_normal(3 * RATE_HZ)).astype(np.float32)
    recorded, device_latency_s = _run(engine, signal)
    reported = engine.latency_samples + device_latency_s * RATE_HZ
    measured = delay_samples(signal, recorded)
    assert abs(measured - reported) <= PERIOD_FRAMES, (measured, reported)
    assert engine.stats.dropouts == 0
    # PortAudio's timestamps add the physical ports' latency, which this client-to-client loop skips.
    assert engine.stats.measured_latency_s * RATE_HZ >= measured


def _speech_and_beeps() -> tuple[np.ndarray, np.ndarray]:
    """The README example (5 s of speech and beeps) and its speech, at the server's rate: a mixture the
    bundled model separates offline, so that the test measures the live path, not the model."""
    clips = [read_audio(EXAMPLES / name) for name in ("speech_and_beeps.wav", "speech_and_beeps.speech.wav")]
    return tuple(mono_at(clip.samples, clip.sample_rate_hz, RATE_HZ).astype(np.float32) for clip in clips)


def test_bundled_model_separates_speech_from_beeps_live(server):
    separator = Separator.from_checkpoint(default_checkpoint())
    condition = separator.embed_texts(["speech"])
    with torch.inference_mode():
        film = separator.separation_net.film(condition)
    mixture, target = _speech_and_beeps()
    for attempt in range(2):  # a loaded 2-core machine can glitch even JACK once
        engine = Engine(separator.separation_net, film, EngineSettings(device_rate_hz=RATE_HZ, block_frames=PERIOD_FRAMES))
        recorded, device_latency_s = _run(engine, np.concatenate([mixture, np.zeros(RATE_HZ, np.float32)]))
        if engine.stats.dropouts == 0:
            break
    delay = int(round(engine.latency_samples + device_latency_s * RATE_HZ))
    output = recorded[delay : delay + len(mixture)]
    skip = RATE_HZ // 2  # the engine's warm-up
    offline = separator.separate(mixture[None], RATE_HZ, condition)[0, 0]
    unprocessed_db = si_sdr(target[skip:], mixture[skip:])
    streamed_gain_db = si_sdr(target[skip:], output[skip:]) - unprocessed_db
    offline_gain_db = si_sdr(target[skip:], offline[skip:]) - unprocessed_db
    # the live path separates as the model does offline (the model's quality is lass eval's business)
    assert streamed_gain_db > 1.5 and streamed_gain_db > offline_gain_db - 1.5, (streamed_gain_db, offline_gain_db)


def test_a_rate_the_server_does_not_run_at_is_refused_before_the_model_loads(server, tmp_path, capsys):
    from cli.main import main

    missing_model = tmp_path / "no-such-model.safetensors"  # reached only if the rate check passed
    args = ["stream", "-q", "speech", "--input-device", "system", "--output-device", "system", "--checkpoint", str(missing_model)]
    assert main([*args, "--rate", "44100"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "does not open at 44100 Hz" in error and f"its own rate is {RATE_HZ} Hz" in error
    assert main([*args, "--rate", str(RATE_HZ)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err  # the rate passed; the model was next
