"""Test doubles: the real classes with one behaviour changed on purpose (slowness, divergence), and
a source pool that mixes without generating."""

import time

import numpy as np
import torch

from models.resunet import ResUNet30
from realtime.engine import Engine


class SlowEngine(Engine):
    """The engine with ``delay_s`` of extra time in each worker cycle."""

    delay_s = 0.0

    def work_once(self):
        taken = super().work_once()
        time.sleep(self.delay_s)
        return taken


class NanNet(ResUNet30):
    """A diverged model: every estimate is NaN."""

    def separate_with_spectra(self, mixture, film):
        waveform, magnitude, mask = super().separate_with_spectra(mixture, film)
        return torch.full_like(waveform, float("nan")), magnitude, mask


class OutOfMemoryNet(ResUNet30):
    """A model on a device that has run out of memory: every pass raises as PyTorch does."""

    def separate(self, mixture, film):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


class RecordingPool:
    """A source pool of constant sources that records the labels each mixture drew. ``held``: label ->
    the labels it is never mixed with."""

    def __init__(self, labels: tuple[str, ...] = ("a", "b", "c", "d"), held: dict[str, set[str]] | None = None) -> None:
        self.labels = labels
        self.held = {"a": {"b"}, "b": {"a"}} if held is None else held
        self.drawn: list[str] = []

    def unmixable(self, label: str) -> set[str]:
        return self.held.get(label, set())

    def audio(self, rng: np.random.Generator, label: str, n_samples: int) -> np.ndarray:
        self.drawn.append(label)
        return self.source(n_samples)

    def source(self, n_samples: int) -> np.ndarray:
        return np.ones(n_samples, np.float32)

    def caption(self, rng: np.random.Generator, label: str) -> str:
        return label

    def texts(self) -> list:
        return []


class TonePool(RecordingPool):
    """A recording pool whose every source is the same sine of ``TONE_HZ`` at 32 kHz."""

    TONE_HZ = 1000.0

    def source(self, n_samples: int) -> np.ndarray:
        return np.sin(2 * np.pi * self.TONE_HZ * np.arange(n_samples) / 32_000).astype(np.float32)
