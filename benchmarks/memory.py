"""Peak memory of `lass separate` and `lass stream --input-file` against file length, one process per
run so that each peak is its own. Prints a table and writes JSON.

    python -m benchmarks.memory --out benchmarks/results/memory.json                     # 1 min to 3 h
    python -m benchmarks.memory --model official-size --lengths 2 10 30 60 --commands separate

Files go through in blocks (`models/block_separation.py`, `realtime/file_stream.py`): the peak should
not grow with length. The inputs are 32 kHz mono 16-bit WAV noise, written in blocks too.
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

from audio.files import AudioSink
from benchmarks.machine import describe
from models.config import MODEL_SAMPLE_RATE_HZ
from models.resunet import ResUNet30
from models.separator import default_checkpoint

LENGTHS_S = (60.0, 600.0, 3600.0, 10800.0)
COMMANDS = ("separate", "stream")
WRITE_BLOCK_S = 60
# Runs `lass ARGS...` in this process and prints its own peak RSS (MB) last.
PEAK_REPORTER = (
    "import sys\n"
    "from benchmarks.machine import peak_rss_mb\n"
    "from cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print(peak_rss_mb())\n"
    "sys.exit(code)\n"
)


def write_noise(path: Path, seconds: float) -> None:
    rng = np.random.default_rng(0)
    with AudioSink(path, MODEL_SAMPLE_RATE_HZ, 1, "PCM_16") as sink:
        for start_s in np.arange(0, seconds, WRITE_BLOCK_S):
            frames = int(min(WRITE_BLOCK_S, seconds - start_s) * MODEL_SAMPLE_RATE_HZ)
            sink.write((0.1 * rng.standard_normal((1, frames))).astype(np.float32))


def command_line(command: str, audio: Path, output: Path, model: list[str], embedding: Path, hop_ms: float) -> list[str]:
    if command == "separate":
        return ["separate", str(audio), "-o", str(output), "--embedding", str(embedding), *model]
    return ["stream", "--input-file", str(audio), "--output-file", str(output), "--embedding", str(embedding),
            "--hop-ms", f"{hop_ms:g}", *model]


def run_one(argv: list[str]) -> dict:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", PEAK_REPORTER, *argv], check=True, capture_output=True, text=True)
    return {"peak_rss_mb": float(result.stdout.strip().splitlines()[-1]), "wall_s": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=list(LENGTHS_S), help="seconds")
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--model", choices=("default", "official-size"), default="default",
                        help="the bundled model, or the full-size net with random weights")
    parser.add_argument("--hop-ms", type=float, default=500.0, help="the stream's hop")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.model == "official-size":
            torch.manual_seed(0)
            checkpoint = folder / "official_size.pt"
            torch.save({"ss_model." + k: v for k, v in ResUNet30().state_dict().items()}, checkpoint)
        else:
            checkpoint = default_checkpoint()
        embedding = folder / "condition.npy"
        np.save(embedding, np.full(512, 512**-0.5, dtype=np.float32))
        for seconds in args.lengths:
            audio = folder / "in.wav"
            write_noise(audio, seconds)
            for command in args.commands:
                argv = command_line(command, audio, folder / "out.wav", ["--checkpoint", str(checkpoint)], embedding, args.hop_ms)
                row = {"command": command, "seconds": seconds} | run_one(argv)
                rows.append(row)
                print(f"{command:8s} {seconds:8.0f} s  peak RSS {row['peak_rss_mb']:6.0f} MB  wall {row['wall_s']:7.1f} s", flush=True)
    summary = {}
    for command in args.commands:
        peaks = [row["peak_rss_mb"] for row in rows if row["command"] == command]
        summary[command] = {"min_mb": min(peaks), "max_mb": max(peaks), "spread_percent": 100 * (max(peaks) / min(peaks) - 1)}
        print(f"{command:8s} peak {min(peaks):.0f}-{max(peaks):.0f} MB: spread {summary[command]['spread_percent']:.1f} %")
    settings = {"model": args.model, "hop_ms": args.hop_ms, "input": "32 kHz mono PCM_16 WAV"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "settings": settings, "summary": summary, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
