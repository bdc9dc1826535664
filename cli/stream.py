"""`lass stream` from its command line: the engine's settings from the arguments (or planned for a
latency), then :mod:`cli.running` runs it on a file or on sound cards."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from audio.files import AudioSource, read_mono
from audio.places import check_output_place
from cli import running
from cli.loading import check_embeddings, clear_stale_parts, load_separator, warn_about_unknown_sounds
from models.errors import UserError
from models.lowlatency import LowLatencyNet
from models.queries import Query, excluded_count, parse_query, texts_of
from realtime.assembly import LiveRequest
from realtime.assembly import build_engine as build
from realtime.audio_io import NO_DEVICES, check_rate, find_device, list_devices
from realtime.engine import Controls, Engine
from realtime.presets import find_preset
from realtime.virtual_mic import VirtualMic, open_client

if TYPE_CHECKING:
    from models.separator import Separator


def run(args: argparse.Namespace) -> None:
    """`lass stream`: list devices, or build the engine and run it on a file or on sound cards."""
    if args.list_devices:
        devices = list_devices()
        for device in devices:
            print(f"{device.index:3d}  {device.name}  [{device.host_api}]  in {device.max_input_channels} / out {device.max_output_channels}")
        if not devices:
            print(NO_DEVICES)
        return
    if args.preset is not None:
        preset = find_preset(args.preset)
        args = argparse.Namespace(**vars(args) | {"query": preset.query, "mode": preset.mode, "wet": preset.wet})
    if args.embedding is None:
        query = parse_query(args.query or "")  # "a + b but not c": several sounds in one batched pass
    else:
        check_embeddings([args.embedding])
        query = args.embedding
    if args.virtual_mic is not None:
        _run_virtual_mic(args, query)
        return
    if args.input_file and args.output_file is None:
        raise UserError("--input-file needs --output-file (or --virtual-mic NAME)")
    if args.input_file and args.output_file:
        check_output_place(args.output_file, args.input_file)
        clear_stale_parts(args.output_file.resolve().parent)
    # Before the model loads: an unusable file, a missing device or server is said at once.
    if args.input_file:
        with AudioSource(args.input_file) as source:
            source.check_samples(args.repair_nonfinite)
            rate_hz = source.sample_rate_hz
    else:
        rate_hz = args.rate
        devices = find_device(args.input_device, "input"), find_device(args.output_device, "output")
        check_rate(*devices, rate_hz)
    separator = load_separator(args)
    warn_about_unknown_sounds(separator, texts_of(query))
    engine = build_engine(separator, query, args, rate_hz)
    print(running.describe_settings(engine), file=sys.stderr)
    if args.input_file:
        running.stream_file(engine, args.input_file, args.output_file, args.realtime, args.repair_nonfinite)
        print(f"wrote {args.output_file}")
    else:
        running.stream_devices(engine, *devices, args.seconds)


def _run_virtual_mic(args: argparse.Namespace, query: Query) -> None:
    """The output as a capture source on the JACK server, at its rate and period."""
    chosen = [option for option, value in (("--output-file", args.output_file), ("--output-device", args.output_device),
                                           ("--latency-ms", args.latency_ms), ("--block", args.block)) if value is not None]
    if chosen:
        raise UserError(f"--virtual-mic plays into its own ports at the server's period: drop {', '.join(chosen)}")
    publisher = open_client(args.virtual_mic)
    try:
        samples = read_mono(args.input_file, publisher.rate_hz) if args.input_file else None
        separator = load_separator(args)
        warn_about_unknown_sounds(separator, texts_of(query))
        block_args = argparse.Namespace(**vars(args) | {"block": publisher.block_frames})
        engine = build_engine(separator, query, block_args, publisher.rate_hz)
        mic = VirtualMic(publisher, engine, samples)
    except BaseException:
        publisher.close()
        raise
    print(running.describe_settings(engine), file=sys.stderr)
    running.stream_virtual_mic(mic, args.seconds)


def live_request(args: argparse.Namespace) -> LiveRequest:
    return LiveRequest(args.latency_ms, args.block, args.hop_ms, args.lookahead_ms, args.window_ms)


def build_engine(separator: Separator, query: Query, args: argparse.Namespace, rate_hz: int) -> Engine:
    """The engine for the command line's model and request. A latency target below what the bundled
    default reaches here takes the bundled low-latency model instead, and says so."""
    if not 0.0 <= args.wet <= 1.0:
        raise UserError("--wet must be between 0 and 1")
    controls = Controls(remove=args.mode == "remove", wet=args.wet)
    request = live_request(args)
    if request.latency_ms is not None or request.hop_ms is None:
        print("lass: timing the model on this machine for the stream's settings…", file=sys.stderr, flush=True)
    try:
        return build(separator.separation_net, separator.condition(query), rate_hz, request, controls, excluded_count(query))
    except UserError as error:
        if not _may_switch_to_lowlatency(args, separator):
            raise
        print(f"lass: the default model: {error}; taking the bundled low-latency model", file=sys.stderr)
    fast = load_separator(argparse.Namespace(**vars(args) | {"low_latency": True}))
    return build(fast.separation_net, fast.condition(query), rate_hz, request, controls, excluded_count(query))


def _may_switch_to_lowlatency(args: argparse.Namespace, separator: Separator) -> bool:
    """With a latency target and the bundled default chosen by default (no model named)."""
    named = args.checkpoint is not None or args.official or args.low_latency
    return args.latency_ms is not None and not named and not isinstance(separator.separation_net, LowLatencyNet)
