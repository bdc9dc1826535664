"""Test doubles: the real classes with one behaviour changed on purpose (slowness, divergence)."""

import time

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
