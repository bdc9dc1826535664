"""Peak memory of `lass separate` against file length, full-size model (random weights), one process
per length so that each peak is its own. Prints a table and writes JSON.

    python -m benchmarks.memory --out benchmarks/results/memory.json

Up to 10 s is one forward pass; longer files go through overlapping 10 s segments, so the peak
should stop growing with length beyond 10 s (only the audio arrays themselves grow).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from audio.files import write_audio
from benchmarks.machine import describe
from models.config import MODEL_SAMPLE_RATE_HZ
from models.resunet import ResUNet30

LENGTHS_S = (2.0, 10.0, 30.0, 60.0)
# Runs `lass ARGS...` in this process and prints its own peak RSS (MB) last.
PEAK_REPORTER = (
    "import sys\n"
    "from benchmarks.machine import peak_rss_mb\n"
    "from cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print(peak_rss_mb())\n"
    "sys.exit(code)\n"
)


def run_one(checkpoint: Path, embedding: Path, seconds: float, folder: Path) -> dict:
    audio = folder / f"in_{seconds:g}.wav"
    rng = np.random.default_rng(0)
    write_audio(audio, (0.1 * rng.standard_normal((1, int(seconds * MODEL_SAMPLE_RATE_HZ)))).astype(np.float32), MODEL_SAMPLE_RATE_HZ)
    argv = ["separate", str(audio), "--embedding", str(embedding), "--checkpoint", str(checkpoint), "-o", str(folder / "out.wav")]
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", PEAK_REPORTER, *argv], check=True, capture_output=True, text=True)
    peak_mb = float(result.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "peak_rss_mb": peak_mb, "wall_s": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=list(LENGTHS_S))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.manual_seed(0)
        checkpoint = folder / "official_size.pt"
        torch.save({"ss_model." + k: v for k, v in ResUNet30().state_dict().items()}, checkpoint)
        embedding = folder / "condition.npy"
        np.save(embedding, np.full(512, 512**-0.5, dtype=np.float32))
        for seconds in args.lengths:
            row = run_one(checkpoint, embedding, seconds, folder)
            rows.append(row)
            print(f"{seconds:6.1f} s  peak RSS {row['peak_rss_mb']:7.0f} MB  wall {row['wall_s']:.1f} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
