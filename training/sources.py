"""Seeded sound sources with captions: the generated training and evaluation data.

Each class has a generator ``(rng, n_samples) -> (n_samples,) float32`` at 32 kHz and two sets of
captions: ``train_captions`` used in training, ``heldout_captions`` never seen in training (to test that
paraphrases work). In training, half of the captions are put in one of the ``PHRASINGS`` ("the sound of
...", "distant ..."), so that the query projection learns the sound named, not the words around it.
A data set is a seed, not a folder of files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.config import MODEL_SAMPLE_RATE_HZ as SR
from training.speech import speech

Generator = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True)
class SoundClass:
    name: str
    generate: Generator
    train_captions: tuple[str, ...]
    heldout_captions: tuple[str, ...]


def _t(n: int) -> np.ndarray:
    return np.arange(n) / SR


def _envelope(n: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = _t(n)
    return np.minimum(1.0, t / max(attack_s, 1e-4)) * np.exp(-t / decay_s)


def _place(rng: np.random.Generator, n: int, event: np.ndarray, times: np.ndarray) -> np.ndarray:
    out = np.zeros(n)
    for start in (times * SR).astype(int):
        end = min(n, start + len(event))
        if start < n:
            out[start:end] += event[: end - start]
    return out


def _onepole_lowpass(x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    from scipy.signal import lfilter

    a = np.exp(-2 * np.pi * cutoff_hz / SR)
    return lfilter([1 - a], [1, -a], x)


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A draw uniform on a log scale in ``[low, high)``: as many short values as long ones per octave."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def fade_edges(length: int, fade_s: float) -> np.ndarray:
    """``(length,)`` gains rising from 0 to 1 over ``fade_s`` and falling back at the end: a tone burst
    without the click of a hard edge."""
    ramp = np.arange(length)
    return np.minimum(1.0, np.minimum(ramp, ramp[::-1]) / (fade_s * SR))


BEEP_SECONDS = (0.04, 0.9)  # each beep: a tick of a timer to a smoke detector's or the README example's 0.6 s
BEEP_DUTY = (0.1, 0.9)  # the share of each period a beep lasts


def beeps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Tone bursts of every length (log-uniform in ``BEEP_SECONDS``) and duty cycle; a period is at most
    ``n`` samples long, so that every clip holds a beep."""
    freq = rng.uniform(500, 3000)
    beep_s = log_uniform(rng, *BEEP_SECONDS)
    period = min(beep_s / rng.uniform(*BEEP_DUTY), n / SR)
    t = _t(n) + rng.uniform(0, period)
    gate = ((t % period) < beep_s).astype(float)
    gate = _onepole_lowpass(gate, 300)
    tone = np.sin(2 * np.pi * freq * t)
    if rng.random() < 0.5:
        tone = np.sign(tone) * np.abs(tone) ** 0.5  # harsher alarm timbre
    return gate * tone


def siren(rng: np.random.Generator, n: int) -> np.ndarray:
    low, high = rng.uniform(500, 800), rng.uniform(1100, 1700)
    rate_hz = rng.uniform(0.3, 0.8) if rng.random() < 0.5 else rng.uniform(2.5, 5.0)  # wail or yelp
    t = _t(n)
    freq = low + (high - low) * 0.5 * (1 + np.sin(2 * np.pi * rate_hz * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(freq) / SR
    return np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)


def whistle(rng: np.random.Generator, n: int) -> np.ndarray:
    t = _t(n)
    base = rng.uniform(1200, 3500)
    glide = rng.uniform(-600, 600) * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
    vibrato = rng.uniform(10, 40) * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    phase = 2 * np.pi * np.cumsum(base + glide + vibrato) / SR
    breath = _onepole_lowpass(rng.standard_normal(n), 4000) * 0.05
    return np.sin(phase) + breath


def hum(rng: np.random.Generator, n: int) -> np.ndarray:
    mains = 50.0 if rng.random() < 0.5 else 60.0
    t = _t(n)
    out = np.zeros(n)
    for k in range(1, 12):
        out += rng.uniform(0.1, 1.0) / k**0.7 * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi))
    return out


def noise(rng: np.random.Generator, n: int) -> np.ndarray:
    white = rng.standard_normal(n)
    colour = rng.integers(3)
    if colour == 0:
        return white
    if colour == 1:  # pink: sum of one-pole stages
        return sum(_onepole_lowpass(rng.standard_normal(n), f) * (f / 100) ** -0.5 for f in (60, 300, 1500, 7000))
    return _onepole_lowpass(white, 40.0)  # brown: -6 dB/octave above 40 Hz


def ticking(rng: np.random.Generator, n: int) -> np.ndarray:
    period = rng.uniform(0.25, 1.0)
    click = rng.standard_normal(int(0.004 * SR)) * _envelope(int(0.004 * SR), 0.0002, 0.001)
    click = np.diff(np.concatenate([[0.0], click]))  # bright, thin click
    times = np.arange(rng.uniform(0, period), n / SR, period)
    return _place(rng, n, click, times)


def plucked(rng: np.random.Generator, n: int) -> np.ndarray:
    """A short melody on a Karplus-Strong string."""
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    root = rng.uniform(110, 440)
    out = np.zeros(n)
    note_s = rng.uniform(0.15, 0.4)
    for start in np.arange(0, n / SR, note_s):
        freq = root * 2 ** (rng.choice(scale) / 12)
        period = max(2, int(SR / freq))
        length = min(n - int(start * SR), int(1.5 * SR))
        buf = rng.uniform(-1, 1, period)
        note = np.empty(length)
        for i in range(length):
            note[i] = buf[i % period]
            buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
        out[int(start * SR) : int(start * SR) + length] += note
    return out


def drums(rng: np.random.Generator, n: int) -> np.ndarray:
    beat = rng.uniform(0.2, 0.45)
    kick_n = int(0.3 * SR)
    kt = _t(kick_n)
    kick = np.sin(2 * np.pi * np.cumsum(50 + 120 * np.exp(-kt / 0.03)) / SR) * np.exp(-kt / 0.12)
    snare_n = int(0.2 * SR)
    snare = (rng.standard_normal(snare_n) * 0.6 + np.sin(2 * np.pi * 190 * _t(snare_n))) * np.exp(-_t(snare_n) / 0.05)
    hat_n = int(0.05 * SR)
    hat = np.diff(np.concatenate([[0.0], rng.standard_normal(hat_n)])) * np.exp(-_t(hat_n) / 0.01)
    steps = np.arange(0, n / SR, beat)
    out = _place(rng, n, kick, steps[::2]) + _place(rng, n, snare, steps[1::2])
    return out + 0.5 * _place(rng, n, hat, np.arange(0, n / SR, beat / 2))


def bells(rng: np.random.Generator, n: int) -> np.ndarray:
    ratios = np.array([0.5, 1.0, 1.183, 1.506, 2.0, 2.514, 2.662, 3.011])
    out = np.zeros(n)
    for start in np.arange(rng.uniform(0, 0.2), n / SR, rng.uniform(0.4, 1.2)):
        fundamental = rng.uniform(300, 1200)
        length = n - int(start * SR)
        t = _t(length)
        strike = sum(
            np.sin(2 * np.pi * fundamental * r * t) * np.exp(-t * (1.0 + 2.5 * r)) / (1 + i) ** 0.5
            for i, r in enumerate(ratios)
        )
        out[int(start * SR) :] += strike
    return out


def engine(rng: np.random.Generator, n: int) -> np.ndarray:
    t = _t(n)
    rpm_hz = rng.uniform(20, 60) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t))
    phase = 2 * np.pi * np.cumsum(rpm_hz) / SR
    out = sum(np.sin(k * phase + rng.uniform(0, 6.3)) / k for k in range(1, 9))
    rumble = _onepole_lowpass(_onepole_lowpass(rng.standard_normal(n), 200), 200) * 8
    return (out + rumble) * (1 + 0.3 * np.sin(phase / 2))


CHIRP_SECONDS = (0.03, 0.25)  # each chirp: a sparrow's tick to a slow whistled sweep
CHIRP_DUTY = (0.1, 0.9)  # the share of each period a chirp lasts
CHIRP_HZ = (1000.0, 8000.0)
CHIRP_SPAN = 1.2  # a sweep's highest frequency over its lowest, at least: a chirp is never a held tone
CHIRP_FADE_SECONDS = 0.005  # the edges of a chirp that is no Hann swell


def chirps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Bird-like chirps: frequency sweeps, up or down, of every length (log-uniform in ``CHIRP_SECONDS``)
    and duty cycle, within ``CHIRP_HZ``; a period is at most ``n`` samples long, so that every clip
    holds a chirp. Each chirp is pitched a little apart from the last, as a bird's are."""
    chirp_s = log_uniform(rng, *CHIRP_SECONDS)
    period_s = min(chirp_s / rng.uniform(*CHIRP_DUTY), n / SR)
    low_hz = log_uniform(rng, CHIRP_HZ[0], CHIRP_HZ[1] / CHIRP_SPAN)
    high_hz = low_hz * log_uniform(rng, CHIRP_SPAN, CHIRP_HZ[1] / low_hz)
    smooth = rng.random() < 0.5  # a Hann swell, or a tone with faded edges
    out = np.zeros(n)
    for start_s in np.arange(rng.uniform(0, max(period_s - chirp_s, 0.0)), n / SR, period_s):
        length = max(2, int(chirp_s * rng.uniform(0.8, 1.25) * SR))
        f0, f1 = np.array([low_hz, high_hz]) * rng.uniform(0.9, 1.1)
        if rng.random() < 0.5:
            f0, f1 = f1, f0
        chirp = np.sin(2 * np.pi * np.cumsum(np.linspace(f0, f1, length)) / SR)
        envelope = np.hanning(length) if smooth else fade_edges(length, CHIRP_FADE_SECONDS)
        start = int(start_s * SR)
        out[start : start + length] += (chirp * envelope)[: n - start]
    return out


SOUND_CLASSES: tuple[SoundClass, ...] = (
    SoundClass(
        "speech",
        speech,
        (
            "speech", "a person talking", "someone speaking", "a man or woman speaking", "spoken words",
            "human voice talking", "a woman talking", "a man speaking", "conversation", "a voice",
            "somebody saying something", "narration", "a speaker giving a talk", "talking",
        ),
        ("a voice reading a sentence aloud", "people talk"),
    ),
    SoundClass(
        "beeps",
        beeps,
        (
            "beeping", "an alarm beeping", "electronic beeps", "a beeping alarm clock", "repeated beep tones",
            "a warning beep", "a microwave beeping", "a smoke detector alarm", "alarm", "a beeper",
            "a truck reversing beep", "bleeps", "a pager beeping", "a buzzer alarm",
        ),
        ("an alarm going off", "beep beep beep"),
    ),
    SoundClass(
        "siren",
        siren,
        (
            "siren", "an ambulance siren", "a police siren", "wailing siren", "an emergency vehicle siren",
            "fire truck siren", "a police car passing with its siren on", "an air raid siren", "sirens",
            "a yelping siren", "the siren of an ambulance", "a civil defense siren", "a warbling siren", "a loud siren",
        ),
        ("a siren wailing in the distance", "emergency siren"),
    ),
    SoundClass(
        "whistle",
        whistle,
        (
            "whistling", "a person whistling", "a whistle", "someone whistling a tune", "high pitched whistle",
            "whistling sound", "a whistled melody", "a boy whistling", "a woman whistles a song", "whistles",
            "lips whistling", "a cheerful whistle", "somebody whistling", "a referee whistle",
        ),
        ("a man whistles", "tuneful whistling"),
    ),
    SoundClass(
        "hum",
        hum,
        (
            "electrical hum", "mains hum", "a low buzzing hum", "50 hz hum", "transformer hum",
            "buzzing of electricity", "60 hz hum", "an amplifier humming", "buzz", "an electric buzz",
            "a fridge humming", "a hum from a speaker", "low frequency hum", "humming",
        ),
        ("humming of a power line", "a ground loop buzz"),
    ),
    SoundClass(
        "noise",
        noise,
        (
            "white noise", "hiss", "static noise", "rain-like noise", "pink noise", "steady noise", "static",
            "TV static", "hissing", "brown noise", "a hissing sound", "background hiss", "a waterfall-like rush",
            "the hiss of a fan",
        ),
        ("tape hiss", "radio static"),
    ),
    SoundClass(
        "ticking",
        ticking,
        (
            "clock ticking", "ticking", "a ticking clock", "clicks", "regular clicking", "a metronome ticking",
            "a ticking wall clock", "a pendulum clock ticking", "tick tick tick", "a watch ticking", "clicking", "the ticking of a timer",
            "a click track", "a clicking noise",
        ),
        ("tick tock of a clock", "clicking sounds"),
    ),
    SoundClass(
        "plucked",
        plucked,
        (
            "guitar", "a plucked string melody", "someone playing guitar", "plucked strings", "a harp melody",
            "acoustic guitar notes", "a guitar melody", "a banjo", "a harp", "plucking a string",
            "a mandolin tune", "guitar music", "a ukulele", "strummed notes",
        ),
        ("the guitar", "a melody on a string instrument"),
    ),
    SoundClass(
        "drums",
        drums,
        (
            "drums", "a drum beat", "drum kit playing", "percussion", "kick and snare drums", "drumming", "a drum",
            "a snare drum", "drum hits", "someone playing the drums", "a bass drum", "a drum loop",
            "a rock drum groove", "a drum solo",
        ),
        ("a drummer playing a rhythm", "beats on a drum set"),
    ),
    SoundClass(
        "bells",
        bells,
        (
            "bells", "a bell ringing", "church bells", "chimes", "ringing bells", "a small bell", "a bell",
            "wind chimes", "a doorbell chime", "a bicycle bell", "temple bells", "a ringing chime", "handbells",
            "a gong",
        ),
        ("a bell rings", "tolling bell"),
    ),
    SoundClass(
        "engine",
        engine,
        (
            "engine", "car engine idling", "engine rumble", "a motor running", "traffic engine noise",
            "a truck engine", "a motorcycle engine", "an idling car", "a diesel engine", "a generator running",
            "motor", "a bus engine", "the engine of a boat", "a lawnmower",
        ),
        ("a vehicle engine revving", "rumbling motor"),
    ),
    SoundClass(
        "chirps",
        chirps,
        (
            "birds chirping", "bird song", "chirping", "a bird tweeting", "small birds singing", "chirps", "birds",
            "a bird", "birdsong in the morning", "a sparrow", "a bird calling", "twittering", "a canary singing",
            "a robin",
        ),
        ("a songbird", "tweeting birds"),
    ),
)

CLASS_NAMES = tuple(c.name for c in SOUND_CLASSES)

PHRASINGS = ("the sound of {}", "{} in the background", "a recording of {}", "loud {}", "{} nearby", "distant {}")
