"""SeparationNet with the seeded official weights reproduces the official forward pass."""

import numpy as np
import pytest
import torch

from models.fast_path import InferenceOptions, optimize_for_inference
from models.stft import magnitude_phase
from tests import fixtures
from models.metrics import sdr

TOL = dict(atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def ref():
    return fixtures.load_reference("audiosep_parity")


def test_seeded_weights_match_fixture_checksums(official_separation_state):
    sums = fixtures.checksums("audiosep_parity")
    table = sums["values"]
    for key, tensor in official_separation_state.items():
        expected = table[key]
        if not expected.get("seeded", True):
            continue
        assert float(tensor.double().sum()) == pytest.approx(expected["sum"], rel=1e-6, abs=1e-6), key
        assert float(tensor.double().abs().sum()) == pytest.approx(expected["abs_sum"], rel=1e-6), key


@pytest.mark.parametrize("case", ["", "case_b_"])
def test_output_waveform_matches_official(seeded_separation_net, ref, case):
    with torch.inference_mode():
        out = seeded_separation_net(torch.from_numpy(ref[f"{case}input_waveform"]), torch.from_numpy(ref["condition"]))
    np.testing.assert_allclose(out.numpy(), ref[f"{case}output_waveform"], **TOL)


def test_intermediates_match_official(seeded_separation_net, ref):
    net = seeded_separation_net
    with torch.inference_mode():
        film = net.film(torch.from_numpy(ref["condition"]))
        spec = net.stft(torch.from_numpy(ref["input_waveform"]))
        magnitude, cos_in, _ = magnitude_phase(spec)
        captured = {}
        hook = net.base.conv_block7a.register_forward_hook(lambda m, i, o: captured.update(bottleneck=o[0]))
        logits = net.base(magnitude, film)
        hook.remove()
    assert list(film) == list(ref["film_names"])
    concat = torch.cat([v.flatten() for v in film.values()]).numpy()
    np.testing.assert_allclose(concat, ref["film_concat"], **TOL)
    np.testing.assert_allclose(magnitude.numpy(), ref["mag_in"], atol=1e-4)
    np.testing.assert_allclose((magnitude * cos_in).numpy(), ref["mag_in"] * ref["cos_in"], atol=1e-4)
    np.testing.assert_allclose(captured["bottleneck"].numpy(), ref["bottleneck"], **TOL)
    np.testing.assert_allclose(logits.numpy(), ref["mask_logits"], **TOL)


def test_film_offsets_once_per_query_equal_full_forward(seeded_separation_net, ref):
    net = seeded_separation_net
    x, c = torch.from_numpy(ref["input_waveform"]), torch.from_numpy(ref["condition"])
    with torch.inference_mode():
        np.testing.assert_array_equal(net.separate(x, net.film(c)).numpy(), net(x, c).numpy())


@pytest.mark.parametrize("case", ["", "case_b_"])
def test_fast_path_float32_matches_official(seeded_separation_net, ref, case):
    """BatchNorm folded, channels-last, FiLM once: the parity tolerance still holds."""
    fast = optimize_for_inference(seeded_separation_net, InferenceOptions(device="cpu", precision="float32"))
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.base.modules()) < sum(
        isinstance(m, torch.nn.BatchNorm2d) for m in seeded_separation_net.base.modules()
    )
    with torch.inference_mode():
        out = fast.separate(torch.from_numpy(ref[f"{case}input_waveform"]), fast.film(torch.from_numpy(ref["condition"])))
    np.testing.assert_allclose(out.numpy(), ref[f"{case}output_waveform"], **TOL)


@pytest.mark.parametrize("case", ["", "case_b_"])
def test_fast_path_bfloat16_within_stated_tolerance(seeded_separation_net, ref, case):
    fast = optimize_for_inference(seeded_separation_net, InferenceOptions(device="cpu", precision="bfloat16"))
    assert fast.base.encoder_block1.conv_block1.conv1.weight.dtype == torch.bfloat16
    with torch.inference_mode():
        out = fast.separate(torch.from_numpy(ref[f"{case}input_waveform"]), fast.film(torch.from_numpy(ref["condition"])))
    assert out.dtype == torch.float32
    assert sdr(ref[f"{case}output_waveform"], out.numpy()) >= fixtures.BF16_MIN_SNR_DB


def test_fast_path_leaves_the_loaded_net_unchanged(seeded_separation_net, ref):
    before = {k: v.clone() for k, v in seeded_separation_net.state_dict().items()}
    optimize_for_inference(seeded_separation_net, InferenceOptions(device="cpu"))
    after = seeded_separation_net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert seeded_separation_net.compute_dtype is None
