"""Putting a model, a query and the engine together, for files and for sound cards."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from audio.files import AudioSink, AudioSource
from models.config import ms_to_samples, samples_to_ms
from models.resunet import FilmOffsets, ResUNet30
from realtime.audio_io import NO_DEVICES, DuplexStream, find_device, list_devices
from realtime.engine import Controls, Engine, EngineSettings
from realtime.file_stream import EngineFeed, running
from realtime.streaming import StreamSettings
from realtime.tuning import plan_for_latency, recommended_settings, settings_for_hop

__all__ = ["NO_DEVICES", "build_engine", "describe_settings", "find_device", "list_devices", "stream_devices", "stream_file"]
STATUS_PERIOD_S = 1.0
DEFAULT_BLOCK_FRAMES = 512


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


def build_engine(net: ResUNet30, condition: torch.Tensor, args: argparse.Namespace, rate_hz: int) -> Engine:
    """An engine for ``net`` (on its device), with the condition's FiLM offsets computed once."""
    if not 0.0 <= args.wet <= 1.0:
        raise ValueError("--wet must be between 0 and 1")
    with torch.inference_mode():
        film = net.film(condition)
    settings = engine_settings(args, net, film, rate_hz)
    return Engine(net, film, settings, Controls(remove=args.mode == "remove", wet=args.wet))


def describe_settings(engine: Engine) -> str:
    """E.g. ``latency 60 ms: hop 10 ms, look-ahead 20 ms, crossfade 10 ms, block 256, compute margin 3 ms``."""
    s, stream = engine.settings, engine.settings.stream
    margin_ms = 1000 * engine.compute_margin_samples / s.device_rate_hz
    return (
        f"latency {engine.latency_ms:.0f} ms: hop {samples_to_ms(stream.hop_samples):g} ms, "
        f"look-ahead {samples_to_ms(stream.lookahead_samples):.1f} ms, crossfade {samples_to_ms(stream.crossfade_samples):g} ms, "
        f"block {s.block_frames}, compute margin {margin_ms:.1f} ms (algorithmic {stream.latency_ms:.0f} ms)"
    )


def stream_file(engine: Engine, source_path: Path, output_path: Path, realtime: bool, repair_nonfinite: bool = False) -> None:
    """The mono mix of an audio file through ``engine`` (built for the file's rate), block by block into
    ``output_path`` (written atomically: nothing is left if the stream fails)."""
    with AudioSource(source_path) as source:
        if not repair_nonfinite:
            source.check_finite()
        with AudioSink(output_path, source.sample_rate_hz, 1, source.subtype) as sink, running(engine):
            feed = EngineFeed(engine, realtime)
            for block in source.blocks(repair_nonfinite=repair_nonfinite):
                sink.write(feed.push(block.mean(axis=0))[None])
            sink.write(feed.finish()[None])
    print(_status(engine), file=sys.stderr)


def stream_devices(engine: Engine, input_device: int | None, output_device: int | None, seconds: float | None) -> None:
    """Run live on device indices (``None``: the default; see :func:`find_device`) until ``seconds``
    pass or Ctrl-C, printing the engine's figures every second."""
    stream = DuplexStream(engine, input_device, output_device)
    stream.start()
    started = time.monotonic()
    try:
        while seconds is None or time.monotonic() - started < seconds:
            time.sleep(STATUS_PERIOD_S)
            print(_status(engine), file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stream.stop()


def _status(engine: Engine) -> str:
    s = engine.stats.snapshot()
    return (
        f"rtf {s['rtf']:.2f}  hop p50 {s['hop_ms_p50']:.1f} ms p99 {s['hop_ms_p99']:.1f} ms  "
        f"dropouts {s['dropouts']}  dropped hops {s['dropped_hops']}  xruns {s['input_xruns']}/{s['output_xruns']}  "
        f"latency {engine.latency_ms:.0f} ms (measured {s['measured_latency_ms']:.0f} ms)"
    )
