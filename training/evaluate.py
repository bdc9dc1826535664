"""``lass eval``: SDR, SDRi, SI-SDR and SI-SDRi of a model on a generated set, a held-out split of a
library of real recordings (``--library``, mixed the same way; ``--split heldout-source`` for the
packages held out whole) or a mixture list.

Metrics are defined in :mod:`models.metrics`. The generated set is the held-out split: random
streams never used in training, 2-source mixtures at each requested SNR, the same number per class,
described with the held-out paraphrases (``--captions heldout``) or the training captions (``train``):
one caption drawn per mixture, or every caption of the class for every mixture (``--all-captions``,
the paired comparison of two caption sets: the same mixtures, no caption-sampling noise).
A mixture list is a CSV with columns ``mixture,target,caption`` (paths relative to the CSV).

Results are printed per class and overall, and written as JSON (summary + items) and CSV (items).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from audio.files import mono_at, read_audio
from models.config import MODEL_SAMPLE_RATE_HZ
from models.separator import Separator
from training.data import GeneratedSources, LibrarySources, MixConfig, Mixtures, SourcePool
from models.metrics import separation_scores
from training.short_tones import short_tone_items

METRICS = ("sdr", "sdri", "si_sdr", "si_sdri")
EVAL_SEGMENT_SAMPLES = 2 * MODEL_SAMPLE_RATE_HZ


def generated_items(
    per_class: int, snrs_db: list[float], captions: str, seed: int, all_captions: bool = False
) -> Iterator[dict]:
    """Held-out mixtures; ``captions`` lists the texts to score each with (one drawn, or all of its class)."""
    return pool_items(GeneratedSources(captions), per_class, snrs_db, seed, all_captions)


def pool_items(pool: SourcePool, per_class: int, snrs_db: list[float], seed: int, all_captions: bool = False) -> Iterator[dict]:
    """2-source mixtures of ``pool`` at each SNR, ``per_class`` per class, from the held-out random streams."""
    texts: dict[str, list[str]] = {}
    for text in pool.texts():
        texts.setdefault(text.label, []).append(text.text)
    config = MixConfig(segment_samples=EVAL_SEGMENT_SAMPLES)
    for snr_index, snr_db in enumerate(snrs_db):
        data = Mixtures(pool, per_class * len(pool.labels), seed + snr_index, "heldout", config, snr_db, True, 2)
        for index in range(len(data)):
            item = data[index]
            yield {**item, "captions": texts[item["label"]] if all_captions else [item["caption"]], "snr_db": snr_db}


def listed_items(csv_path: Path) -> Iterator[dict]:
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            mixture, target = read_audio(csv_path.parent / row["mixture"]), read_audio(csv_path.parent / row["target"])
            to_32k = lambda clip: mono_at(clip.samples, clip.sample_rate_hz, MODEL_SAMPLE_RATE_HZ)[None]
            yield {
                "mixture": torch.from_numpy(to_32k(mixture)),
                "target": torch.from_numpy(to_32k(target)),
                "captions": [row["caption"]],
                "label": row.get("label") or row["caption"],
                "snr_db": float("nan"),
            }


def evaluate(separator: Separator, items: Iterator[dict]) -> list[dict]:
    """Score every item with each of its ``captions`` (one batched separation per item); each result
    has label, interferers (empty for a mixture list), caption, snr_db and the four metrics."""
    results = []
    conditions: dict[str, torch.Tensor] = {}
    for item in items:
        captions = item["captions"]
        for caption in captions:
            if caption not in conditions:
                conditions[caption] = separator.embed_texts([caption])
        mixture = item["mixture"].numpy()
        estimates = separator.separate(mixture, MODEL_SAMPLE_RATE_HZ, torch.cat([conditions[c] for c in captions]))
        for caption, estimate in zip(captions, estimates):
            scores = separation_scores(item["target"].numpy()[0], estimate[0], mixture[0])
            results.append({"label": item["label"], "interferers": item.get("interferers", ""), "caption": caption,
                            "snr_db": item["snr_db"], **scores})
    return results


OVERALL = "overall"  # the summary row over every label


def summarise(results: list[dict]) -> dict[str, dict[str, float]]:
    """Mean of each metric per label, plus :data:`OVERALL`."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(r["label"], []).append(r)
    summary = {label: _means(rows) for label, rows in sorted(groups.items())}
    summary[OVERALL] = _means(results)
    return summary


def _means(rows: list[dict]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in rows])) for m in METRICS} | {"count": len(rows)}


def format_table(summary: dict[str, dict[str, float]]) -> str:
    lines = ["| class | n | SDR | SDRi | SI-SDR | SI-SDRi |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, row in summary.items():
        values = " | ".join(f"{row[m]:.2f}" for m in METRICS)
        lines.append(f"| {label} | {row['count']} | {values} |")
    return "\n".join(lines)


def file_sha256(path: Path) -> str:
    """The file's SHA-256 in hex, streamed: an official checkpoint is over a gigabyte."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_results(out: Path, summary: dict, results: list[dict], settings: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"settings": settings, "summary": summary, "items": results}, indent=1))
    with open(out.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(results[0]))
        writer.writeheader()
        writer.writerows(results)


def run(args: argparse.Namespace, separator: Separator) -> dict:
    if args.mixtures:
        items = listed_items(args.mixtures)
    elif args.short_tones:
        items = short_tone_items(args.per_class, args.seed)
    elif args.library:
        items = pool_items(LibrarySources(args.library, args.split), args.per_class, args.snr, args.seed, args.all_captions)
    else:
        items = generated_items(args.per_class, args.snr, args.captions, args.seed, args.all_captions)
    with torch.inference_mode():
        results = evaluate(separator, items)
    summary = summarise(results)
    if args.out:
        settings = {k: str(v) for k, v in vars(args).items() if k not in ("func",)}
        if args.checkpoint and Path(args.checkpoint).is_file():  # the results name the exact weights they scored
            settings["checkpoint_sha256"] = file_sha256(Path(args.checkpoint))
        write_results(args.out, summary, results, settings)
    return summary
