"""Room effects on training mixtures: reproducible, the right shape and level, noise never in a target;
changes of speed that move the pitch by the speed drawn."""

import numpy as np
import pytest

from models.config import MODEL_SAMPLE_RATE_HZ
from models.errors import UserError
from tests.doubles import TonePool
from training.data import GeneratedSources, MixConfig, Mixtures
from training.effects import RoomEffects, change_speed, coloured_noise, equalize, reverberate, room_response, samples_read

ALWAYS = RoomEffects(reverb_probability=1.0, eq_probability=1.0, noise_probability=1.0)


def test_room_response_decays_by_60_db_over_its_rt60():
    response = room_response(np.random.default_rng(0), rt60_s=0.5, direct_to_reverb_db=6.0)
    assert len(response) == MODEL_SAMPLE_RATE_HZ // 2 and response[0] == 1.0
    tail = response[1:]
    assert 10 * np.log10(np.sum(tail**2)) == pytest.approx(-6.0, abs=1e-6)  # direct path 6 dB above the tail
    tenth = len(tail) // 10
    early, late = np.sum(tail[:tenth] ** 2), np.sum(tail[-tenth:] ** 2)
    assert 10 * np.log10(early / late) == pytest.approx(54.0, abs=3.0)  # the two ends are 0.9 RT60 apart


def test_reverberation_keeps_the_length_and_adds_a_tail():
    click = np.zeros(8_000, np.float32)
    click[100] = 1.0
    wet = reverberate(click, room_response(np.random.default_rng(1), 0.1, 0.0))
    assert wet.shape == click.shape and wet[100] == pytest.approx(1.0, abs=1e-5)
    assert np.abs(wet[101:2_000]).max() > 1e-3 and np.abs(wet[:100]).max() < 1e-5  # after the click, not before


def test_eq_stays_within_its_range():
    x = np.random.default_rng(2).standard_normal(32_000).astype(np.float32)
    y = equalize(np.random.default_rng(3), x, max_db=6.0)
    ratio_db = 20 * np.log10(np.abs(np.fft.rfft(y))[100:] / np.abs(np.fft.rfft(x))[100:])
    assert ratio_db.max() <= 6.0 + 1e-3 and ratio_db.min() >= -6.0 - 1e-3 and np.ptp(ratio_db) > 1.0


def test_coloured_noise_has_unit_level_and_its_slope():
    brown = coloured_noise(np.random.default_rng(4), 64_000, slope_db_per_octave=-6.0)
    assert np.sqrt(np.mean(brown**2)) == pytest.approx(1.0, rel=1e-5)
    power = np.abs(np.fft.rfft(brown)) ** 2
    frequencies = np.fft.rfftfreq(len(brown), 1 / MODEL_SAMPLE_RATE_HZ)
    low, high = power[(frequencies > 200) & (frequencies < 400)].mean(), power[(frequencies > 3200) & (frequencies < 6400)].mean()
    assert 10 * np.log10(low / high) == pytest.approx(6.0 * 4, abs=3.0)  # four octaves apart


def test_mixtures_with_effects_are_reproducible_and_noise_stays_out_of_the_target():
    config = MixConfig(segment_samples=16_000, effects=ALWAYS)
    data = Mixtures(GeneratedSources(), 6, seed=3, config=config)
    first, again = data[4], data[4]
    np.testing.assert_array_equal(first["mixture"].numpy(), again["mixture"].numpy())
    dry = Mixtures(GeneratedSources(), 6, seed=3, config=MixConfig(segment_samples=16_000))[4]
    assert not np.allclose(first["target"].numpy(), dry["target"].numpy())  # the target went through the room too
    for item in (data[i] for i in range(6)):
        mixture, target = item["mixture"].numpy(), item["target"].numpy()
        assert mixture.shape == target.shape == (1, 16_000) and np.isfinite(mixture).all()
        assert np.abs(mixture).max() <= config.peak_limit + 1e-6


def test_evaluation_mixtures_stay_dry_and_unchanged():
    """Without effects the draws are those of the code before effects existed (its values, recorded,
    with the beeps drawn at every length and duty cycle since): held-out sets keep their numbers."""
    config = MixConfig(segment_samples=16_000)
    assert config.effects is None
    item = Mixtures(GeneratedSources("heldout"), 4, seed=1234, split="heldout", config=config, snr_db=0.0)[1]
    mixture = item["mixture"].numpy()
    assert (item["label"], item["caption"]) == ("beeps", "an alarm going off")
    assert float(np.sum(mixture**2)) == pytest.approx(26.553096771240234, rel=1e-6)
    assert float(mixture[0, :5].sum()) == pytest.approx(0.17214953899383545, rel=1e-6)


def peak_hz(samples: np.ndarray) -> float:
    return float(np.fft.rfftfreq(len(samples), 1 / MODEL_SAMPLE_RATE_HZ)[np.abs(np.fft.rfft(samples)).argmax()])


@pytest.mark.parametrize("speed", [0.75, 1.0, 1.25])  # sixteenths: the speeds drawn are quantised to them
def test_a_change_of_speed_moves_the_pitch_by_the_speed_and_keeps_the_length(speed):
    n = MODEL_SAMPLE_RATE_HZ
    tone = TonePool().source(samples_read(speed, n))
    played = change_speed(tone, speed, n)
    assert played.shape == (n,) and played.dtype == np.float32
    assert peak_hz(played) == pytest.approx(TonePool.TONE_HZ * speed, abs=2.0)
    assert np.sqrt(np.mean(played[1000:-1000] ** 2)) == pytest.approx(np.sqrt(0.5), rel=0.02)  # no level change


def test_a_speed_share_plays_sources_at_drawn_speeds_within_the_range():
    """At share 1 every source's pitch moves, within 0.8 to 1.25 of its own; at share 0 none does;
    a share outside 0..1 or a range that is not two positive factors is refused."""
    n = 8_000

    def peaks(share: float) -> list[float]:
        data = Mixtures(TonePool(held={}), 12, seed=2, config=MixConfig(segment_samples=n, speed_share=share))
        return [peak_hz(item["target"].numpy()[0]) for item in data]

    moved = peaks(1.0)
    assert all(0.8 * TonePool.TONE_HZ - 4 <= hz <= 1.25 * TonePool.TONE_HZ + 4 for hz in moved)
    assert len(set(moved)) > 3
    assert set(peaks(0.0)) == {TonePool.TONE_HZ}
    with pytest.raises(UserError, match="0 to 1"):
        MixConfig(speed_share=-0.1)
    with pytest.raises(UserError, match="positive factors"):
        MixConfig(speed_range=(1.2, 0.9))
