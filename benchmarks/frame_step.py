"""Per-frame cost of the bundled low-latency network, side by side in one run: its mask through
PyTorch's modules (``LowLatencyNet.masks``, one thread) against the NumPy step the live stream runs
(:class:`models.lowlatency_step.FrameStep`, one BLAS thread), and the stream's whole hop (spectrum,
mask, inverse, overlap-add), back to back and after idling as long as the engine's worker idles
between two 256-frame blocks at 48 kHz (what the live stream pays: its weights and core go cold while
it waits). Quiet and with a busy process on one core. Prints a table, writes JSON.

    python -m benchmarks.frame_step --out benchmarks/results/frame_step.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import ForeignLoad, describe
from benchmarks.streaming import LOADS, BusyCore
from models.config import samples_to_ms
from models.loading import load_query_net, load_separation_net
from models.lowlatency_step import FrameStep, one_blas_thread
from models.separator import lowlatency_checkpoint
from realtime.lowlatency_stream import LowLatencyStream

WARM_UP_FRAMES = 200
IDLE_S = 256 / 48_000  # one device block at 48 kHz: the worker sleeps about this long between blocks


def timings_ms(step: Callable[[int], object], frames: int, idle_s: float = 0.0) -> np.ndarray:
    """Wall time of ``step(k)`` for ``k`` in ``range(frames)``, after a warm-up, in ms; with
    ``idle_s``, the thread sleeps that long (untimed) before each step."""
    for k in range(WARM_UP_FRAMES):
        step(k)
    out = np.empty(frames)
    for k in range(frames):
        if idle_s:
            time.sleep(idle_s)
        started = time.perf_counter()
        step(k)
        out[k] = time.perf_counter() - started
    return 1000.0 * out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--load", nargs="+", choices=LOADS, default=list(LOADS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/frame_step.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # the modules' path on one thread, as the stream ran it before the step
    checkpoint = lowlatency_checkpoint()
    net = load_separation_net(checkpoint).eval()
    with torch.inference_mode():
        film = net.film(load_query_net(checkpoint).embed_texts(["speech"]))
    c = net.config
    signal = (0.1 * np.random.default_rng(0).standard_normal(c.hop_samples * args.frames)).astype(np.float32)
    spans = torch.from_numpy(signal).unfold(0, c.span_samples, c.hop_samples)
    features = net.features(spans, net.spectra(spans))
    step = FrameStep(net)
    step_film, step_state = step.film(film), step.initial_state(1)
    step_features = features.numpy()
    torch_state: list[torch.Tensor | None] = [None]

    @torch.inference_mode()
    def modules(k: int) -> None:
        _, torch_state[0] = net.masks(features[k % len(features)][None, None], film, torch_state[0])

    def numpy_step(k: int) -> None:
        with one_blas_thread():
            step.masks(step_features[k % len(step_features)], step_film, step_state)

    stream = LowLatencyStream(net, film)
    stream.warm_up()

    def hop(k: int) -> None:
        stream.feed(signal[(k % args.frames) * c.hop_samples : (k % args.frames + 1) * c.hop_samples])

    rows = []
    for load in args.load:
        with BusyCore() if load == "busy-core" else contextlib.nullcontext(), ForeignLoad() as foreign:
            paths = (
                ("mask: PyTorch modules", modules, 0.0), ("mask: NumPy step", numpy_step, 0.0), ("whole hop: stream", hop, 0.0),
                (f"whole hop, after {1000 * IDLE_S:.1f} ms idle", hop, IDLE_S),
            )
            for name, run, idle_s in paths:
                ms = timings_ms(run, args.frames, idle_s)
                rows.append({
                    "path": name, "load": load, "frames": args.frames, "ms_p50": float(np.percentile(ms, 50)),
                    "ms_p99": float(np.percentile(ms, 99)), "hop_ms": samples_to_ms(c.hop_samples),
                })
                print(f"{name:30s} {load:9s} p50 {rows[-1]['ms_p50']:.3f} ms  p99 {rows[-1]['ms_p99']:.3f} ms", flush=True)
        for row in rows[-len(paths) :]:
            row |= {"foreign_load_cores": foreign.cores, "quiet": foreign.quiet}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
