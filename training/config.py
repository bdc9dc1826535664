"""What the training commands are given: the training config and the arguments of ``lass train``,
``lass eval`` and ``lass library``. Nothing heavy is imported here: the ``lass`` parser imports this
module, and ``lass --help`` answers at once.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from models.config import UNPADDED_SEGMENT_SAMPLES, ms_to_samples

DEFAULT_SEGMENT_SAMPLES = UNPADDED_SEGMENT_SAMPLES
DEFAULT_SNRS_DB = (-5.0, 0.0, 5.0)
ARCHITECTURES = ("resunet", "lowlatency")
LOSS_NAMES = ("l1", "snr")  # training.losses.LOSSES, named here for the command line


# The library's held-out splits (training.source_library writes them; lass eval --library scores one):
# files held out of the packages that train, and packages held out whole. Named here, where the
# command line reads them without loading the library's code.
HELDOUT_SOURCE_SPLIT = "heldout-source"
HELDOUT_SPLITS = ("heldout", HELDOUT_SOURCE_SPLIT)


@dataclass(frozen=True)
class TrainConfig:
    out_dir: Path
    steps: int = 1400
    batch_size: int = 8
    segment_samples: int = DEFAULT_SEGMENT_SAMPLES
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    width: float = 0.25
    architecture: str = "resunet"  # or "lowlatency": models.lowlatency, made for streaming
    lookahead_frames: int | None = None  # the low-latency network's; None: its default, or the checkpoint's
    context_samples: int | None = None  # the low-latency network's context window; None: none, or the checkpoint's
    seed: int = 0
    data: Path | None = None
    captions: Path | None = None
    library: Path | None = None
    init_checkpoint: Path | None = None
    teacher: Path | None = None  # a model whose output on each mixture is a second target
    teacher_weight: float = 0.5
    loss: str = "l1"  # a name of training.losses.LOSSES
    val_items: int = 48
    val_every: int = 250
    checkpoint_every: int = 250
    num_workers: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    threads: int | None = None
    room_effects: bool = True  # reverberation, EQ and background noise on training mixtures
    confusable_share: float = 0.0  # training.data.MixConfig.confusable_share
    speed_share: float = 0.0  # training.data.MixConfig.speed_share


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, logs, bundle)")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--segment-samples", type=int, default=TrainConfig.segment_samples)
    parser.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--warmup-steps", type=int, default=TrainConfig.warmup_steps)
    parser.add_argument("--width", type=float, default=TrainConfig.width, help="ResUNet30 width (1.0 = official)")
    parser.add_argument(
        "--architecture", choices=ARCHITECTURES, default=TrainConfig.architecture,
        help="resunet: the AudioSep ResUNet30 (best quality, streamed in overlapping windows); "
        "lowlatency: the streaming-native network (causal frames, 16 ms algorithmic latency)",
    )
    parser.add_argument(
        "--lookahead-frames", type=int,
        help="lowlatency: frames of look-ahead (4 ms each; default 1, or --init-checkpoint's); "
        "with --init-checkpoint, fine-tunes its network to another look-ahead",
    )
    parser.add_argument(
        "--context-ms", type=float,
        help="lowlatency: a longer analysis window (ms, 0 for none) whose spectrum joins each frame's features: "
        "finer frequency, no added latency (it reaches into the past); with --init-checkpoint its weights start at zero",
    )
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--data", type=Path, help="folder of captioned clips (default: generated sources)")
    parser.add_argument("--captions", type=Path, help="captions CSV (file,caption) or JSON for --data")
    parser.add_argument(
        "--library", type=Path,
        help="library of real recordings from 'lass library build', mixed with the generated sources (its train split; held-out for validation)",
    )
    parser.add_argument("--init-checkpoint", type=Path, help="start from this checkpoint (e.g. official AudioSep)")
    parser.add_argument(
        "--teacher", type=Path,
        help="distil: a model (e.g. the bundled default's .safetensors) whose separation of each training mixture is a "
        "second target beside the clean one; its query network embeds the captions",
    )
    parser.add_argument("--teacher-weight", type=float, default=TrainConfig.teacher_weight, help="weight of the distance to --teacher's output")
    parser.add_argument(
        "--loss", choices=LOSS_NAMES, default=TrainConfig.loss,
        help="l1: mean absolute waveform error (AudioSep's); snr: negative SNR per item, thresholded at 30 dB, "
        "so that quiet and sparse targets (a click, a short beep) weigh as much as loud ones",
    )
    parser.add_argument("--val-items", type=int, default=TrainConfig.val_items)
    parser.add_argument("--val-every", type=int, default=TrainConfig.val_every)
    parser.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every)
    parser.add_argument("--num-workers", type=int, default=TrainConfig.num_workers)
    parser.add_argument("--accelerator", default=TrainConfig.accelerator)
    parser.add_argument("--devices", default=TrainConfig.devices)
    parser.add_argument("--num-nodes", type=int, default=TrainConfig.num_nodes)
    parser.add_argument("--strategy", default=TrainConfig.strategy)
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch")
    parser.add_argument(
        "--dry-mixing", action="store_true",
        help="mix training sources dry (the bundled model's recipe) instead of with room effects",
    )
    parser.add_argument(
        "--confusable-share", type=float, default=TrainConfig.confusable_share,
        help="share of training mixtures (0..1) that pair speech with a sustained pitched sound (beeps, "
        "an instrument, a ring), the pairs the models confuse most; the rest draw interferers at random",
    )
    parser.add_argument(
        "--speed-share", type=float, default=TrainConfig.speed_share,
        help="share of training sources (0..1) played 0.8 to 1.25 times as fast, pitch with tempo: "
        "variety for classes with few recordings, which a network otherwise learns by heart",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        out_dir=args.out, steps=args.steps, batch_size=args.batch_size, segment_samples=args.segment_samples,
        learning_rate=args.lr, warmup_steps=args.warmup_steps, width=args.width, architecture=args.architecture,
        lookahead_frames=args.lookahead_frames,
        context_samples=None if args.context_ms is None else ms_to_samples(args.context_ms), seed=args.seed, data=args.data,
        captions=args.captions, library=args.library, init_checkpoint=args.init_checkpoint,
        teacher=args.teacher, teacher_weight=args.teacher_weight, loss=args.loss, val_items=args.val_items,
        val_every=args.val_every, checkpoint_every=args.checkpoint_every, num_workers=args.num_workers,
        accelerator=args.accelerator, devices=args.devices, num_nodes=args.num_nodes, strategy=args.strategy,
        threads=args.threads, room_effects=not args.dry_mixing, confusable_share=args.confusable_share,
        speed_share=args.speed_share,
    )


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Data and output arguments; the model arguments are the command line's (cli.main)."""
    parser.add_argument("--mixtures", type=Path, help="CSV of mixture,target,caption (default: generated set)")
    parser.add_argument("--library", type=Path, help="mix a held-out split of a library of real recordings instead")
    parser.add_argument(
        "--split", choices=HELDOUT_SPLITS, default=HELDOUT_SPLITS[0],
        help="with --library: held-out files of the packages that train, or the packages held out whole (leave-source-out)",
    )
    parser.add_argument(
        "--short-tones", action="store_true",
        help="the check of short tonal events instead: beeps and chirps of 50-250 ms in speech and in noise at 0 dB (--per-class each)",
    )
    parser.add_argument("--per-class", type=int, default=20, help="generated mixtures per class and SNR")
    parser.add_argument("--snr", type=float, nargs="+", default=list(DEFAULT_SNRS_DB), help="generated SNRs (dB)")
    parser.add_argument("--captions", choices=("heldout", "train"), default="heldout")
    parser.add_argument("--all-captions", action="store_true", help="score each generated mixture with every caption of its class")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.csv")


def add_library_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="build the library of real recordings from Debian packages")
    build.add_argument("--out", type=Path, required=True, help="library folder (manifest.jsonl, captions.csv, FLACs)")
    build.add_argument(
        "--package", action="append", default=[], help="a catalogue package (repeat; default: the whole catalogue)"
    )
    build.add_argument("--cache", type=Path, help="where fetched packages are unpacked (default: OUT/.cache)")
    build.add_argument("--seed", type=int, default=0, help="seed of the train/held-out split")
    build.add_argument(
        "--keep-splits", type=Path, metavar="LIBRARY",
        help="an earlier library's folder: every file its manifest lists keeps its split (a grown library holds out what it held out)",
    )
