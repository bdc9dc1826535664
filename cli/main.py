"""The ``lass`` command: separate described sounds out of audio files, and save query embeddings.

    lass separate mix.wav -q "dog barking" -o dog.wav
    lass separate mix.flac -q "speech" -q "music" --mode remove -o out.flac   # out-1-speech.flac, ...
    lass embed -q "dog barking" -o dog.npy
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

# Only light modules here: `lass --help` and argument errors answer before torch is imported.
from audio.files import AudioFileError, AudioFileWarning, AudioSource
from audio.places import OutputPlaceError, check_output_place, check_writable_place
from cli.batch import collect_jobs, is_batch, is_manifest
from cli.distributed import gathered, local_device, process_group, rank_and_world, share
from cli.loading import check_embeddings, clear_stale_parts, load_separator, warn_about_unknown_sounds
from models.config import MODES
from models.errors import ModelLoadingError, NonFiniteOutput, UserError
from models.many_files import LOG_NAME, BatchReport, Job, separate_files, write_log
from models.queries import CONDITION_SUFFIX, check_texts, describe, parse_query, texts_of
from realtime.errors import AudioDeviceError, EngineFailure, UnprocessedOutput, VirtualMicError
from realtime.stats import kept_text
from training.config import add_eval_arguments, add_library_arguments, add_train_arguments

if TYPE_CHECKING:
    from models.separator import Separator

EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # as a shell reports Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM
GPU_WORKERS = 4  # files at once on a GPU: their decoding overlaps, their segments share passes


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--checkpoint", type=Path, help="AudioSep .ckpt, state-dict .pt or our .safetensors bundle")
    choice.add_argument("--official", action="store_true", help="official AudioSep weights (HF cache or download)")
    choice.add_argument(
        "--low-latency", action="store_true",
        help="the bundled low-latency model: streaming-native, 16 ms algorithmic latency, lower quality than the default",
    )
    parser.add_argument("--clap-checkpoint", type=Path, help="laion-clap .pt, if the checkpoint has no query encoder")
    parser.add_argument("--tokenizer", type=Path, help="folder with the roberta-base tokenizer files")
    parser.add_argument("--device", default="auto", help="torch device for the separation model: auto, cpu, cuda")
    parser.add_argument(
        "--precision", choices=("auto", "float32", "bfloat16", "float16"), default="auto",
        help="U-Net compute type (auto: bfloat16 where the hardware has it, else float32)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the model libraries' own progress and messages")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lass", description="Separate anything you describe.")
    commands = parser.add_subparsers(dest="command", required=True)

    separate = commands.add_parser("separate", help="separate described sounds out of audio files")
    separate.add_argument(
        "input", nargs="+",
        help="audio file (any format libsndfile reads); several files, folders (recursive) or glob patterns "
        "write into the folder -o, mirroring the inputs, and skip outputs that are already there",
    )
    separate.add_argument("-q", "--query", action="append", default=[], help="description; repeat for several")
    separate.add_argument("--query-audio", type=Path, action="append", default=[], help="example clip as query")
    separate.add_argument("--embedding", type=Path, action="append", default=[], help="saved condition (.npy)")
    separate.add_argument("--mode", choices=MODES, default="isolate")
    separate.add_argument("-o", "--output", type=Path, required=True, help="output file (one per query), or folder")
    separate.add_argument("--repair-nonfinite", action="store_true", help="make NaN or infinite input samples silence")
    separate.add_argument(
        "--inputs-anywhere", action="store_true",
        help="let a manifest's rows name input files outside its folder (absolute paths, or paths through ..); "
        "outputs stay inside -o whatever is given",
    )
    separate.add_argument(
        "--workers", type=int,
        help=f"with several inputs: files separated at once, their segments batched into shared passes "
        f"(default: 1 on a CPU, where more were slower, {GPU_WORKERS} on a GPU)",
    )
    _model_arguments(separate)

    add_train_arguments(commands.add_parser("train", help="train or fine-tune a model (PyTorch Lightning)"))
    add_library_arguments(commands.add_parser("library", help="build a library of real recorded sources for training"))
    evaluate = commands.add_parser("eval", help="SDR/SI-SDR(i) of a model on a generated set or list")
    add_eval_arguments(evaluate)
    _model_arguments(evaluate)
    compare = commands.add_parser(
        "compare", help="two evaluations of the same mixtures side by side: each label's change and its 95%% interval"
    )
    compare.add_argument("before", type=Path, help="a JSON that `lass eval --out` wrote (the model before)")
    compare.add_argument("after", type=Path, help="a JSON of the same evaluation of another model")
    compare.add_argument("--metric", default="si_sdri", choices=("si_sdri", "sdri", "si_sdr", "sdr"))
    compare.add_argument("--out", type=Path, help="also write the rows to this JSON file")

    stream = commands.add_parser("stream", help="separate live input (devices) or a file through the real-time engine")
    query = stream.add_mutually_exclusive_group()
    query.add_argument("-q", "--query", help="description of the sound; several: 'a + b', 'a but not b'")
    query.add_argument("--embedding", type=Path, help="saved condition (.npy) instead of a description")
    query.add_argument("--preset", help="a preset saved in the app: its query, mode and dry/wet")
    source = stream.add_mutually_exclusive_group(required=True)
    source.add_argument("--input-file", type=Path, help="play this file through the engine instead of a device")
    source.add_argument("--input-device", help="input device (index or part of its name)")
    source.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    stream.add_argument("--output-file", type=Path, help="with --input-file: where to write the result")
    stream.add_argument("--output-device", help="output device (index or part of its name)")
    stream.add_argument(
        "--virtual-mic", metavar="NAME",
        help="publish the output as a capture source NAME (a JACK client; PipeWire through pipewire-jack) instead of "
        "playing it; input from --input-file, or with --input-device from the server's first capture port",
    )
    stream.add_argument("--realtime", action="store_true", help="with --input-file: pace blocks like a device")
    stream.add_argument("--repair-nonfinite", action="store_true", help="with --input-file: make NaN or infinite samples silence")
    stream.add_argument("--rate", type=int, default=48_000, help="device sample rate (Hz)")
    stream.add_argument("--block", type=int, help="device block size (frames; default 512)")
    stream.add_argument(
        "--latency-ms", type=float,
        help="latency to aim for: hop, look-ahead, crossfade, block and compute margin are chosen for it from "
        "timings of the model on this device (instead of --hop-ms/--lookahead-ms/--window-ms/--block); below what "
        "the default model reaches, the bundled low-latency model is taken",
    )
    stream.add_argument("--hop-ms", type=float, help="hop (default: measured on this machine)")
    stream.add_argument("--lookahead-ms", type=float, help="look-ahead (default: one hop)")
    stream.add_argument("--window-ms", type=float, help="model context (default: 1270 ms)")
    stream.add_argument("--mode", choices=MODES, default="isolate")
    stream.add_argument("--wet", type=float, default=1.0, help="dry/wet mix, 0..1")
    stream.add_argument("--seconds", type=float, help="live: stop after this long (default: until Ctrl-C)")
    _model_arguments(stream)

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


def run_separate(args: argparse.Namespace) -> int:
    texts = [parse_query(text) for text in args.query]  # "a + b but not c": one output of several sounds
    queries = [*texts, *args.query_audio, *args.embedding]  # in the order of the output labels
    if not queries and not any(is_manifest(name) for name in args.input):  # a manifest's rows may bring their own
        raise UserError("give at least one query: -q TEXT, --query-audio FILE or --embedding FILE")
    check_embeddings(args.embedding)
    labels = [q.stem if isinstance(q, Path) else describe(q) for q in queries]
    if is_batch(args.input):
        return _separate_many(args, queries, labels)
    source = Path(args.input[0])
    outputs = output_paths(args.output, labels)
    for path in outputs:  # before any work: a wrong place fails now, not after the separation
        check_output_place(path, source, len(outputs))
    clear_stale_parts(args.output.resolve().parent)
    with AudioSource(source):  # a file that cannot be used is said before the model loads
        pass
    separator = _load_for(args, queries)
    conditions, combinations = separator.conditions(queries)
    kept = separator.separate_file(source, outputs, conditions, args.mode, args.repair_nonfinite, sys.stderr.isatty(), combinations=combinations)
    for path, kept_share in zip(outputs, kept):
        print(f"wrote {path} ({kept_text(kept_share, remove=args.mode == 'remove')})")
    return 0


def _separate_many(args: argparse.Namespace, queries: list, labels: list[str]) -> int:
    """Several inputs into the folder ``-o``: exit 0 when every file was separated (or was already),
    1 when some failed (each is listed with its reason)."""
    if args.output.is_file():
        raise UserError(f"-o {args.output} is a file: with several inputs, -o names a folder")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: give at least 1")
    jobs = collect_jobs(args.input, args.output, lambda path: output_paths(path, labels), args.inputs_anywhere)
    if not jobs:
        raise UserError(f"no audio files in {', '.join(args.input)}")
    unqueried = next((job for job in jobs if job.query is None), None)
    if unqueried is not None and not queries:
        raise UserError(f"{unqueried.source} has no query in its manifest row, and none was given: add -q TEXT or a query column")
    rank, world = rank_and_world()  # under torchrun: this process's share of the files
    with process_group(world):
        return _separate_share(args, jobs, queries, rank, world)


def _separate_share(args: argparse.Namespace, jobs: list[Job], queries: list, rank: int, world: int) -> int:
    """This rank's share of ``jobs`` (all of them alone); under torchrun the reports are gathered and rank 0 logs."""
    if world > 1:
        args = argparse.Namespace(**vars(args) | {"device": local_device(args.device)})
    row_queries = {job.query for job in jobs if job.query is not None}
    clear_stale_parts(args.output, recursive=True)
    separator = _load_for(args, [*queries, *row_queries])
    command = separator.conditions(queries) if queries else None
    by_query = {query: separator.conditions([query]) for query in row_queries}
    conditions_of = lambda job: command if job.query is None else by_query[job.query]
    label = f"[rank {rank}/{world}] " if world > 1 else ""
    workers = args.workers or (GPU_WORKERS if separator.separation_net.device.type == "cuda" else 1)
    report = BatchReport()
    try:
        say = lambda line: print(line, flush=True)
        separate_files(separator, share(jobs, rank, world), conditions_of, args.mode, args.repair_nonfinite, report, label, workers, say)
    except (KeyboardInterrupt, Terminated):
        if world == 1:  # what was done is logged; under torchrun the launcher stops every rank, none gathers
            report.interrupted = True
            write_log(report, args.output / LOG_NAME)
            print(f"{report.summary()}\nlog: {args.output / LOG_NAME}")
        raise
    if world > 1:
        report = gathered(report)
        if rank != 0:  # rank 0 says it all, once
            return EXIT_FAILURE if report.failed else 0
    write_log(report, args.output / LOG_NAME)
    print(report.summary())
    for source, error in report.failed.items():
        print(f"  failed: {source}: {error}")
    print(f"log: {args.output / LOG_NAME}")
    return EXIT_FAILURE if report.failed else 0


def _load_for(args: argparse.Namespace, queries: list) -> Separator:
    """The model; the descriptions in ``queries`` it does not know are said."""
    separator = load_separator(args)
    warn_about_unknown_sounds(separator, [t for q in queries for t in texts_of(q)])
    return separator


def run_embed(args: argparse.Namespace) -> None:
    from models.loading import save_condition

    check_texts([args.query])
    if args.output.suffix != CONDITION_SUFFIX:
        raise UserError(f"lass embed writes a {CONDITION_SUFFIX} file (what --embedding takes): name it {args.output.with_suffix(CONDITION_SUFFIX)}")
    check_writable_place(args.output)  # before the model loads
    clear_stale_parts(args.output.resolve().parent)
    separator = load_separator(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_condition(args.output, separator.embed_texts([args.query])[0])
    print(f"wrote {args.output}")


def run_stream(args: argparse.Namespace) -> None:
    from cli.stream import run

    run(args)


def run_eval(args: argparse.Namespace) -> None:
    from training.evaluate import format_table, run

    print(format_table(run(args, load_separator(args))))
    if args.out:
        print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.csv')}")


def run_compare(args: argparse.Namespace) -> None:
    from training.compare import format_changes, run

    print(format_changes(run(args.before, args.after, args.metric, args.out), args.metric))
    if args.out:
        print(f"wrote {args.out}")


def run_library(args: argparse.Namespace) -> None:
    from training.source_library import run

    print(f"wrote {run(args, lambda line: print(line, flush=True))}")


def run_train(args: argparse.Namespace) -> None:
    from training.config import config_from_args
    from training.train import train

    print(f"wrote {train(config_from_args(args))}")


class Terminated(SystemExit):
    """SIGTERM: unwinds as Ctrl-C does (``finally`` blocks run: no temporary file is left), and exits
    with 128 + SIGTERM as a shell reports it."""


def exit_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C does; :func:`main` says so."""

    def terminate(signum: int, frame: object) -> None:
        raise Terminated(EXIT_TERMINATED)

    signal.signal(signal.SIGTERM, terminate)


def show_warning(message: Warning | str, category: type[Warning], *rest: object, **named: object) -> None:
    """Warnings about the user's files, as one line each."""
    print(f"lass: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        handler = {"separate": run_separate, "embed": run_embed, "train": run_train, "library": run_library, "eval": run_eval, "compare": run_compare, "stream": run_stream}
        with warnings.catch_warnings():
            warnings.simplefilter("always", AudioFileWarning)
            warnings.showwarning = show_warning
            code = handler[args.command](args)
    except (ModelLoadingError, AudioFileError, OutputPlaceError, UserError, VirtualMicError, AudioDeviceError) as error:
        print(f"lass: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except EngineFailure as error:
        print(f"lass: error: {error}; nothing was written", file=sys.stderr)
        return EXIT_FAILURE
    except (NonFiniteOutput, UnprocessedOutput) as error:
        print(f"lass: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except (KeyboardInterrupt, Terminated) as interrupt:
        what, code = ("terminated (SIGTERM)", EXIT_TERMINATED) if isinstance(interrupt, Terminated) else ("interrupted", EXIT_INTERRUPTED)
        print(f"lass: {what}; outputs under way were not written, finished ones are kept", file=sys.stderr)
        return code
    return code or 0


def entry_point() -> int:
    """The installed ``lass`` command: ``main`` with SIGTERM handled."""
    exit_on_sigterm()
    return main()


if __name__ == "__main__":
    sys.exit(entry_point())
