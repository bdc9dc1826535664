"""The training task: a separation net (ResUNet30 or the low-latency network) and the trainable head of a QueryNet, a
waveform loss of :mod:`training.losses` against the clean target (plus, with a
:class:`training.distillation.Teacher`, the same loss against its output, weighted).

The frozen part of the query network (MiniLM or CLAP) runs once per distinct caption and is cached;
only the separation net and the query head (the MiniLM projection; nothing for CLAP) are optimised.
The frozen encoder is held outside the module's state, so Lightning checkpoints stay small.
"""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import torch
from torch import nn

from models.networks import SeparationNet
from models.metrics import separation_scores
from training.distillation import Teacher
from training.losses import LOSSES


class SeparationTask(L.LightningModule):
    def __init__(
        self,
        net: SeparationNet,
        query_net: nn.Module,
        learning_rate: float = 1e-3,
        warmup_steps: int = 200,
        total_steps: int = 10_000,
        teacher: Teacher | None = None,
        loss: str = "l1",
    ) -> None:
        super().__init__()
        self.net = net
        self.query_head = query_net.projection if hasattr(query_net, "projection") else nn.Identity()
        self.__dict__["query_net"] = query_net  # not a submodule: kept out of checkpoints
        self.__dict__["teacher"] = teacher  # likewise
        self.learning_rate, self.warmup_steps, self.total_steps = learning_rate, warmup_steps, total_steps
        self.loss_name, self.loss = loss, LOSSES[loss]
        self._features: dict[str, torch.Tensor] = {}

    def conditions(self, captions: list[str]) -> torch.Tensor:
        """Captions -> ``(batch, 512)`` conditions, with gradients into the query head."""
        missing = sorted({c for c in captions if c not in self._features})
        if missing:
            for caption, feature in zip(missing, self.query_net.sentence_features(missing)):
                self._features[caption] = feature.clone()
        features = torch.stack([self._features[c] for c in captions]).to(self.device)
        return self.query_net.head(features)

    def training_step(self, batch: dict, batch_index: int) -> torch.Tensor:
        estimate = self.net(batch["mixture"], self.conditions(batch["caption"]))
        loss = self.loss(estimate, batch["target"])
        self.log(f"train/{self.loss_name}", loss, prog_bar=True)
        if self.teacher is not None:
            taught = self.loss(estimate, self.teacher.separate(batch["mixture"], batch["caption"]))
            self.log(f"train/teacher_{self.loss_name}", taught)
            loss = loss + self.teacher.weight * taught
        return loss

    def validation_step(self, batch: dict, batch_index: int) -> None:
        estimate = self.net(batch["mixture"], self.conditions(batch["caption"]))
        scores = [
            separation_scores(t[0].cpu().numpy(), e[0].cpu().numpy(), m[0].cpu().numpy())["si_sdri"]
            for t, e, m in zip(batch["target"], estimate, batch["mixture"])
        ]
        self.log("val/si_sdri", float(np.mean(scores)), prog_bar=True, batch_size=len(scores))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            [p for p in self.parameters() if p.requires_grad], lr=self.learning_rate, weight_decay=1e-4
        )

        def schedule(step: int) -> float:
            if step < self.warmup_steps:
                return (step + 1) / self.warmup_steps
            progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
