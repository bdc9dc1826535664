"""Latency against quality: each model's engine latency as the app plans it on this machine (48 kHz,
hop on auto, quiet), beside its SI-SDRi on the same held-out mixtures (``lass eval`` JSON files).
Prints a Markdown table, writes JSON and an SVG plot.

    python -m benchmarks.latency_quality \
        --model "ResUNet (bundled default)" models/default/lass-default.safetensors benchmarks/results/default_ \
        --model "low-latency, look-ahead 1" runs/lookahead1/model.safetensors runs/eval_la1_ \
        --out benchmarks/results/latency_quality

Each ``--model NAME CHECKPOINT EVAL_PREFIX`` reads ``EVAL_PREFIX{real,generated,example}.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from benchmarks.machine import ForeignLoad, describe
from models.config import samples_to_ms
from models.loading import load_query_net, load_separation_net
from models.lowlatency import LowLatencyNet
from realtime.engine import EngineSettings, latency_budget
from realtime.tuning import plan_lowlatency, recommended_settings

RATE_HZ = 48_000
SETS = ("real", "generated", "example")
PLOT_WIDTH_PX, PLOT_HEIGHT_PX, MARGIN_PX = 640, 420, 56


def planned(checkpoint: Path) -> dict:
    """The engine latency the app plans for ``checkpoint`` with the hop on auto, and its algorithmic part (ms)."""
    net = load_separation_net(checkpoint).eval()
    with torch.inference_mode():
        film = net.film(load_query_net(checkpoint).embed_texts(["speech"]))
        if isinstance(net, LowLatencyNet):
            settings = plan_lowlatency(net, film, RATE_HZ)
        else:
            settings = EngineSettings(RATE_HZ, stream=recommended_settings(net, film))
    budget = latency_budget(settings)
    return {
        "algorithmic_ms": settings.stream.latency_ms,
        "engine_latency_ms": 1000 * budget.total_s(RATE_HZ),
        "look_ahead_ms": samples_to_ms(net.config.lookahead_frames * net.config.hop_samples) if isinstance(net, LowLatencyNet) else None,
    }


def quality(prefix: str) -> dict:
    """SI-SDRi (dB) of each evaluation set, and the example's per caption."""
    summaries = {name: json.loads(Path(f"{prefix}{name}.json").read_text())["summary"] for name in SETS}
    return {
        "real_si_sdri": summaries["real"]["overall"]["si_sdri"],
        "worst_real_class": min(((v["si_sdri"], k) for k, v in summaries["real"].items() if k != "overall")),
        "generated_si_sdri": summaries["generated"]["overall"]["si_sdri"],
        "example_si_sdri": {k: v["si_sdri"] for k, v in summaries["example"].items() if k != "overall"},
    }


def svg_plot(rows: list[dict]) -> str:
    """Engine latency (ms, log scale) against SI-SDRi (dB) on the real and the generated held-out sets."""
    latencies = [math.log10(r["engine_latency_ms"]) for r in rows]
    scores = [s for r in rows for s in (r["real_si_sdri"], r["generated_si_sdri"])]
    x0, x1 = math.floor(min(latencies) * 2) / 2, math.ceil(max(latencies) * 2) / 2
    y0, y1 = math.floor(min(scores)) - 1, math.ceil(max(scores)) + 1
    x = lambda ms: MARGIN_PX + (math.log10(ms) - x0) / (x1 - x0) * (PLOT_WIDTH_PX - 2 * MARGIN_PX)
    top = 24 + 12 * len(rows)  # the legend's lines above the plot
    y = lambda db: PLOT_HEIGHT_PX - MARGIN_PX - (db - y0) / (y1 - y0) * (PLOT_HEIGHT_PX - MARGIN_PX - top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PLOT_WIDTH_PX}" height="{PLOT_HEIGHT_PX}" font-family="sans-serif" font-size="11">',
        f'<rect width="{PLOT_WIDTH_PX}" height="{PLOT_HEIGHT_PX}" fill="white"/>',
        f'<line x1="{MARGIN_PX}" y1="{y(y0)}" x2="{PLOT_WIDTH_PX - MARGIN_PX}" y2="{y(y0)}" stroke="black"/>',
        f'<line x1="{MARGIN_PX}" y1="{y(y0)}" x2="{MARGIN_PX}" y2="{y(y1)}" stroke="black"/>',
        f'<text x="{PLOT_WIDTH_PX / 2}" y="{PLOT_HEIGHT_PX - 14}" text-anchor="middle">engine latency, planned at 48 kHz on this machine (ms, log scale)</text>',
        f'<text x="14" y="{PLOT_HEIGHT_PX / 2}" transform="rotate(-90 14 {PLOT_HEIGHT_PX / 2})" text-anchor="middle">SI-SDRi on held-out mixtures (dB)</text>',
    ]
    for ms in (10, 20, 30, 50, 100, 200, 500, 1000, 2000):
        if x0 <= math.log10(ms) <= x1:
            parts.append(f'<text x="{x(ms):.1f}" y="{y(y0) + 16:.1f}" text-anchor="middle">{ms}</text>')
    for db in range(int(y0), int(y1) + 1, 2):
        parts.append(f'<text x="{MARGIN_PX - 6}" y="{y(db) + 4:.1f}" text-anchor="end">{db}</text>')
    for key, colour, label in (("real_si_sdri", "#c0392b", "real recordings"), ("generated_si_sdri", "#2c7fb8", "generated")):
        for row in rows:
            parts.append(f'<circle cx="{x(row["engine_latency_ms"]):.1f}" cy="{y(row[key]):.1f}" r="4" fill="{colour}"/>')
        parts.append(f'<text x="{PLOT_WIDTH_PX - MARGIN_PX}" y="{16 if key == "real_si_sdri" else 30}" text-anchor="end" fill="{colour}">● {label}</text>')
    for number, row in enumerate(rows, 1):  # numbered beside its real-recordings point, named in the legend
        parts.append(f'<text x="{x(row["engine_latency_ms"]) + 6:.1f}" y="{y(row["real_si_sdri"]) + 4 + 11 * _neighbours_before(rows, number - 1):.1f}" font-size="10">{number}</text>')
        parts.append(f'<text x="{MARGIN_PX}" y="{6 + 12 * number}" font-size="10">{number}: {row["model"]}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _neighbours_before(rows: list[dict], index: int) -> int:
    """How many earlier rows sit within 10 % of this one's latency (their numbers stack downwards)."""
    latency = rows[index]["engine_latency_ms"]
    return sum(abs(r["engine_latency_ms"] / latency - 1) < 0.1 for r in rows[:index])


def markdown(rows: list[dict]) -> str:
    lines = [
        "| model | algorithmic | engine latency (auto) | real held-out | worst real class | generated held-out | example speech / beeps |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        example = " / ".join(f"{r['example_si_sdri'][k]:.2f}" for k in ("speech", "beeps"))
        worst_db, worst = r["worst_real_class"]
        lines.append(
            f"| {r['model']} | {r['algorithmic_ms']:.0f} ms | {r['engine_latency_ms']:.1f} ms | {r['real_si_sdri']:.2f} dB | "
            f"{worst} {worst_db:.2f} dB | {r['generated_si_sdri']:.2f} dB | {example} dB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs=3, action="append", required=True, metavar=("NAME", "CHECKPOINT", "EVAL_PREFIX"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latency_quality"))
    args = parser.parse_args()
    rows = []
    with ForeignLoad() as load:
        for name, checkpoint, prefix in args.model:
            rows.append({"model": name, "checkpoint": checkpoint} | planned(Path(checkpoint)) | quality(prefix))
    table = markdown(rows)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": describe(), "quiet": load.quiet, "foreign_load_cores": load.cores, "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    args.out.with_suffix(".svg").write_text(svg_plot(rows))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.svg')}")


if __name__ == "__main__":
    main()
