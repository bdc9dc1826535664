"""Inverse STFT: ``torch.istft`` against the graph-safe inverse the network uses (:mod:`models.stft`),
side by side in one run, at the streaming window and at the offline segment, batch 1 and 8.

    python -m benchmarks.istft --out benchmarks/results/istft.json [--device cuda]

Reported per case: median and p90 time of each, the speed-up of ours over ``torch.istft``, and their
largest difference. Rows taken while other processes loaded the machine are marked ``quiet: false``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmarks.machine import ForeignLoad, describe
from models.config import HOP_LENGTH, MAX_SEGMENT_SAMPLES, N_FFT, UNPADDED_SEGMENT_SAMPLES
from models.stft import Stft

CASES = ((1, UNPADDED_SEGMENT_SAMPLES), (1, MAX_SEGMENT_SAMPLES), (8, MAX_SEGMENT_SAMPLES))


def median_p90_ms(fn: Callable[[], torch.Tensor], device: torch.device, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times[1:])), 1000 * float(np.percentile(times[1:], 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/istft.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    stft = Stft().to(device)
    rows = []
    with torch.inference_mode():
        for batch, samples in CASES:
            spec = stft(0.1 * torch.randn(batch, 1, samples, device=device))
            flat = spec[:, 0].transpose(1, 2)

            def reference() -> torch.Tensor:
                return torch.istft(flat, N_FFT, HOP_LENGTH, window=stft.window, center=True, length=samples)

            def ours() -> torch.Tensor:
                return stft.inverse(spec, samples)

            with ForeignLoad() as load:
                ref_ms = median_p90_ms(reference, device, args.repeats)
                ours_ms = median_p90_ms(ours, device, args.repeats)
            row = {
                "device": str(device), "batch": batch, "seconds": samples / 32_000,
                "torch_istft_ms_p50": ref_ms[0], "torch_istft_ms_p90": ref_ms[1],
                "graph_safe_ms_p50": ours_ms[0], "graph_safe_ms_p90": ours_ms[1],
                "speedup": ref_ms[0] / ours_ms[0],
                "max_abs_difference": float((ours()[:, 0] - reference()).abs().max()),
                "foreign_load_cores": load.cores, "quiet": load.quiet,
            }
            rows.append(row)
            print(
                f"batch {batch}  {row['seconds']:5.2f} s  torch.istft {ref_ms[0]:7.2f} ms  graph-safe {ours_ms[0]:7.2f} ms  "
                f"x{row['speedup']:.2f}  max diff {row['max_abs_difference']:.1e}  quiet {load.quiet}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
