"""Running an engine on a file or on sound cards, with its figures printed: what `lass stream` does
once the engine is built (``cli/stream.py`` builds it from the command line)."""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from audio.files import AudioSink, AudioSource
from models.config import samples_to_ms
from realtime.audio_io import NO_DEVICES, DuplexStream, find_device, list_devices
from models.errors import NonFiniteOutput
from realtime.engine import Engine
from realtime.errors import UnprocessedOutput
from realtime.fallback import FALLBACK_DESCRIPTIONS
from realtime.file_stream import EngineFeed, running
from realtime.stats import measured_text
from realtime.virtual_mic import VirtualMic

__all__ = ["NO_DEVICES", "describe_settings", "find_device", "list_devices", "stream_devices", "stream_file"]
STATUS_PERIOD_S = 1.0
POLL_S = 0.05


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
    """An audio file through ``engine`` (built for the file's rate), block by block into ``output_path``
    (written atomically: nothing is left if the stream fails). Every channel is kept: each goes
    through an engine of its own (:meth:`Engine.sibling`), all fed together.

    Raises :class:`NonFiniteOutput` (and writes nothing) if the network gave NaN or infinite
    samples, as ``lass separate`` does; raises :class:`UnprocessedOutput` after writing if, paced in
    ``realtime``, the worker fell behind and part of the output is the fallback."""
    with AudioSource(source_path) as source:
        source.check_samples(repair_nonfinite)
        engines = [engine] + [engine.sibling() for _ in range(source.channels - 1)]
        with AudioSink(output_path, source.sample_rate_hz, source.channels, source.subtype) as sink, ExitStack() as workers:
            feeds = [EngineFeed(workers.enter_context(running(each)), realtime) for each in engines]
            for block in source.blocks(repair_nonfinite=repair_nonfinite):
                sink.write(np.stack([feed.push(channel) for feed, channel in zip(feeds, block)]))
            sink.write(np.stack([feed.finish() for feed in feeds]))
            _check_separated(engines, source_path)
        duration_s = source.frames / source.sample_rate_hz
    for channel, each in enumerate(engines, 1):
        print(("" if len(engines) == 1 else f"channel {channel}: ") + _status(each), file=sys.stderr)
    _check_processed(engines, output_path, duration_s)


def _check_separated(engines: list[Engine], source_path: Path) -> None:
    """Refuse an output in which the network's NaN or infinite samples were silenced."""
    nonfinite = sum(each.stats.nonfinite_samples for each in engines)
    if nonfinite:
        raise NonFiniteOutput(
            f"the separation of {source_path} gave {nonfinite} NaN or infinite samples: its input or the "
            "condition is out of the model's range; nothing was written"
        )


def _check_processed(engines: list[Engine], output_path: Path, duration_s: float) -> None:
    """Say, as a failure, how much of a written file went out unprocessed."""
    rate_hz = engines[0].settings.device_rate_hz
    unprocessed_s = max(each.stats.unprocessed_frames for each in engines) / rate_hz
    dropouts = sum(each.stats.dropouts for each in engines)
    if dropouts:
        fallback = FALLBACK_DESCRIPTIONS[engines[0].fallback]
        raise UnprocessedOutput(
            f"wrote {output_path}, but {min(unprocessed_s, duration_s):.2f} s of its {duration_s:.2f} s went out "
            f"unprocessed ({fallback}; {dropouts} dropouts): the separation could not keep up in real time. "
            "Run without --realtime to separate every sample, or choose a longer hop or --latency-ms"
        )


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


def stream_virtual_mic(mic: VirtualMic, seconds: float | None) -> None:
    """Publish ``mic`` until its file has played out, ``seconds`` pass or Ctrl-C, printing the engine's
    figures every second; stopping removes it."""
    mic.start()
    print(f"virtual microphone: record from {mic.source} (server latency {1000 * mic.server_latency_s:.1f} ms "
          "on top of the engine's)", file=sys.stderr)
    started = last_status = time.monotonic()
    try:
        while not mic.played_all and (seconds is None or time.monotonic() - started < seconds):
            time.sleep(POLL_S)
            if time.monotonic() - last_status >= STATUS_PERIOD_S:
                last_status = time.monotonic()
                print(_status(mic.engine), file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        mic.stop()


def _status(engine: Engine) -> str:
    s = engine.stats.snapshot()
    return (
        f"rtf {s['rtf']:.2f}  hop p50 {s['hop_ms_p50']:.1f} ms p99 {s['hop_ms_p99']:.1f} ms  "
        f"dropouts {s['dropouts']}  dropped hops {s['dropped_hops']}  xruns {s['input_xruns']}/{s['output_xruns']}  "
        f"latency {engine.latency_ms:.0f} ms ({measured_text(s['measured_latency_ms'])})"
    )
