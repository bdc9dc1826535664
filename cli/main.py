"""The ``lass`` command: separate described sounds out of audio files, and save query embeddings.

    lass separate mix.wav -q "dog barking" -o dog.wav
    lass separate mix.flac -q "speech" -q "music" --mode remove -o out.flac   # out-1-speech.flac, ...
    lass embed -q "dog barking" -o dog.npy
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch

from audio.files import AudioFileError, check_writable_format, read_audio, write_audio
from models.clap import check_texts
from models.errors import ModelLoadingError
from models.loading import condition_from_file
from models.separator import Separator

EXIT_USER_ERROR = 2


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="AudioSep .ckpt, state-dict .pt or our .safetensors bundle")
    parser.add_argument("--clap-checkpoint", type=Path, help="laion-clap .pt, if the checkpoint has no query encoder")
    parser.add_argument("--tokenizer", type=Path, help="folder with the roberta-base tokenizer files")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lass", description="Separate anything you describe.")
    commands = parser.add_subparsers(dest="command", required=True)

    separate = commands.add_parser("separate", help="separate described sounds out of an audio file")
    separate.add_argument("input", type=Path, help="audio file (any format libsndfile reads)")
    separate.add_argument("-q", "--query", action="append", default=[], help="description; repeat for several")
    separate.add_argument("--query-audio", type=Path, action="append", default=[], help="example clip as query")
    separate.add_argument("--embedding", type=Path, action="append", default=[], help="saved condition (.npy)")
    separate.add_argument("--mode", choices=("isolate", "remove"), default="isolate")
    separate.add_argument("-o", "--output", type=Path, required=True, help="output file (one per query)")
    _model_arguments(separate)

    embed = commands.add_parser("embed", help="encode a description once, to reuse with --embedding")
    embed.add_argument("-q", "--query", required=True, help="description")
    embed.add_argument("-o", "--output", type=Path, required=True, help=".npy file for the (512,) condition")
    _model_arguments(embed)
    return parser


def output_paths(output: Path, labels: list[str]) -> list[Path]:
    """One query writes ``output``; several write ``<stem>-<n>-<label><suffix>`` beside it."""
    if len(labels) == 1:
        return [output]
    slugs = [re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")[:40] or "query" for label in labels]
    return [output.with_name(f"{output.stem}-{i}-{slug}{output.suffix}") for i, slug in enumerate(slugs, 1)]


def run_separate(args: argparse.Namespace) -> None:
    if not (args.query or args.query_audio or args.embedding):
        raise ValueError("give at least one query: -q TEXT, --query-audio FILE or --embedding FILE")
    if args.query:
        check_texts(args.query)
    check_writable_format(args.output)
    clip = read_audio(args.input)
    separator = Separator.from_checkpoint(args.checkpoint, args.clap_checkpoint, args.tokenizer)
    conditions, labels = [], []
    if args.query:
        conditions.append(separator.embed_texts(args.query))
        labels += args.query
    for path in args.query_audio:
        example = read_audio(path)
        conditions.append(separator.embed_audio(example.samples, example.sample_rate_hz))
        labels.append(path.stem)
    for path in args.embedding:
        conditions.append(condition_from_file(path))
        labels.append(path.stem)
    separated = separator.separate(
        clip.samples, clip.sample_rate_hz, torch.cat(conditions), args.mode, show_progress=sys.stderr.isatty()
    )
    for path, samples in zip(output_paths(args.output, labels), separated):
        write_audio(path, samples, clip.sample_rate_hz, clip.subtype)
        print(f"wrote {path}")


def run_embed(args: argparse.Namespace) -> None:
    check_texts([args.query])
    separator = Separator.from_checkpoint(args.checkpoint, args.clap_checkpoint, args.tokenizer)
    condition = separator.embed_texts([args.query])[0].numpy()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".part")
    with open(tmp, "wb") as handle:
        np.save(handle, condition)
    tmp.replace(args.output)
    print(f"wrote {args.output}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        {"separate": run_separate, "embed": run_embed}[args.command](args)
    except (ModelLoadingError, AudioFileError, ValueError) as error:
        print(f"lass: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
