"""Several sounds at once: quality of one batched pass against single queries run one after another, of
exclusions against plain isolation, and the cost of each added description. Prints tables, writes JSON.

    python -m benchmarks.multi_query --out benchmarks/results/multi_query.json
    python -m benchmarks.multi_query --device cuda --out benchmarks/results/multi_query_gpu.json

Quality: held-out generated three-source mixtures ``a + b + c`` (three different classes, equal RMS,
2 s, the bundled model and its training captions), SI-SDRi against the true sums:
- "isolate a + b" (target a + b) and "remove a + b" (target c), as one batched pass and as the
  single queries a and b run one after another and summed;
- "a but not b" against plain "a" (target a): what leaving a sound out gains or costs.
Cost: the streaming pass at the default window (as `lass stream` runs it) with 1, 2 and 3
descriptions in one batch, side by side with that many single passes one after another.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import ForeignLoad, describe
from models.block_separation import Combination
from models.config import MODEL_SAMPLE_RATE_HZ, MODES
from models.fast_path import InferenceOptions
from models.separator import Separator, default_checkpoint
from realtime.tuning import window_pass_times_s
from training.data import GeneratedSources, rms
from models.metrics import separation_scores

SECONDS = 2.0
LEVEL_RMS = 0.05
MAX_QUERIES = 3
TIMED_PASSES = 20


def mixtures(per_class: int, seed: int):
    """``(sources (3, samples), captions (3,))`` per mixture, the first source's class cycling."""
    pool = GeneratedSources("train")
    labels = pool.labels
    n = int(SECONDS * MODEL_SAMPLE_RATE_HZ)
    for index in range(per_class * len(labels)):
        rng = np.random.default_rng([seed, index])
        others = [label for label in labels if label != labels[index % len(labels)]]
        chosen = [labels[index % len(labels)], *rng.choice(others, size=2, replace=False)]
        sources = np.stack([pool.audio(rng, str(label), n) for label in chosen])
        sources *= LEVEL_RMS / np.array([[rms(s)] for s in sources])
        yield sources.astype(np.float32), [pool.caption(rng, str(label)) for label in chosen]


def score_mixture(separator: Separator, sources: np.ndarray, captions: list[str]) -> dict[str, float]:
    mixture = sources.sum(0)[None]
    a, b, c = (separator.condition(caption) for caption in captions)
    separate = lambda conditions, combination=None: separator.separate(mixture, MODEL_SAMPLE_RATE_HZ, conditions, combinations=combination)[:, 0]
    batched = separate(torch.cat([a, b]), (Combination(2),))[0]
    sequential = separate(a)[0] + separate(b)[0]
    plain_a = separate(a)[0]
    a_not_b = separate(torch.cat([a, b]), (Combination(2, excluded=1),))[0]
    scored = lambda target, estimate: separation_scores(target, estimate, mixture[0])["si_sdri"]
    return {
        "isolate_batched": scored(sources[0] + sources[1], batched),
        "isolate_sequential": scored(sources[0] + sources[1], sequential),
        "remove_batched": scored(sources[2], mixture[0] - batched),
        "remove_sequential": scored(sources[2], mixture[0] - sequential),
        "plain_a": scored(sources[0], plain_a),
        "a_but_not_b": scored(sources[0], a_not_b),
    }


def pass_costs_ms(separator: Separator) -> list[dict]:
    """Median streaming-pass time for 1..MAX_QUERIES descriptions: one batch, and that many single passes."""
    net = separator.separation_net
    conditions = torch.cat([separator.condition(text) for text in ("speech", "beeps", "a hum")])
    with torch.inference_mode():
        single = float(np.median(window_pass_times_s(net, net.film(conditions[:1]), TIMED_PASSES))) * 1000
        rows = []
        for count in range(1, MAX_QUERIES + 1):
            batched = float(np.median(window_pass_times_s(net, net.film(conditions[:count]), TIMED_PASSES))) * 1000
            rows.append({"descriptions": count, "batched_ms": batched, "sequential_ms": count * single})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=2, help="mixtures per class of the first source")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="where the separation net runs")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    separator = Separator.from_checkpoint(default_checkpoint(), inference=InferenceOptions(device=args.device))
    with ForeignLoad() as load, torch.inference_mode():
        scores = [score_mixture(separator, sources, captions) for sources, captions in mixtures(args.per_class, args.seed)]
        costs = pass_costs_ms(separator)
    quality = {name: float(np.mean([s[name] for s in scores])) for name in scores[0]}
    print(f"SI-SDRi (dB), mean of {len(scores)} three-source mixtures:")
    print("| query | one batched pass | single queries, summed |\n| --- | ---: | ---: |")
    for mode in MODES:
        print(f"| {mode} a + b | {quality[f'{mode}_batched']:.2f} | {quality[f'{mode}_sequential']:.2f} |")
    print(f"\n| query (target a) | SI-SDRi |\n| --- | ---: |\n| a | {quality['plain_a']:.2f} |\n| a but not b | {quality['a_but_not_b']:.2f} |")
    print("\nstreaming pass, median ms (default window):\n| descriptions | one batched pass | single passes in turn |\n| ---: | ---: | ---: |")
    for row in costs:
        print(f"| {row['descriptions']} | {row['batched_ms']:.1f} | {row['sequential_ms']:.1f} |")
    foreign = load.cores
    print(f"foreign load {foreign:.2f} cores{'' if load.quiet else ' (not quiet: the timings are not comparable)'}")
    if args.out:
        result = {"machine": describe(), "foreign_cores": foreign, "settings": vars(args) | {"out": str(args.out)},
                  "quality_si_sdri_db": quality, "count": len(scores), "pass_costs": costs, "items": scores}
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
