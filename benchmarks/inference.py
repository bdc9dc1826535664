"""Inference benchmark: the reference forward (eager float32, FiLM computed inside, as the official code
runs) against the steps of our fast path (:mod:`models.fast_path`), side by side in one run.

    python -m benchmarks.inference --out benchmarks/results/inference.json [--compile]

Full-size ResUNet30 (seeded random weights: speed does not depend on their values). Reported per
variant and input length: the first call of a new shape in the running process (one-off set-up such
as oneDNN primitive creation or compilation lands here), median and p90 of the following calls,
speed-up of the median over the reference, GFLOP/s achieved (FLOPs counted once with torch's
counter) against the measured float32 and bfloat16 matmul peaks, the largest deviation from the
reference output and its SNR (``models.metrics.sdr``; 100 dB means identical); and for the
reference and the full fast path, figures from a fresh process per length (so each peak is its own):
preparation time, the first call after start-up, peak RSS and its growth during the pass.
Rows taken while other processes loaded the machine are marked ``quiet: false``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.machine import ForeignLoad, describe, peak_rss_mb
from models.config import MODEL_SAMPLE_RATE_HZ
from models.fast_path import InferenceOptions, optimize_for_inference
from models.resunet import ResUNet30
from models.metrics import sdr

LENGTHS_S = (0.2, 0.5, 1.0, 3.0, 10.0)
REFERENCE = "reference"
OURS = "fast path (all)"
Forward = Callable[[torch.Tensor], torch.Tensor]


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """Measured matmul throughput of this machine in ``dtype`` with the current thread count."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / min(times) / 1e9


def seeded_model() -> tuple[ResUNet30, torch.Tensor]:
    torch.manual_seed(0)
    return ResUNet30().eval(), torch.nn.functional.normalize(torch.randn(1, 512), dim=-1)


def variants(net: ResUNet30, condition: torch.Tensor, compile_graph: bool) -> dict[str, Callable[[], Forward]]:
    """Builders of the reference and of each cumulative step of the fast path (the last step is what
    the app runs); building includes the one-off preparation (copy, folding, FiLM offsets)."""

    def film_once(options: InferenceOptions | None) -> Callable[[], Forward]:
        def build() -> Forward:
            model = net if options is None else optimize_for_inference(net, options)
            film = model.film(condition)
            return lambda x: model.separate(x, film)

        return build

    def compiled() -> Forward:
        fast = optimize_for_inference(net, InferenceOptions("cpu"))
        film, graph = fast.film(condition), torch.compile(fast.separate, dynamic=False)
        return lambda x: graph(x, film)

    builders = {
        REFERENCE: lambda: lambda x: net(x, condition),
        "FiLM once per query": film_once(None),
        "+ BatchNorm folded": film_once(InferenceOptions("cpu", "float32", channels_last=False)),
        "+ channels-last": film_once(InferenceOptions("cpu", "float32")),
        OURS: film_once(InferenceOptions("cpu")),
    }
    return builders | ({"+ torch.compile (not kept)": compiled} if compile_graph else {})


def timings(fn: Forward, x: torch.Tensor, repeats: int) -> dict[str, float]:
    started = time.perf_counter()
    fn(x)
    first = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - started)
    return {
        "first_call_ms": 1000 * first,
        "median_ms": 1000 * float(np.median(times)),
        "p90_ms": 1000 * float(np.percentile(times, 90)),
    }


def fresh_process_figures(variant: str, seconds: float, threads: int) -> None:
    """In a fresh process (model just loaded): print the preparation time, the first call's time, and
    the peak RSS of one pass and its growth over the loaded model, as JSON."""
    torch.set_num_threads(threads)
    net, condition = seeded_model()
    x = 0.1 * torch.randn(1, 1, int(seconds * MODEL_SAMPLE_RATE_HZ))
    with torch.inference_mode():
        started = time.perf_counter()
        fn = variants(net, condition, compile_graph=False)[variant]()
        prepared = time.perf_counter()
        loaded_mb = peak_rss_mb()
        fn(x)
        done = time.perf_counter()
    peak_mb = peak_rss_mb()
    print(json.dumps({
        "fresh_prepare_ms": 1000 * (prepared - started), "fresh_first_call_ms": 1000 * (done - prepared),
        "peak_rss_mb": peak_mb, "pass_growth_mb": peak_mb - loaded_mb,
    }))


def fresh_process(variant: str, seconds: float, threads: int) -> dict[str, float]:
    code = f"from benchmarks.inference import fresh_process_figures as f; f({variant!r}, {seconds}, {threads})"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=list(LENGTHS_S))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile of the fast path")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/inference.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net, condition = seeded_model()
    peaks = {"float32": matmul_peak_gflops(torch.float32), "bfloat16": matmul_peak_gflops(torch.bfloat16)}
    print(f"matmul peak: float32 {peaks['float32']:.0f} GFLOP/s, bfloat16 {peaks['bfloat16']:.0f} GFLOP/s")
    rows = []
    with torch.inference_mode():
        fns = {name: build() for name, build in variants(net, condition, args.compile).items()}
        for seconds in args.lengths:
            x = 0.1 * torch.randn(1, 1, int(seconds * MODEL_SAMPLE_RATE_HZ))
            with FlopCounterMode(display=False) as counter:
                reference_out = net(x, condition)
            gflop = counter.get_total_flops() / 1e9
            base = None
            for name, fn in fns.items():
                with ForeignLoad() as load:
                    row = timings(fn, x, args.repeats)
                base = base or row["median_ms"]
                out = fn(x)
                row |= {
                    "variant": name, "seconds": seconds, "gflop": gflop, "speedup": base / row["median_ms"],
                    "gflops_achieved": gflop / (row["median_ms"] / 1000), "matmul_peak_gflops": peaks,
                    "max_abs_deviation": float((out - reference_out).abs().max()),
                    "snr_vs_reference_db": sdr(reference_out.numpy(), out.numpy()),
                    "foreign_load_cores": load.cores, "quiet": load.quiet,
                }
                if name in (REFERENCE, OURS):
                    row |= fresh_process(name, seconds, args.threads)
                rows.append(row)
                fresh = (
                    f"fresh: first {row['fresh_first_call_ms']:7.1f} ms, peak {row['peak_rss_mb']:5.0f} MB"
                    if "peak_rss_mb" in row else ""
                )
                print(
                    f"{seconds:5.1f} s  {name:27s} first {row['first_call_ms']:8.1f}  median {row['median_ms']:8.1f}  "
                    f"p90 {row['p90_ms']:8.1f} ms  x{row['speedup']:.2f}  {row['gflops_achieved']:6.1f} GFLOP/s  "
                    f"snr {row['snr_vs_reference_db']:5.1f} dB  {fresh}  quiet {load.quiet}",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "matmul_peak_gflops": peaks, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
