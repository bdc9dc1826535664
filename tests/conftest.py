import os

import pytest
import torch

from models.checkpoint import clap_state_from_official, separation_state_from_official
from models.clap import load_clap_encoder
from models.resunet import ResUNet30
from tests import fixtures

torch.set_num_threads(2)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def jack():
    """A JACK server (dummy driver) for the whole session; PortAudio sees it as device 'system'."""
    from testing.jack_server import jack_server

    with jack_server():
        yield


@pytest.fixture(scope="session")
def pipewire():
    """A private PipeWire server with WirePlumber; yields the environment that reaches it."""
    from testing.pipewire_server import pipewire_server

    with pipewire_server() as env:
        yield env


@pytest.fixture(scope="session")
def official_separation_state():
    return fixtures.official_separation_state()


@pytest.fixture(scope="session")
def official_clap_state():
    return fixtures.official_clap_state()


@pytest.fixture(scope="session")
def seeded_separation_net(official_separation_state):
    net = ResUNet30().eval()
    net.load_state_dict(separation_state_from_official(official_separation_state))
    return net


@pytest.fixture(scope="session")
def seeded_clap_encoder(official_clap_state):
    return load_clap_encoder(clap_state_from_official(official_clap_state), "seeded fixture weights")


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory, official_separation_state, official_clap_state):
    """An AudioSep Lightning checkpoint in the official layout, with seeded weights."""
    path = tmp_path_factory.mktemp("official") / "audiosep_base_4M_steps.ckpt"
    torch.save(fixtures.lightning_checkpoint(official_separation_state | official_clap_state), path)
    return path


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    return fixtures.write_small_roberta_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory):
    """A narrow ResUNet30 (width 0.25) with fixed random weights, as one of our bundles."""
    from models.config import SeparationConfig
    from models.loading import save_bundle

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bundle") / "small.safetensors"
    save_bundle(path, ResUNet30(SeparationConfig(width=0.25)).eval(), {}, "none")
    return path


@pytest.fixture
def stream_command(small_bundle, tmp_path):
    """A factory: writes ``seconds`` of noise at 48 kHz and a condition, and returns the noise and the
    ``lass stream`` arguments that stream it into ``out.wav`` with the small bundle."""
    import numpy as np

    from audio.files import write_audio

    def make(seconds):
        x = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * 48_000))).astype(np.float32)
        write_audio(tmp_path / "mix.wav", x[None], 48_000, "FLOAT")
        condition = np.random.default_rng(3).standard_normal(512).astype(np.float32)
        np.save(tmp_path / "c.npy", condition / np.linalg.norm(condition))
        args = ["stream", "--input-file", str(tmp_path / "mix.wav"), "--output-file", str(tmp_path / "out.wav")]
        return x, args + ["--embedding", str(tmp_path / "c.npy"), "--checkpoint", str(small_bundle)]

    return make
