"""Streaming benchmark: latency, real-time factor, hop time, CPU load, dropouts and agreement with
offline separation, for each model, inference path and stream setting, in one run. Prints a table,
writes JSON.

    python -m benchmarks.streaming --seconds 60 --out benchmarks/results/streaming.json
    python -m benchmarks.streaming --device cuda --official-size --latency-targets 30 60 \
        --official-size-settings "H100 L100 W1270" --out benchmarks/results/streaming_gpu.json
    python -m benchmarks.streaming --models default lowlatency --paths fast --settings \
        --latency-targets 30 40 500 --load none busy-core --out benchmarks/results/streaming_lowlatency.json

Each model runs twice, side by side: the reference forward (eager float32, as loaded) and the fast
path the app uses (:mod:`models.fast_path`). Each setting runs the real engine paced like a sound card
(``--seconds`` of audio in as many seconds of wall time) and, separately, as fast as possible on 10 s
to compare with an offline pass of the same path. ``auto`` is what the app picks on this machine
(:func:`realtime.tuning.recommended_settings`, measured per path); ``target N ms`` is what
``lass stream --latency-ms N`` plans (:func:`realtime.tuning.plan_for_latency`). On CUDA the
streaming pass is a CUDA graph where it captures (the row's ``pass`` says which ran). Runs during which
other processes used the machine are marked ``quiet: false``.

The bundled low-latency model (:mod:`models.lowlatency`) has its own frames: its rows are ``auto``
(the least compute margin) and each latency target (:func:`realtime.tuning.plan_lowlatency`).
``--load busy-core`` runs every row again with a busy process on one core, started before the
settings are planned, as a user's other program would be; the rows name the load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import ForeignLoad, describe
from models.config import MODEL_SAMPLE_RATE_HZ, samples_to_ms
from models.fast_path import InferenceOptions, optimize_for_inference
from models.loading import load_query_net, load_separation_net
from models.lowlatency import LowLatencyNet
from models.networks import SeparationNet
from models.resunet import ResUNet30
from models.separator import default_checkpoint, lowlatency_checkpoint
from realtime.assembly import LiveRequest, engine_settings
from realtime.contract import StreamShape
from realtime.engine import Engine, EngineSettings, live_separator
from realtime.file_stream import stream_array
from realtime.streaming import StreamSettings, runs_cuda_graph
from realtime.tuning import plan_lowlatency, recommended_settings
from models.metrics import sdr

AUTO = "auto (measured)"
OFFICIAL_SIZE = "official size (random weights)"
SETTINGS: dict[str, StreamSettings | None] = {
    AUTO: None,
    "H100 L100 W1270": StreamSettings(40640, 3200, 3200, 3200),
    "H50 L50 W1270": StreamSettings(40640, 1600, 1600, 1600),
    "H200 L200 W2550": StreamSettings(81600, 6400, 6400, 6400),
}
AGREEMENT_SECONDS = 10.0
LOADS = ("none", "busy-core")


def _signal(seconds: float, rate: int) -> np.ndarray:
    """Speech-like test input: noise bursts, two tones and a chirp, repeatable."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    bursts = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 0.7 * t) > 0.3)
    tones = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1800 * t * (1 + 0.1 * np.sin(t)))
    return (0.05 * bursts + 0.1 * tones).astype(np.float32)


def models(names: list[str], paths: list[str], official_size: bool, device: str) -> dict[str, tuple[SeparationNet, torch.Tensor]]:
    """Each model as loaded (the reference path) and on the fast path, on ``device``, with the
    condition of "speech" from its own query net."""
    bundles = {"default": ("bundled default", default_checkpoint), "lowlatency": ("bundled low-latency", lowlatency_checkpoint)}
    nets = {}
    for key in names:
        name, checkpoint = bundles[key]
        nets[name] = (load_separation_net(checkpoint()), load_query_net(checkpoint()).embed_texts(["speech"]))
    if official_size:
        torch.manual_seed(0)
        nets[OFFICIAL_SIZE] = (ResUNet30().eval(), nets["bundled default"][1])
    chosen = {}
    for name, (net, condition) in nets.items():
        if "reference" in paths:
            chosen[f"{name}, reference"] = (net.to(device), condition)
        if "fast" in paths:
            chosen[f"{name}, fast path"] = (optimize_for_inference(net, InferenceOptions(device)), condition)
    return chosen


def agreement_db(net: SeparationNet, film: dict, settings: StreamShape) -> float:
    x = _signal(AGREEMENT_SECONDS, MODEL_SAMPLE_RATE_HZ)
    with torch.inference_mode():
        offline = net.separate(torch.from_numpy(x)[None, None].to(net.device), film)[0, 0].cpu().numpy()
    separator = live_separator(net, film, settings)
    streamed = np.concatenate([separator.feed(x[i : i + 1024]) for i in range(0, len(x), 1024)] + [separator.flush()])
    return sdr(offline, streamed)


def paced_run(net: SeparationNet, film: dict, settings: EngineSettings, seconds: float) -> dict:
    engine = Engine(net, film, settings)
    rate = settings.device_rate_hz
    cpu_before, wall_before = sum(os.times()[:2]), time.monotonic()
    with ForeignLoad() as load:
        stream_array(engine, _signal(seconds, rate), realtime=True)
    wall = time.monotonic() - wall_before
    stats = engine.stats.snapshot()
    return {
        "device": str(net.device),
        "pass": "CUDA graph" if runs_cuda_graph(engine.separator) else "eager",
        "block": settings.block_frames,
        "compute_margin_ms": 1000 * engine.compute_margin_samples / rate,
        "latency_ms": engine.latency_ms,
        "algorithmic_ms": settings.stream.latency_ms,
        "rtf": stats.rtf,
        "hop_ms_p50": stats.hop_ms_p50,
        "hop_ms_p99": stats.hop_ms_p99,
        "hop_share_p99": stats.hop_ms_p99 / samples_to_ms(settings.stream.hop_samples),
        "cpu_load_cores": (sum(os.times()[:2]) - cpu_before) / wall,
        "dropouts": stats.dropouts,
        "dropped_hops": stats.dropped_hops,
        "callbacks_over_budget": stats.callbacks_over_budget,
        "foreign_load_cores": load.cores,
        "quiet": load.quiet,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="paced run length per setting")
    parser.add_argument("--rate", type=int, default=48_000, help="device sample rate")
    parser.add_argument("--official-size", action="store_true", help="also the full-size model (random weights)")
    parser.add_argument(
        "--official-size-settings", nargs="+", choices=list(SETTINGS), default=[AUTO],
        help="the settings to run the full-size model with (it cannot keep up with the small hops on CPU)",
    )
    parser.add_argument("--device", default="cpu", help="torch device of the separation net: cpu, cuda")
    parser.add_argument(
        "--latency-targets", type=float, nargs="*", default=[],
        help="also run what --latency-ms plans for each of these targets (ms), for every model",
    )
    parser.add_argument("--models", nargs="+", choices=("default", "lowlatency"), default=["default"], help="bundled models to run")
    parser.add_argument("--paths", nargs="+", choices=("reference", "fast"), default=["reference", "fast"])
    parser.add_argument("--settings", nargs="*", choices=list(SETTINGS), default=list(SETTINGS), help="the ResUNet's settings to run (none: only the latency targets)")
    parser.add_argument(
        "--load", nargs="+", choices=LOADS, default=["none"],
        help="none: as the machine is; busy-core: every row again with a busy process on one core",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/streaming.json"))
    args = parser.parse_args()
    rows = []
    chosen = models(args.models, args.paths, args.official_size, args.device)
    with torch.inference_mode():
        for load in args.load:
            with BusyCore() if load == "busy-core" else contextlib.nullcontext():
                for model_name, (net, condition) in chosen.items():
                    rows += _model_rows(model_name, net, net.film(condition), load, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "seconds": args.seconds, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


def _model_rows(model_name: str, net: SeparationNet, film: dict, load: str, args: argparse.Namespace) -> list[dict]:
    rows = []
    for setting_name, settings in _engine_settings(net, film, args):
        official = model_name.startswith(OFFICIAL_SIZE)
        if official and setting_name in SETTINGS and setting_name not in args.official_size_settings:
            continue
        row = {"model": model_name, "setting": setting_name, "load": load, "hop_ms": samples_to_ms(settings.stream.hop_samples)}
        row |= paced_run(net, film, settings, args.seconds)
        row["agreement_db"] = agreement_db(net, film, settings.stream)
        rows.append(row)
        print(_format(row), flush=True)
    return rows


def _engine_settings(net: SeparationNet, film: dict, args: argparse.Namespace):
    """(name, settings) of every row for one model: the fixed settings and auto (the low-latency
    model: auto only), and each latency target."""
    if isinstance(net, LowLatencyNet):
        yield AUTO, plan_lowlatency(net, film, args.rate)
    else:
        for name in args.settings:
            yield name, EngineSettings(device_rate_hz=args.rate, stream=SETTINGS[name] or recommended_settings(net, film))
    for target_ms in args.latency_targets:
        request = LiveRequest(latency_ms=target_ms)
        try:
            yield f"target {target_ms:g} ms", engine_settings(net, film, args.rate, request)
        except ValueError as error:
            print(f"{net.architecture}, target {target_ms:g} ms: {error}", flush=True)


class BusyCore:
    """A busy loop in another process for as long as the context lasts: another program keeping one
    core busy."""

    def __enter__(self) -> BusyCore:
        self._process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.wait()


def _format(row: dict) -> str:
    return (
        f"{row['model']:36s} {row['setting']:16s} {row['load']:9s} {row['pass']:6s} hop {row['hop_ms']:4.0f} ms  latency {row['latency_ms']:6.1f} ms  "
        f"rtf {row['rtf']:.2f}  hop p50/p99 {row['hop_ms_p50']:.1f}/{row['hop_ms_p99']:.1f} ms ({100 * row['hop_share_p99']:.0f}%)  cpu {row['cpu_load_cores']:.2f}  "
        f"dropouts {row['dropouts']}  vs offline {row['agreement_db']:.1f} dB  quiet {row['quiet']}"
    )


if __name__ == "__main__":
    main()
