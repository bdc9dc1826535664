"""A generated check of short tonal events: tone bursts ("beeps") and frequency sweeps ("chirps") of
50-250 ms, at any duty cycle, in speech and in noise at 0 dB, 5 s each (issue #34: a model that had
learned "beeps" of one length kept each short beep's first 30 ms and dropped the tone).

Nothing here trains: the events are drawn from their own seeded streams, apart from the training
sources, and each mixture is scored with the class's plain caption.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from models.config import MODEL_SAMPLE_RATE_HZ as SR
from training.sources import fade_edges, noise
from training.speech import speech

MIXTURE_SECONDS = 5.0
EVENT_SECONDS = (0.05, 0.25)
DUTY = (0.1, 0.9)  # the share of each period the event lasts
RAMP_SECONDS = 0.005  # each event fades in and out: no click that a model could key on
SNR_DB = 0.0
INTERFERERS = {"speech": speech, "noise": noise}
SEED_OFFSET = 7_340_000  # the check's own random streams, apart from every training seed


def tone_bursts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Beeps: one frequency (500-3000 Hz), events of 50-250 ms, at a random duty cycle."""
    frequency_hz = rng.uniform(500, 3000)
    return _events(rng, n, lambda length: np.sin(2 * np.pi * frequency_hz * np.arange(length) / SR))


def sweeps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chirps: each event a sweep between two frequencies (1-8 kHz), 50-250 ms, at a random duty cycle."""
    low, high = sorted(rng.uniform(1000, 8000, size=2))

    def sweep(length: int) -> np.ndarray:
        frequency_hz = np.linspace(low, high, length) if rng.random() < 0.5 else np.linspace(high, low, length)
        return np.sin(2 * np.pi * np.cumsum(frequency_hz) / SR)

    return _events(rng, n, sweep)


TARGETS = {"beeps": tone_bursts, "chirps": sweeps}


def _events(rng: np.random.Generator, n: int, event) -> np.ndarray:
    length = int(rng.uniform(*EVENT_SECONDS) * SR)
    period = int(length / rng.uniform(*DUTY))
    ramp = fade_edges(length, RAMP_SECONDS)
    out = np.zeros(n)
    for start in range(int(rng.integers(0, period)), n, period):
        piece = (event(length) * ramp)[: n - start]
        out[start : start + len(piece)] = piece
    return out


def short_tone_items(per_case: int, seed: int) -> Iterator[dict]:
    """``per_case`` mixtures of each target (beeps, chirps) in each interferer (speech, noise), at 0 dB
    over the whole mixture; items as :mod:`training.evaluate` scores them, labelled e.g. ``beeps in speech``."""
    n = int(MIXTURE_SECONDS * SR)
    for target_index, (caption, make_target) in enumerate(TARGETS.items()):
        for interferer_index, (where, make_interferer) in enumerate(INTERFERERS.items()):
            rng = np.random.default_rng([SEED_OFFSET + seed, target_index, interferer_index])
            for _ in range(per_case):
                target, interferer = make_target(rng, n), make_interferer(rng, n)
                gain = np.sqrt(np.mean(interferer**2) / max(np.mean(target**2), 1e-12) * 10 ** (SNR_DB / 10))
                target = gain * target
                mixture = target + interferer
                scale = 0.5 / max(np.abs(mixture).max(), 1e-9)  # headroom, as a recording has
                yield {
                    "mixture": torch.from_numpy((scale * mixture).astype(np.float32)[None]),
                    "target": torch.from_numpy((scale * target).astype(np.float32)[None]),
                    "captions": [caption],
                    "label": f"{caption} in {where}",
                    "snr_db": SNR_DB,
                }
