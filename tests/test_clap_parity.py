"""QueryNet (CLAP) with the seeded official weights reproduces the official text and audio embeddings."""

import numpy as np
import pytest
import torch

from models.clap_frontend import repeat_pad, sinc_resample
from models.config import CLAP_SAMPLE_RATE_HZ, MODEL_SAMPLE_RATE_HZ
from tests import fixtures


@pytest.fixture(scope="module")
def ref():
    return fixtures.load_reference("clap_parity")


def test_seeded_weights_match_fixture_checksums(official_clap_state):
    table = fixtures.checksums("clap_parity")["values"]
    for key, tensor in official_clap_state.items():
        if table[key]["seeded"]:
            assert float(tensor.double().sum()) == pytest.approx(table[key]["sum"], rel=1e-6, abs=1e-5), key


def test_text_path_matches_official(seeded_clap_encoder, ref):
    enc = seeded_clap_encoder
    ids, mask = torch.from_numpy(ref["text_input_ids"]), torch.from_numpy(ref["text_attention_mask"])
    with torch.inference_mode():
        out = enc.clap.text_model(input_ids=ids, attention_mask=mask)
        features = enc.text_features(ids, mask)
        embed = enc.embed_tokens(ids, mask)
    tol = dict(atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(out.pooler_output.numpy(), ref["text_pooler_output"], **tol)
    np.testing.assert_allclose(out.last_hidden_state[:, 0].numpy(), ref["text_cls_hidden"], **tol)
    np.testing.assert_allclose(out.last_hidden_state[:, :32].numpy(), ref["text_last_hidden_first32"], **tol)
    np.testing.assert_allclose(features.numpy(), ref["text_projection_output"], **tol)
    np.testing.assert_allclose(embed.numpy(), ref["text_embed"], atol=1e-5)


@pytest.mark.parametrize("case", [0, 4])
def test_single_text_without_padding_matches_batch(seeded_clap_encoder, ref, case):
    length = int(ref["text_attention_mask"][case].sum())
    ids = torch.from_numpy(ref["text_input_ids"][case : case + 1, :length])
    with torch.inference_mode():
        embed = seeded_clap_encoder.embed_tokens(ids, torch.ones_like(ids))
    np.testing.assert_allclose(embed[0].numpy(), ref["text_embed"][case], atol=1e-5)


def test_long_text_is_not_truncated_at_77_tokens(seeded_clap_encoder, ref):
    ids = torch.from_numpy(ref["text_case4_trunc77_input_ids"])
    with torch.inference_mode():
        embed77 = seeded_clap_encoder.embed_tokens(ids, torch.ones_like(ids))
    np.testing.assert_allclose(embed77.numpy(), ref["text_case4_trunc77_embed"], atol=1e-5)
    assert np.abs(ref["text_embed"][4] - embed77[0].numpy()).max() > 0.01


@pytest.mark.parametrize("case", ["a", "b", "c"])
def test_audio_path_matches_official(seeded_clap_encoder, ref, case):
    enc = seeded_clap_encoder
    waveform = torch.from_numpy(ref[f"audio_{case}_waveform_32k"])
    with torch.inference_mode():
        waveform_48k = repeat_pad(sinc_resample(waveform, MODEL_SAMPLE_RATE_HZ, CLAP_SAMPLE_RATE_HZ))
        logmel = enc.logmel(waveform_48k)
        audio_encoder = enc.clap.audio_model.audio_encoder
        normalized = audio_encoder.batch_norm(logmel.transpose(1, 3)).transpose(1, 3)
        swin_input = audio_encoder.reshape_mel2img(normalized)
        htsat = enc.htsat_embedding(logmel)
        projection = enc.clap.audio_projection(htsat)
        embed = enc.embed_audio(waveform)
    np.testing.assert_allclose(waveform_48k[0].numpy(), ref[f"audio_{case}_waveform_48k"], atol=1e-5)
    np.testing.assert_allclose(logmel.numpy(), ref[f"audio_{case}_logmel"], atol=2e-3)
    np.testing.assert_allclose(swin_input.numpy(), ref[f"audio_{case}_swin_input"], atol=2e-2)
    np.testing.assert_allclose(htsat.numpy(), ref[f"audio_{case}_htsat_embedding"], atol=5e-5)
    np.testing.assert_allclose(projection.numpy(), ref[f"audio_{case}_projection_output"], atol=5e-5)
    np.testing.assert_allclose(embed.numpy(), ref[f"audio_{case}_embed"], atol=1e-6)
