"""Inference benchmark: the reference forward (eager, FiLM computed inside, as the official code runs)
against our inference variants, side by side in one run, over several input lengths.

    python -m benchmarks.inference --out benchmarks/results/inference.json

Reported per variant and length: median and p90 time, speed-up over the reference, peak RSS growth,
GFLOP/s achieved (counted once with torch's FLOP counter) against the machine's measured matmul peak,
and the largest deviation from the reference output. Runs taken while other processes loaded the
machine are marked ``quiet: false``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.machine import ForeignLoad, describe
from models.config import MODEL_SAMPLE_RATE_HZ
from models.resunet import ResUNet30

LENGTHS_S = (0.2, 0.5, 1.0, 3.0, 10.0)


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Measured fp32 matmul throughput of this machine with the current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / min(times) / 1e9


def variants(net: ResUNet30, condition: torch.Tensor) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    film = net.film(condition)

    def bf16(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return net.separate(x, film).float()

    return {
        "reference (eager, FiLM per call)": lambda x: net(x, condition),
        "FiLM once per query": lambda x: net.separate(x, film),
        "FiLM once + bf16 autocast": bf16,
    }


def measure(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, repeats: int) -> dict[str, float]:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn(x)  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - started)
    return {
        "median_ms": 1000 * float(np.median(times)),
        "p90_ms": 1000 * float(np.percentile(times, 90)),
        "peak_rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=list(LENGTHS_S))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/inference.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    net = ResUNet30().eval()
    condition = torch.nn.functional.normalize(torch.randn(1, 512), dim=-1)
    peak = matmul_peak_gflops()
    rows = []
    with torch.inference_mode():
        fns = variants(net, condition)
        for seconds in args.lengths:
            x = 0.1 * torch.randn(1, 1, int(seconds * MODEL_SAMPLE_RATE_HZ))
            with FlopCounterMode(display=False) as counter:
                reference_out = net(x, condition)
            gflop = counter.get_total_flops() / 1e9
            base = None
            for name, fn in fns.items():
                with ForeignLoad() as load:
                    row = measure(fn, x, args.repeats)
                base = base or row["median_ms"]
                deviation = float((fn(x) - reference_out).abs().max())
                row |= {
                    "variant": name, "seconds": seconds, "gflop": gflop, "speedup": base / row["median_ms"],
                    "gflops_achieved": gflop / (row["median_ms"] / 1000), "matmul_peak_gflops": peak,
                    "max_abs_deviation": deviation, "foreign_load_cores": load.cores, "quiet": load.quiet,
                }
                rows.append(row)
                print(
                    f"{seconds:5.1f} s  {name:34s} median {row['median_ms']:8.1f} ms  p90 {row['p90_ms']:8.1f} ms  "
                    f"x{row['speedup']:.2f}  {row['gflops_achieved']:6.1f}/{peak:.0f} GFLOP/s  "
                    f"dev {deviation:.1e}  quiet {load.quiet}",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
