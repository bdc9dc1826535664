"""Official checkpoint formats load unchanged and compute the reference numbers; unsafe files are refused."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from audio.files import read_audio, write_audio
from cli.main import main
from models.checkpoint import read_state_dict
from models.clap import load_clap_encoder
from models.checkpoint import clap_state_from_official
from models.errors import ModelLoadingError
from models.config import SeparationConfig
from models.loading import load_clap_query_net, load_query_net, load_separation_net, save_bundle
from models.minilm import QUERY_KIND, QueryProjection
from models.resunet import ResUNet30
from models.separator import Separator
from tests import fixtures
from models.metrics import sdr


@pytest.fixture(scope="module")
def ref():
    return fixtures.load_reference("audiosep_parity")


def test_official_lightning_checkpoint_reproduces_fixture(official_checkpoint, ref):
    net = load_separation_net(official_checkpoint)
    with torch.inference_mode():
        out = net(torch.from_numpy(ref["input_waveform"]), torch.from_numpy(ref["condition"]))
    np.testing.assert_allclose(out.numpy(), ref["output_waveform"], atol=1e-5, rtol=1e-4)


def test_cli_with_official_checkpoint_reproduces_fixture(official_checkpoint, ref, tmp_path):
    wav, emb, out = tmp_path / "in.wav", tmp_path / "condition.npy", tmp_path / "out.wav"
    write_audio(wav, ref["input_waveform"][0], 32_000, "FLOAT")
    np.save(emb, ref["condition"])
    common = [str(wav), "--embedding", str(emb), "--checkpoint", str(official_checkpoint), "-o", str(out)]
    assert main(["separate", *common, "--precision", "float32"]) == 0
    np.testing.assert_allclose(read_audio(out).samples, ref["output_waveform"][0], atol=1e-5, rtol=1e-4)
    assert main(["separate", *common]) == 0  # the default: reduced precision where the CPU has it
    assert sdr(ref["output_waveform"][0], read_audio(out).samples) >= fixtures.BF16_MIN_SNR_DB


def test_query_encoder_loads_from_audiosep_and_laion_layouts(official_checkpoint, official_clap_state, tokenizer_dir, tmp_path):
    laion = tmp_path / "music_speech_audioset_epoch_15_esc_89.98.pt"
    state = {"module." + k[len(fixtures.CLAP_PREFIX) :]: v for k, v in official_clap_state.items()}
    torch.save({"epoch": 15, "state_dict": state}, laion)
    from_audiosep = load_clap_query_net(official_checkpoint, tokenizer_dir)
    from_laion = load_clap_query_net(laion, tokenizer_dir)
    texts = ["dog barking", "a bar"]
    np.testing.assert_array_equal(from_audiosep.embed_texts(texts).numpy(), from_laion.embed_texts(texts).numpy())
    embedding = from_audiosep.embed_texts(texts)
    assert embedding.shape == (2, 512)
    np.testing.assert_allclose(embedding.norm(dim=-1).numpy(), 1.0, atol=1e-6)


def test_cli_embed_matches_api_and_feeds_separate(official_checkpoint, tokenizer_dir, tmp_path):
    emb = tmp_path / "dog.npy"
    common = ["--checkpoint", str(official_checkpoint), "--tokenizer", str(tokenizer_dir)]
    assert main(["embed", "-q", "dog barking", "-o", str(emb), *common]) == 0
    separator = Separator.from_checkpoint(official_checkpoint, tokenizer_dir=tokenizer_dir)
    np.testing.assert_allclose(np.load(emb), separator.embed_texts(["dog barking"])[0].numpy(), atol=1e-6)
    mix = tmp_path / "mix.wav"
    write_audio(mix, 0.1 * np.random.default_rng(0).standard_normal((1, 16_000)).astype(np.float32), 16_000)
    by_text, by_embedding = tmp_path / "text.wav", tmp_path / "emb.wav"
    assert main(["separate", str(mix), "-q", "dog barking", "-o", str(by_text), *common]) == 0
    assert main(["separate", str(mix), "--embedding", str(emb), "-o", str(by_embedding), *common]) == 0
    np.testing.assert_allclose(read_audio(by_text).samples, read_audio(by_embedding).samples, atol=1e-4)


def test_every_kind_of_query_becomes_its_condition_in_one_place(official_checkpoint, tokenizer_dir, tmp_path):
    """Separator.condition: a description, a saved condition and an example clip."""
    separator = Separator.from_checkpoint(official_checkpoint, tokenizer_dir=tokenizer_dir)
    by_text = separator.condition("dog barking")
    np.testing.assert_array_equal(by_text.numpy(), separator.embed_texts(["dog barking"]).numpy())
    np.save(tmp_path / "dog.npy", by_text[0].numpy())
    np.testing.assert_array_equal(separator.condition(tmp_path / "dog.npy").numpy(), by_text.numpy())
    clip = 0.1 * np.random.default_rng(1).standard_normal((2, 24_000)).astype(np.float32)
    write_audio(tmp_path / "bark.wav", clip, 24_000, "FLOAT")
    by_clip = separator.condition(tmp_path / "bark.wav")
    assert by_clip.shape == (1, 512)
    np.testing.assert_allclose(by_clip.numpy(), separator.embed_audio(clip, 24_000).numpy(), atol=1e-6)


def test_safetensors_bundle_round_trip(official_checkpoint, ref, tmp_path):
    net = load_separation_net(official_checkpoint)
    clap_state = clap_state_from_official(read_state_dict(official_checkpoint))
    bundle = tmp_path / "model.safetensors"
    save_bundle(bundle, net, load_clap_encoder(clap_state, "x").state_dict(), "clap")
    again = load_separation_net(bundle)
    with torch.inference_mode():
        out = again(torch.from_numpy(ref["input_waveform"]), torch.from_numpy(ref["condition"]))
    np.testing.assert_allclose(out.numpy(), ref["output_waveform"], atol=1e-5, rtol=1e-4)


class RunsCode:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_pickled_code_is_refused(official_separation_state, tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.ckpt"
    torch.save(fixtures.lightning_checkpoint(official_separation_state) | {"hyper_parameters": RunsCode(marker)}, path)
    with pytest.raises(ModelLoadingError, match="pickled Python objects"):
        read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 truncated zip"])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path, content):
    path = tmp_path / "broken.ckpt"
    path.write_bytes(content)
    with pytest.raises(ModelLoadingError, match="broken.ckpt"):
        read_state_dict(path)


def test_truncated_real_checkpoint_is_a_clear_error(official_checkpoint, tmp_path):
    path = tmp_path / "truncated.ckpt"
    with open(official_checkpoint, "rb") as handle:
        path.write_bytes(handle.read(5_000_000))
    with pytest.raises(ModelLoadingError, match="truncated.ckpt"):
        read_state_dict(path)


@pytest.mark.parametrize("shape, offsets", [
    ([16, 1024, 1024, 1024], [0, 64 * 1024**3]),  # 64 GB declared, 64 bytes present
    ([4], [0, 1 << 62]),  # offsets that disagree with the shape
])
def test_safetensors_that_declare_more_than_they_hold_are_refused(tmp_path, shape, offsets):
    import json
    import struct

    header = json.dumps({"ss_model.base.pre_conv.weight": {"dtype": "F32", "shape": shape, "data_offsets": offsets}}).encode()
    path = tmp_path / "lying.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(64))
    with pytest.raises(ModelLoadingError, match="lying.safetensors is not a readable safetensors file"):
        read_state_dict(path)


def test_wrong_keys_are_listed_by_name(official_separation_state, tmp_path):
    state = dict(official_separation_state)
    del state["ss_model.base.after_conv.bias"]
    state["ss_model.base.extra_layer.weight"] = torch.zeros(3)
    path = tmp_path / "odd.ckpt"
    torch.save(fixtures.lightning_checkpoint(state), path)
    with pytest.raises(ModelLoadingError) as error:
        load_separation_net(path)
    assert "base.after_conv.bias" in str(error.value) and "base.extra_layer.weight" in str(error.value)


def test_missing_checkpoint_via_the_installed_command(tmp_path):
    wav = tmp_path / "in.wav"
    write_audio(wav, np.zeros((1, 3200), np.float32), 32_000)
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "separate", str(wav), "-q", "dog", "--checkpoint", str(tmp_path / "none.ckpt"), "-o", str(tmp_path / "o.wav")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "checkpoint not found" in result.stderr and "none.ckpt" in result.stderr
    assert not (tmp_path / "o.wav").exists()


def test_bundle_with_a_broken_caption_memory_is_a_clear_error(tmp_path):
    projection = {f"projection.{k}": v for k, v in QueryProjection().state_dict().items()}
    path = tmp_path / "half.safetensors"
    save_bundle(path, ResUNet30(SeparationConfig(width=0.125)), projection | {"memory.features": torch.zeros(2, 384)}, QUERY_KIND)
    with pytest.raises(ModelLoadingError, match="half.safetensors: the caption memory"):
        load_query_net(path)
