"""Bad input, damaged models and hostile output places: one clear error, exit 2, and nothing written
or lost; short inputs separate; SIGTERM leaves no temporary file; non-finite samples never play."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from audio.files import read_audio, write_audio
from cli.main import main
from models.config import SeparationConfig
from models.loading import save_bundle
from models.resunet import ResUNet30
from realtime.engine import Engine, EngineSettings
from realtime.file_stream import stream_array
from tests.doubles import NanNet


@pytest.fixture
def condition(tmp_path):
    c = np.random.default_rng(10).standard_normal(512).astype(np.float32)
    np.save(tmp_path / "c.npy", c / np.linalg.norm(c))
    return str(tmp_path / "c.npy")


def _separate(mix, out, bundle, condition, *extra):
    return main(["separate", str(mix), "--checkpoint", str(bundle), "--embedding", condition, "-o", str(out), *extra])


def test_nan_input_is_refused_with_its_position_or_repaired(small_bundle, condition, tmp_path, capsys):
    x = (0.1 * np.random.default_rng(0).standard_normal((2, 32_000))).astype(np.float32)
    x[1, 16_000:16_010] = np.nan
    write_audio(tmp_path / "mix.wav", x, 32_000, "FLOAT")
    assert _separate(tmp_path / "mix.wav", tmp_path / "out.flac", small_bundle, condition) == 2
    error = capsys.readouterr().err
    assert "samples are NaN or infinite from 0.500 s (channel 2)" in error and "--repair-nonfinite" in error
    assert not (tmp_path / "out.flac").exists()
    assert _separate(tmp_path / "mix.wav", tmp_path / "out.flac", small_bundle, condition, "--repair-nonfinite") == 0
    assert np.isfinite(read_audio(tmp_path / "out.flac").samples).all()


def test_nan_weights_are_refused_before_any_output(condition, tmp_path, capsys):
    torch.manual_seed(0)
    net = ResUNet30(SeparationConfig(width=0.125)).eval()
    with torch.no_grad():
        net.base.pre_conv.weight[0, 0, 0, 0] = float("nan")
    save_bundle(tmp_path / "nan.safetensors", net, {}, "none")
    write_audio(tmp_path / "mix.wav", np.zeros((1, 8000), np.float32), 32_000)
    assert _separate(tmp_path / "mix.wav", tmp_path / "out.wav", tmp_path / "nan.safetensors", condition) == 2
    error = capsys.readouterr().err
    assert "NaN or infinite" in error and "base.pre_conv.weight" in error
    assert not (tmp_path / "out.wav").exists()


def _bundle_with_metadata(path, separation):
    """A complete width-0.125 bundle whose metadata claims ``separation`` (a JSON string)."""
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    save_bundle(path, ResUNet30(SeparationConfig(width=0.125)).eval(), {}, "none")
    save_file(load_file(path), path, metadata={"format": "lass-bundle-1", "separation": separation, "query_net": "none"})
    return path


@pytest.mark.parametrize("separation, said", [
    ('{"width": 999}', "base.after_conv.weight (3, 4, 1, 1) != (3, 31968, 1, 1)"),  # 36.8 GB if built
    ('{"width": 6}', "wrong shapes"),
    ('{"width": 0.125, "depth": 3}', "unknown model settings ['depth']"),
    ('{"width": -1}', "sets width to -1; it must be a positive number"),
    ('{"width": 0.125, "input_channels": "2"}', "sets input_channels to '2'; it must be a positive whole number"),
    ("{not json", "'separation' metadata is not JSON"),
])
def test_lying_bundle_metadata_is_refused_before_the_model_is_built(condition, tmp_path, capsys, separation, said):
    bundle = _bundle_with_metadata(tmp_path / "lying.safetensors", separation)
    write_audio(tmp_path / "mix.wav", np.zeros((1, 8000), np.float32), 32_000)
    assert _separate(tmp_path / "mix.wav", tmp_path / "out.wav", bundle, condition) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"lass: error: {bundle}") and said in error
    assert not (tmp_path / "out.wav").exists()


def test_an_embedding_of_strings_is_one_clear_error(small_bundle, tmp_path, capsys):
    np.save(tmp_path / "words.npy", np.array(["x"] * 512))
    write_audio(tmp_path / "mix.wav", np.zeros((1, 8000), np.float32), 32_000)
    assert _separate(tmp_path / "mix.wav", tmp_path / "out.wav", small_bundle, str(tmp_path / "words.npy")) == 2
    assert "holds <U1 values, not numbers" in capsys.readouterr().err


@pytest.mark.parametrize("samples, rate", [(1000, 32_000), (1, 32_000), (1000, 44_100)])
def test_short_inputs_separate(small_bundle, condition, tmp_path, samples, rate):
    write_audio(tmp_path / "mix.wav", np.full((1, samples), 0.1, np.float32), rate)
    assert _separate(tmp_path / "mix.wav", tmp_path / "out.wav", small_bundle, condition) == 0
    out = read_audio(tmp_path / "out.wav")
    assert out.samples.shape == (1, samples) and np.isfinite(out.samples).all()


def test_output_places_are_checked_before_any_work(condition, tmp_path, capsys):
    mix = tmp_path / "mix.wav"
    write_audio(mix, np.zeros((1, 8000), np.float32), 32_000)
    missing_model = tmp_path / "no-such-model.safetensors"  # reached only if the output check passed
    assert _separate(mix, "/proc/lass/out.wav", missing_model, condition) == 2
    assert "is not writable" in capsys.readouterr().err
    before = mix.read_bytes()
    assert _separate(mix, mix, missing_model, condition) == 2
    assert "refusing to overwrite the input" in capsys.readouterr().err and mix.read_bytes() == before


def test_a_replaced_output_keeps_its_mode_and_a_link_keeps_pointing(tmp_path):
    target = tmp_path / "real.wav"
    write_audio(target, np.zeros((1, 100), np.float32), 32_000)
    target.chmod(0o640)
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    write_audio(link, np.ones((1, 200), np.float32) * 0.5, 32_000)
    assert link.is_symlink() and sf.info(target).frames == 200
    assert target.stat().st_mode & 0o777 == 0o640


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path):
    code = (
        "import numpy as np; from cli.main import exit_on_sigterm; from audio.files import write_audio; exit_on_sigterm(); "
        f"x = np.zeros((2, 60_000_000), np.float32); print('writing', flush=True); write_audio({str(tmp_path / 'big.wav')!r}, x, 48_000)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".big.wav.*.part")) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert os.listdir(tmp_path) == []


RECORD_UNTIL_THE_DISK_IS_FULL = """
import json, resource, signal, sys, time
from pathlib import Path
import numpy as np, torch
from models.config import SeparationConfig
from models.resunet import ResUNet30
from realtime.engine import Engine, EngineSettings
from realtime.recorder import Recorder

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
net = ResUNet30(SeparationConfig(width=0.125)).eval()
with torch.inference_mode():
    film = net.film(torch.nn.functional.normalize(torch.ones(1, 512), dim=-1))
engine = Engine(net, film, EngineSettings(device_rate_hz=32_000))
folder = Path(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # files stop at 200 kB, as on a full disk
recorder = Recorder(engine, folder / "out.wav", folder / "in.wav")
block, played = np.full(512, 0.1, np.float32), np.zeros(512, np.float32)
deadline = time.monotonic() + 30
while recorder.error is None and time.monotonic() < deadline:
    engine.process_block(block, played)  # no worker: the callback plays the dry input
    time.sleep(0.002)
paths = recorder.stop()
print(json.dumps({"error": recorder.error, "paths": [str(p) for p in paths]}))
"""


def test_a_recording_that_fails_says_why_and_keeps_what_was_recorded(tmp_path):
    import json

    done = subprocess.run([sys.executable, "-c", RECORD_UNTIL_THE_DISK_IS_FULL, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["error"].startswith("recording stopped after") and "is the disk full?" in result["error"]
    assert str(tmp_path / "out.wav") in result["error"] or str(tmp_path / "in.wav") in result["error"]
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "out.wav"]  # published, no temporary file left
    played = sf.read(tmp_path / "out.wav", dtype="float32")[0]
    first = int(np.argmax(played != 0))  # silence for the engine's latency, then the dry input
    assert 20_000 < len(played) <= 50_000 and first > 0 and np.all(played[first:] == np.float32(0.1))


def test_nonfinite_model_output_never_reaches_the_speakers():
    torch.manual_seed(0)
    net = NanNet(SeparationConfig(width=0.125)).eval()
    with torch.inference_mode():
        film = net.film(torch.nn.functional.normalize(torch.randn(1, 512), dim=-1))
    engine = Engine(net, film, EngineSettings(device_rate_hz=32_000))
    out = stream_array(engine, (0.1 * np.random.default_rng(0).standard_normal(32_000)).astype(np.float32))
    assert np.isfinite(out).all() and engine.stats.nonfinite_samples > 0
