"""What a room and a microphone do to sources before they mix: reverberation, an uneven frequency
response, and background noise. Training mixtures drawn with these resemble real recordings more
than dry sources summed do. Also a change of speed (pitch and tempo together, as a tape played
faster or slower): a bell recorded elsewhere rings at another pitch than the few in the library.

Each source gets its own simulated room response (a direct path, then exponentially decaying noise
with a drawn RT60, as a statistical model of late reverberation) and its own smooth EQ curve; the
target is the processed source, so the model learns to return the described sound as the microphone
heard it. Background noise (coloured, stationary) goes into the mixture only: it is never the target.
All draws come from the caller's generator, so a mixture is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from models.config import MODEL_SAMPLE_RATE_HZ

EQ_POINTS = 8  # control points of the random EQ curve, spaced evenly in log frequency
EQ_LOWEST_HZ = 50.0
DECAY_DB = 60.0  # RT60: the time the reverberation takes to decay by this much
EPS = 1e-8
SPEED_DENOMINATOR = 16  # a speed is drawn as a ratio k / 16, resampled by a polyphase filter


@dataclass(frozen=True)
class RoomEffects:
    """How often and how strongly each effect is drawn (probabilities per source, or per mixture for
    noise)."""

    reverb_probability: float = 0.5
    rt60_s_range: tuple[float, float] = (0.15, 0.8)
    direct_to_reverb_db_range: tuple[float, float] = (-3.0, 12.0)
    eq_probability: float = 0.5
    eq_max_db: float = 6.0
    noise_probability: float = 0.5
    noise_db_range: tuple[float, float] = (-40.0, -20.0)  # relative to the mixture's RMS
    noise_slope_db_per_octave_range: tuple[float, float] = (-6.0, 0.0)  # white to brown


def room_response(rng: np.random.Generator, rt60_s: float, direct_to_reverb_db: float) -> np.ndarray:
    """``(samples,)`` impulse response: a unit direct path, then decaying noise lasting the RT60."""
    length = max(2, int(rt60_s * MODEL_SAMPLE_RATE_HZ))
    time_s = np.arange(length) / MODEL_SAMPLE_RATE_HZ
    tail = rng.standard_normal(length) * 10 ** (-DECAY_DB / 20 * time_s / rt60_s)
    tail[0] = 0.0
    tail *= 10 ** (-direct_to_reverb_db / 20) / (np.sqrt(np.sum(tail**2)) + EPS)
    tail[0] = 1.0
    return tail


def reverberate(source: np.ndarray, response: np.ndarray) -> np.ndarray:
    """``source`` convolved with ``response`` (by FFT), cut to the source's length."""
    n = len(source) + len(response) - 1
    size = 1 << (n - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(source, size) * np.fft.rfft(response, size), size)[: len(source)]
    return wet.astype(np.float32)


def equalize(rng: np.random.Generator, source: np.ndarray, max_db: float) -> np.ndarray:
    """``source`` through a smooth random gain curve: ``EQ_POINTS`` gains within ``±max_db``,
    interpolated over log frequency."""
    spectrum = np.fft.rfft(source)
    frequencies_hz = np.fft.rfftfreq(len(source), 1 / MODEL_SAMPLE_RATE_HZ)
    points_hz = np.geomspace(EQ_LOWEST_HZ, MODEL_SAMPLE_RATE_HZ / 2, EQ_POINTS)
    gains_db = rng.uniform(-max_db, max_db, EQ_POINTS)
    curve_db = np.interp(np.log(np.maximum(frequencies_hz, EQ_LOWEST_HZ)), np.log(points_hz), gains_db)
    return np.fft.irfft(spectrum * 10 ** (curve_db / 20), len(source)).astype(np.float32)


def coloured_noise(rng: np.random.Generator, n_samples: int, slope_db_per_octave: float) -> np.ndarray:
    """``(n_samples,)`` stationary noise of unit RMS whose spectrum falls by the slope per octave."""
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    frequencies_hz = np.maximum(np.fft.rfftfreq(n_samples, 1 / MODEL_SAMPLE_RATE_HZ), EQ_LOWEST_HZ)
    noise = np.fft.irfft(spectrum * (frequencies_hz / EQ_LOWEST_HZ) ** (slope_db_per_octave / (20 * np.log10(2))), n_samples)
    return (noise / (np.sqrt(np.mean(noise**2)) + EPS)).astype(np.float32)


def in_a_room(rng: np.random.Generator, source: np.ndarray, effects: RoomEffects) -> np.ndarray:
    """One source as a microphone in a room hears it: maybe reverberated, maybe equalized."""
    if rng.random() < effects.reverb_probability:
        response = room_response(rng, rng.uniform(*effects.rt60_s_range), rng.uniform(*effects.direct_to_reverb_db_range))
        source = reverberate(source, response)
    if rng.random() < effects.eq_probability:
        source = equalize(rng, source, effects.eq_max_db)
    return source


def with_background(rng: np.random.Generator, mixture: np.ndarray, effects: RoomEffects) -> np.ndarray:
    """``mixture`` with stationary noise added, maybe (never part of any target)."""
    if rng.random() >= effects.noise_probability:
        return mixture
    level = np.sqrt(np.mean(mixture**2)) * 10 ** (rng.uniform(*effects.noise_db_range) / 20)
    noise = coloured_noise(rng, len(mixture), rng.uniform(*effects.noise_slope_db_per_octave_range))
    return (mixture + level * noise).astype(np.float32)


def speed_ratio(speed: float) -> tuple[int, int]:
    """``speed`` as the nearest ``(k, SPEED_DENOMINATOR)``: read ``k`` samples for each 16 played."""
    return max(1, round(speed * SPEED_DENOMINATOR)), SPEED_DENOMINATOR


def change_speed(source: np.ndarray, speed: float, n_samples: int) -> np.ndarray:
    """``(n_samples,)``: ``source`` played ``speed`` times as fast, its pitch moved by the same factor.
    ``source`` should hold ``samples_read(speed, n_samples)`` samples; a shorter one is looped."""
    read, played = speed_ratio(speed)
    return np.resize(resample_poly(source, played, read), n_samples).astype(np.float32)


def samples_read(speed: float, n_samples: int) -> int:
    """How many source samples :func:`change_speed` consumes to play ``n_samples`` at ``speed``."""
    read, played = speed_ratio(speed)
    return -(-n_samples * read // played)
