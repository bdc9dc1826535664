"""A folder of files: one `lass separate` call over the folder (with each number of ``--workers``: files
at once, their segments batched) against one call per file, side by side. Prints a table and writes JSON.

    python -m benchmarks.batch --out benchmarks/results/batch.json               # 100 files x 30 s
    python -m benchmarks.batch --workers 1 4 --no-per-file --out benchmarks/results/batch_workers.json
    python -m benchmarks.batch --files 8 --seconds 600 --device cuda --workers 1 8 --out benchmarks/results/batch_gpu.json

The files are mono 16-bit WAV at ``--rate`` (seeded noise, in a nested folder tree); the bundled model;
the same query. Wall time from launch to exit of each process, including start-up, so that the table
shows what a user waits. "Hours per second" is hours of audio per second of wall time.
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

from audio.files import write_audio
from benchmarks.machine import ForeignLoad, describe
from models.config import MODEL_SAMPLE_RATE_HZ

ROOT = Path(__file__).resolve().parent.parent
QUERY = "speech"


def write_archive(folder: Path, files: int, seconds: float, rate_hz: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = [folder / f"part{i % 4}" / f"file{i:03d}.wav" for i in range(files)]
    for path in paths:
        write_audio(path, (0.1 * rng.standard_normal((1, int(seconds * rate_hz)))).astype(np.float32), rate_hz, "PCM_16")
    return paths


def lass_s(arguments: list[str]) -> float:
    """Wall seconds of one ``lass`` process (fails loudly if it does)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "cli.main", *arguments], cwd=ROOT, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each file")
    parser.add_argument("--rate", type=int, default=MODEL_SAMPLE_RATE_HZ, help="the files' sample rate (Hz)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="one folder call with each")
    parser.add_argument("--no-per-file", action="store_true", help="leave out the one-call-per-file row")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model = ["-q", QUERY, "--device", args.device]
    hours = args.files * args.seconds / 3600
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ForeignLoad() as load:
        archive = Path(tmp) / "archive"
        paths = write_archive(archive, args.files, args.seconds, args.rate)
        for workers in args.workers:
            out = Path(tmp) / f"workers{workers}"
            wall_s = lass_s(["separate", str(archive), *model, "-o", str(out), "--workers", str(workers)])
            passes = json.loads((out / "lass-separate.json").read_text())["forward_passes"]
            rows.append({"way": f"one call for the folder, {workers} worker(s)", "wall_s": wall_s,
                         "hours_per_s": hours / wall_s, "forward_passes": passes})
        if not args.no_per_file:
            per_file_s = sum(lass_s(["separate", str(p), *model, "-o", str(Path(tmp) / "each" / p.name)]) for p in paths)
            rows.append({"way": "one call per file", "wall_s": per_file_s, "hours_per_s": hours / per_file_s})
    print(f"{args.files} files x {args.seconds:g} s at {args.rate} Hz ({hours:.2f} h of audio), device {args.device}:")
    print("| way | wall time | hours of audio per second | forward passes |\n| --- | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['way']} | {row['wall_s']:.1f} s | {row['hours_per_s']:.4f} | {row.get('forward_passes', '')} |")
    print(f"foreign load {load.cores:.2f} cores ({'quiet' if load.quiet else 'NOT quiet'})")
    if args.out:
        settings = {"files": args.files, "seconds": args.seconds, "rate_hz": args.rate, "device": args.device, "query": QUERY}
        report = {"machine": describe(), "foreign_cores": load.cores, "quiet": load.quiet, "settings": settings, "rows": rows}
        args.out.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
