"""Distillation: a frozen separator's output on each training mixture as a second target.

The low-latency network hears 16 ms ahead; the ResUNet that teaches it hears a 1.27 s window around
every frame. The clean target stays the ground truth; the teacher's output, weighted, adds what a
network that hears more makes of the same mixture (``lass train --teacher``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from models.errors import UserError
from models.fast_path import InferenceOptions, optimize_for_inference
from models.loading import load_query_net, load_separation_net


class Teacher:
    """A separation network and its query network, frozen and kept out of the student's checkpoints:
    ``(batch, 1, samples)`` mixtures and their captions -> its ``(batch, 1, samples)`` estimates.
    The network runs on the fast inference path (:mod:`models.fast_path`), as it separates for a user:
    its forward pass is most of a distillation step's cost."""

    def __init__(self, checkpoint: Path, weight: float) -> None:
        if not weight > 0:
            raise UserError(f"--teacher-weight must be positive (it is {weight}); leave --teacher out to train without one")
        self.net = optimize_for_inference(load_separation_net(checkpoint), InferenceOptions())
        self.query_net = load_query_net(checkpoint)
        self.weight = weight
        self._conditions: dict[str, torch.Tensor] = {}  # each caption embedded once

    @torch.no_grad()
    def separate(self, mixture: torch.Tensor, captions: list[str]) -> torch.Tensor:
        missing = sorted({c for c in captions if c not in self._conditions})
        if missing:
            for caption, condition in zip(missing, self.query_net.embed_texts(missing)):
                self._conditions[caption] = condition
        conditions = torch.stack([self._conditions[c] for c in captions])
        self.net.to(mixture.device)
        return self.net(mixture, conditions.to(mixture.device)).float().clone()  # a plain tensor: the loss saves it
