"""What to play where the engine is late: the fallbacks of `realtime/fallback.py`, and a gain held from
the last output, scored side by side on generated mixtures in isolate and remove mode. Prints a table
and writes JSON; `realtime.fallback.DEFAULT_FALLBACKS` follows it.

    python -m benchmarks.fallback --out benchmarks/results/fallback.json

Each held-out 2-source mixture (bundled model, its training captions, -5/0/+5 dB) is separated
offline; then 10 ms blocks are played late in seeded runs (a Markov chain: ``LATE_SHARE`` of the
blocks, runs of ``MEAN_LATE_RUN_BLOCKS`` on average), as an overloaded engine plays them. On time a
block is the separated output; late, it is what the fallback plays, its gain following the output as
the worker would update it (late blocks count once the worker has caught up). The held gain is the
least-squares gain from input to output over the last ``HOLD_TIME_S`` (a broadband hold of the last
masks: what the callback could apply without running the model). Scores, on the late blocks only:
- SNR (dB) against what the user asked for (isolate: the target; remove: the mixture minus it);
- "unwanted" (dB): the level of what the mode takes out (remove: the target; isolate: the other
  source) in what is played, relative to the input: 0 dB is all of it back, lower is better;
- "wanted" (dB): the level of what the mode keeps, the same way: 0 dB is all of it, higher is better.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import describe
from models.config import MODEL_SAMPLE_RATE_HZ, MODES
from models.separator import Separator, default_checkpoint
from realtime.fallback import FALLBACK_GAINS, FALLBACKS
from training.evaluate import generated_items

BLOCK_SAMPLES = 320  # 10 ms at 32 kHz
LATE_SHARE = 0.3
MEAN_LATE_RUN_BLOCKS = 10
CANDIDATES = (*FALLBACKS, "held")
HOLD_TIME_S = 0.3
EPS = 1e-12
SILENT_DB = -100.0  # levels below this are shown as none


def late_blocks(rng: np.random.Generator, n_blocks: int) -> np.ndarray:
    """``(n_blocks,)`` bool: a two-state chain late ``LATE_SHARE`` of the time, in runs."""
    leave_late = 1.0 / MEAN_LATE_RUN_BLOCKS
    become_late = leave_late * LATE_SHARE / (1.0 - LATE_SHARE)
    late = np.zeros(n_blocks, dtype=bool)
    state = rng.random() < LATE_SHARE
    for i in range(n_blocks):
        late[i] = state
        state = rng.random() >= leave_late if state else rng.random() < become_late
    return late


class HeldGain:
    """``sum(dry * output) / sum(dry * dry)``, both sums decaying with time constant ``HOLD_TIME_S``,
    within [0, 1]; 0 before any output."""

    def __init__(self) -> None:
        self.gain, self._energy, self._correlation = 0.0, 0.0, 0.0

    def update(self, dry: np.ndarray, output: np.ndarray) -> None:
        keep = np.exp(-len(dry) / (HOLD_TIME_S * MODEL_SAMPLE_RATE_HZ))
        self._energy = keep * self._energy + float(np.dot(dry, dry))
        self._correlation = keep * self._correlation + float(np.dot(dry, output))
        if self._energy > 0.0:
            self.gain = min(1.0, max(0.0, self._correlation / self._energy))


def play(kind: str, dry: np.ndarray, output: np.ndarray, late: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the callback plays, block by block, and the gain each sample got from the input where
    late (``(samples,)`` both; the gain is 0 where the output was on time)."""
    held = HeldGain()
    played, gains = np.zeros_like(dry), np.zeros_like(dry)
    pending: list[slice] = []  # late blocks: the worker mixes them once it catches up
    for index, is_late in enumerate(late):
        block = slice(index * BLOCK_SAMPLES, (index + 1) * BLOCK_SAMPLES)
        if is_late:
            gain = held.gain if kind == "held" else FALLBACK_GAINS[kind]
            gains[block] = gain
            played[block] = gain * dry[block]
            pending.append(block)
            continue
        for caught_up in [*pending, block]:
            held.update(dry[caught_up], output[caught_up])
        pending.clear()
        played[block] = output[block]
    return played, gains


def db(numerator: float, denominator: float) -> float:
    return float(10 * np.log10((numerator + EPS) / (denominator + EPS)))


def score(kind: str, mixture: np.ndarray, target: np.ndarray, isolated: np.ndarray, late: np.ndarray, mode: str) -> dict:
    other = mixture - target
    wanted, unwanted, output = (target, other, isolated) if mode == "isolate" else (other, target, mixture - isolated)
    played, gains = play(kind, mixture, output, late)
    where = np.repeat(late, BLOCK_SAMPLES)[: len(mixture)]
    return {
        "snr_db": db(np.sum(wanted[where] ** 2), np.sum((wanted - played)[where] ** 2)),
        "unwanted_db": db(np.sum((gains * unwanted)[where] ** 2), np.sum(unwanted[where] ** 2)),
        "wanted_db": db(np.sum((gains * wanted)[where] ** 2), np.sum(wanted[where] ** 2)),
    }


def run(per_class: int, seed: int) -> dict:
    separator = Separator.from_checkpoint(default_checkpoint())
    rng = np.random.default_rng(seed)
    rows: dict[str, dict[str, list[dict]]] = {mode: {kind: [] for kind in CANDIDATES} for mode in MODES}
    with torch.inference_mode():
        for item in generated_items(per_class, [-5.0, 0.0, 5.0], "train", seed):
            mixture, target = item["mixture"].numpy()[0], item["target"].numpy()[0]
            n_blocks = len(mixture) // BLOCK_SAMPLES
            mixture, target = mixture[: n_blocks * BLOCK_SAMPLES], target[: n_blocks * BLOCK_SAMPLES]
            condition = separator.embed_texts(item["captions"])
            isolated = separator.separate(mixture[None], MODEL_SAMPLE_RATE_HZ, condition)[0, 0]
            late = late_blocks(rng, n_blocks)
            for mode in MODES:
                for kind in CANDIDATES:
                    rows[mode][kind].append(score(kind, mixture, target, isolated, late, mode))
    return {
        mode: {kind: {m: float(np.mean([r[m] for r in scored])) for m in scored[0]} | {"count": len(scored)} for kind, scored in kinds.items()}
        for mode, kinds in rows.items()
    }


def format_table(summary: dict) -> str:
    lines = ["| mode | fallback | SNR where late (dB) | unwanted back (dB) | wanted kept (dB) |", "| --- | --- | ---: | ---: | ---: |"]
    for mode, kinds in summary.items():
        for kind, row in kinds.items():
            levels = " | ".join("none" if row[m] < SILENT_DB else f"{row[m]:.1f}" for m in ("unwanted_db", "wanted_db"))
            lines.append(f"| {mode} | {kind} | {row['snr_db']:.2f} | {levels} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=4, help="mixtures per class and SNR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    summary = run(args.per_class, args.seed)
    print(format_table(summary))
    if args.out:
        settings = {"per_class": args.per_class, "seed": args.seed, "late_share": LATE_SHARE,
                    "mean_late_run_blocks": MEAN_LATE_RUN_BLOCKS, "hold_time_s": HOLD_TIME_S}
        args.out.write_text(json.dumps({"machine": describe(), "settings": settings, "summary": summary}, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
