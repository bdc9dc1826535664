"""`lass stream` from its command line: the engine's settings from the arguments (or planned for a
latency), then :mod:`cli.running` runs it on a file or on sound cards."""

from __future__ import annotations

import argparse
import sys
import torch

from audio.files import AudioSource, read_audio, resample
from audio.places import check_output_place
from cli import running
from cli.loading import check_embeddings, clear_stale_parts, load_separator, warn_about_unknown_sounds
from models.config import ms_to_samples
from models.queries import Query, excluded_count, parse_query, texts_of
from models.resunet import FilmOffsets, ResUNet30
from realtime.audio_io import NO_DEVICES, check_rate, find_device, list_devices
from realtime.engine import Controls, Engine, EngineSettings
from realtime.presets import find_preset
from realtime.virtual_mic import VirtualMic, close_client, open_client
from realtime.streaming import StreamSettings
from realtime.tuning import plan_for_latency, recommended_settings, settings_for_hop

DEFAULT_BLOCK_FRAMES = 512


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
        raise ValueError("--input-file needs --output-file (or --virtual-mic NAME)")
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
    engine = build_engine(separator.separation_net, separator.condition(query), args, rate_hz, excluded_count(query))
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
        raise ValueError(f"--virtual-mic plays into its own ports at the server's period: drop {', '.join(chosen)}")
    client, loopback = open_client(args.virtual_mic)
    try:
        samples = None
        if args.input_file:
            clip = read_audio(args.input_file)
            samples = resample(clip.samples.mean(axis=0, keepdims=True), clip.sample_rate_hz, client.samplerate)[0]
        separator = load_separator(args)
        warn_about_unknown_sounds(separator, texts_of(query))
        block_args = argparse.Namespace(**vars(args) | {"block": client.blocksize})
        engine = build_engine(separator.separation_net, separator.condition(query), block_args, client.samplerate, excluded_count(query))
        mic = VirtualMic(client, engine, samples, loopback)
    except BaseException:
        close_client(client, loopback)
        raise
    print(running.describe_settings(engine), file=sys.stderr)
    running.stream_virtual_mic(mic, args.seconds)


def stream_settings(args: argparse.Namespace, net: ResUNet30, film: FilmOffsets) -> StreamSettings:
    """The user's hop/look-ahead/window where given; the hop measured on this machine otherwise."""
    hop = ms_to_samples(args.hop_ms) if args.hop_ms is not None else recommended_settings(net, film).hop_samples
    lookahead = ms_to_samples(args.lookahead_ms) if args.lookahead_ms is not None else None
    window = ms_to_samples(args.window_ms) if args.window_ms is not None else None
    return settings_for_hop(hop, lookahead, window)


def engine_settings(args: argparse.Namespace, net: ResUNet30, film: FilmOffsets, rate_hz: int) -> EngineSettings:
    """For ``--latency-ms``: everything planned from timings of the model here; otherwise the user's
    block and stream settings, with the hop measured where not given."""
    if args.latency_ms is None:
        block = DEFAULT_BLOCK_FRAMES if args.block is None else args.block
        if block <= 0:
            raise ValueError(f"--block must be a positive number of frames, not {block}")
        return EngineSettings(device_rate_hz=rate_hz, block_frames=block, stream=stream_settings(args, net, film))
    chosen = [name for name in ("hop_ms", "lookahead_ms", "window_ms", "block") if getattr(args, name) is not None]
    if chosen:
        options = ", ".join("--" + name.replace("_", "-") for name in chosen)
        raise ValueError(f"--latency-ms chooses hop, look-ahead, window and block itself: drop {options}, or --latency-ms")
    return plan_for_latency(net, film, args.latency_ms, rate_hz)


def build_engine(net: ResUNet30, condition: torch.Tensor, args: argparse.Namespace, rate_hz: int, excluded: int = 0) -> Engine:
    """An engine for ``net`` (on its device), with the FiLM offsets of the condition (one row per
    sound, the last ``excluded`` left out) computed once."""
    if not 0.0 <= args.wet <= 1.0:
        raise ValueError("--wet must be between 0 and 1")
    with torch.inference_mode():
        film = net.film(condition)
    settings = engine_settings(args, net, film, rate_hz)
    return Engine(net, film, settings, Controls(remove=args.mode == "remove", wet=args.wet), excluded)
