"""``lass train``: train or fine-tune a separation model with PyTorch Lightning.

The same command runs on one CPU, one GPU, or many GPUs and nodes (``--devices``, ``--num-nodes``,
``--strategy ddp``). Checkpoints go to ``OUT/checkpoints`` (``last.ckpt`` is resumed automatically),
logs to TensorBoard and CSV under ``OUT/logs``, and every checkpoint also exports ``OUT/model.safetensors``,
a bundle that ``lass separate --checkpoint`` and the app load directly.

    lass train --out runs/default --steps 3000                       # the bundled default model
    lass train --out runs/ft --init-checkpoint audiosep_base_4M_steps.ckpt --data clips/ --captions clips/captions.csv
"""

from __future__ import annotations

import json
from dataclasses import replace
import logging
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from torch.utils.data import DataLoader

from models.checkpoint import load_pickled
from models.config import SeparationConfig
from models.errors import ModelLoadingError, UserError
from models.networks import SeparationNet
from models.loading import caption_labels, load_query_net, load_separation_net, save_bundle
from models.minilm import MiniLmQueryNet
from models.lowlatency import ARCHITECTURE as LOWLATENCY
from models.lowlatency import LowLatencyNet
from models.resunet import ResUNet30
from training.caption_memory import build_memory
from training.config import TrainConfig
from training.data import (
    CaptionText,
    CombinedSources,
    FolderSources,
    GeneratedSources,
    LibrarySources,
    MixConfig,
    Mixtures,
)
from training.distillation import Teacher
from training.effects import RoomEffects
from training.task import SeparationTask

BUNDLE_NAME = "model.safetensors"
TRAIN_PHRASING_PROBABILITY = 0.5


def build_models(config: TrainConfig) -> tuple[SeparationNet, torch.nn.Module]:
    """From ``init_checkpoint`` (its own query net), or fresh with the MiniLM query net: a ResUNet30 at
    ``width`` or the low-latency network, as ``architecture`` says, at ``lookahead_frames`` and
    ``context_samples`` if given."""
    for given, option in ((config.lookahead_frames, "--lookahead-frames"), (config.context_samples, "--context-ms")):
        if given is not None and config.architecture != LOWLATENCY:
            raise UserError(f"{option} is the low-latency network's: pass --architecture lowlatency")
    if config.init_checkpoint is not None:
        net = load_separation_net(config.init_checkpoint)
        if net.architecture != config.architecture:
            raise UserError(
                f"{config.init_checkpoint} holds a {net.architecture} network, not {config.architecture}: "
                f"pass --architecture {net.architecture}, or another --init-checkpoint"
            )
        return reshaped(net, config.lookahead_frames, config.context_samples).train(), load_query_net(config.init_checkpoint)
    if config.architecture == LOWLATENCY:
        return reshaped(LowLatencyNet(), config.lookahead_frames, config.context_samples), MiniLmQueryNet()
    net = ResUNet30(SeparationConfig(width=config.width))
    net.init_identity_phase()
    return net, MiniLmQueryNet()


def reshaped(net: SeparationNet, lookahead_frames: int | None, context_samples: int | None) -> SeparationNet:
    """``net`` itself, or (a low-latency network) the same function with ``lookahead_frames`` of
    look-ahead and a ``context_samples`` window, ready to be fine-tuned to them. The look-ahead only
    shifts which frame a mask applies to; a new context window's encoder weights start at zero, so
    the network computes what it did until training teaches it to use them."""
    if not isinstance(net, LowLatencyNet):
        return net
    changes = {name: value for name, value in (("lookahead_frames", lookahead_frames), ("context_samples", context_samples)) if value is not None}
    config = replace(net.config, **changes)
    if config == net.config:
        return net
    shaped = LowLatencyNet(config)
    state = net.state_dict()
    if config.context_samples != net.config.context_samples:
        encoder = torch.zeros(config.hidden, config.feature_bins)
        encoder[:, : config.bins] = state["encoder.weight"][:, : config.bins]
        state["encoder.weight"] = encoder
    shaped.load_state_dict(state)
    return shaped


class MixtureData(L.LightningDataModule):
    """Training mixtures continue where a resumed run stopped; validation is a fixed held-out set."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        if config.library is not None:  # real recordings alongside the generated sources
            self.train_pool = CombinedSources(GeneratedSources("train", TRAIN_PHRASING_PROBABILITY), LibrarySources(config.library))
            self.val_pool = CombinedSources(GeneratedSources("heldout"), LibrarySources(config.library, "heldout"))
        elif config.data is not None:
            if config.captions is None:
                raise UserError("--data needs --captions (a CSV with file,caption columns, or JSON)")
            self.train_pool = self.val_pool = FolderSources(config.data, config.captions)
        else:
            self.train_pool = GeneratedSources("train", TRAIN_PHRASING_PROBABILITY)
            self.val_pool = GeneratedSources("heldout")
        effects = RoomEffects() if config.room_effects else None
        self.mix = MixConfig(
            segment_samples=config.segment_samples, effects=effects, confusable_share=config.confusable_share,
            speed_share=config.speed_share,
        )
        self.validation_mix = MixConfig(segment_samples=config.segment_samples)  # dry, as lass eval mixes

    def train_dataloader(self) -> DataLoader:
        c = self.config
        done = self.trainer.global_step * c.batch_size if self.trainer else 0
        data = Mixtures(self.train_pool, (c.steps + 1) * c.batch_size, c.seed, "train", self.mix)
        data = torch.utils.data.Subset(data, range(done, len(data)))
        return DataLoader(data, batch_size=c.batch_size, num_workers=c.num_workers, persistent_workers=c.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        data = Mixtures(self.val_pool, self.config.val_items, self.config.seed, "heldout", self.validation_mix, balanced=True)
        return DataLoader(data, batch_size=self.config.batch_size, num_workers=self.config.num_workers)


class ExportBundle(L.Callback):
    """Writes ``OUT/model.safetensors`` whenever a checkpoint is saved, so every run leaves a usable model.

    A MiniLM query net is exported with a caption memory of ``texts`` (the training texts), its
    temperature chosen on them (:mod:`training.caption_memory`); the choice is in the bundle's metadata.
    """

    def __init__(self, path: Path, query_net: torch.nn.Module, texts: list[CaptionText]) -> None:
        self.path, self.query_net, self.texts = path, query_net, texts
        self._features: torch.Tensor | None = None

    def on_save_checkpoint(self, trainer: L.Trainer, task: SeparationTask, checkpoint: dict) -> None:
        if trainer.is_global_zero:
            self.export(task.net, trainer.global_step)

    def export(self, net: SeparationNet, step: int) -> None:
        state, extra = self.query_net.bundle_state(), {"steps": str(step)}
        if isinstance(self.query_net, MiniLmQueryNet) and self.texts:
            if self._features is None:
                self._features = self.query_net.sentence_features([t.text for t in self.texts])
            memory, accuracy = build_memory(self.query_net, self.texts, self._features)
            if memory is not None:
                state |= {f"memory.{k}": v for k, v in memory.state_dict().items()}
                extra["caption_labels"] = caption_labels([t.label for t in self.texts])
                extra["caption_memory"] = json.dumps(
                    {"texts": len(self.texts), "temperature": round(float(memory.temperature), 6),
                     "leave_one_caption_out_accuracy": {str(k): round(v, 4) for k, v in accuracy.items()}}
                )
        save_bundle(self.path, net, state, self.query_net.kind, **extra)


def check_resumable(checkpoint: Path) -> None:
    """Refuse, as one line, a checkpoint to resume that holds code or is no checkpoint (Lightning
    would raise it as a traceback)."""
    try:
        load_pickled(checkpoint)
    except ModelLoadingError as error:
        raise ModelLoadingError(f"cannot resume training: {error}. Delete it to start afresh, or pass another --out") from None


# What Lightning and PyTorch print that says nothing about this run: an advertisement, and two
# deprecation notices about their own internals (not our code).
LIGHTNING_NOISE = ("💡 Tip:", "`weights_only` was not set")
NOISY_WARNINGS = (r"`isinstance\(treespec, LeafSpec\)` is deprecated", r"`weights_only` was not set")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(LIGHTNING_NOISE)


def quiet_lightning() -> None:
    """Leave out of `lass train`'s output what says nothing about the run (see ``LIGHTNING_NOISE``)."""
    for name in ("lightning.pytorch", "lightning.fabric"):  # their handlers see their modules' records too
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(_DropNoise())
    for message in NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the exported bundle's path."""
    last = Path(config.out_dir) / "checkpoints" / "last.ckpt"
    if last.exists():
        check_resumable(last)
    if config.threads:
        torch.set_num_threads(config.threads)
    L.seed_everything(config.seed, workers=True)
    net, query_net = build_models(config)
    teacher = Teacher(config.teacher, config.teacher_weight) if config.teacher is not None else None
    task = SeparationTask(net, query_net, config.learning_rate, config.warmup_steps, config.steps, teacher, config.loss)
    out = Path(config.out_dir)
    data = MixtureData(config)
    export = ExportBundle(out / BUNDLE_NAME, query_net, data.train_pool.texts())
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(
        out / "checkpoints", save_last=True, every_n_train_steps=config.checkpoint_every, save_top_k=1
    )
    loggers = [
        L.pytorch.loggers.TensorBoardLogger(out / "logs", name="tensorboard"),
        L.pytorch.loggers.CSVLogger(out / "logs", name="csv"),
    ]
    quiet_lightning()
    trainer = L.Trainer(
        max_steps=config.steps,
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        callbacks=[checkpoints, export, TQDMProgressBar()],  # Rich's bar reads "Epoch 0/-2" when steps bound the run
        logger=loggers,
        val_check_interval=config.val_every,
        check_val_every_n_epoch=None,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
        default_root_dir=out,
    )
    trainer.fit(task, datamodule=data, ckpt_path=last if last.exists() else None)
    trainer.save_checkpoint(last)  # the final step, whatever --checkpoint-every; exports the bundle too
    return out / BUNDLE_NAME
