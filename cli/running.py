"""Running an engine on a file or on sound cards, with its figures printed: what `lass stream` does
once the engine is built (``cli/stream.py`` builds it from the command line)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from models.config import MODEL_SAMPLE_RATE_HZ
from realtime import file_stream
from realtime.audio_io import DuplexStream
from realtime.engine import Engine
from realtime.stats import measured_text, timing_text
from realtime.virtual_mic import VirtualMic

STATUS_PERIOD_S = 1.0
POLL_S = 0.05


def describe_settings(engine: Engine) -> str:
    """E.g. ``latency 60 ms: hop 10 ms, look-ahead 20 ms, crossfade 10 ms, block 256, compute margin 3 ms
    (the worker's time per block 5.3 ms)``."""
    s, stream = engine.settings, engine.settings.stream
    budget = engine.budget
    margin_ms = 1000 * budget.compute_margin_samples / s.device_rate_hz
    resamplers = ", low-delay resamplers" if s.low_delay_resampling and s.device_rate_hz != MODEL_SAMPLE_RATE_HZ else ""
    return (
        f"latency {engine.latency_ms:.1f} ms: {stream.describe()}, block {s.block_frames}, compute margin {margin_ms:.1f} ms"
        f"{resamplers} (algorithmic {stream.latency_ms:.0f} ms; the worker's time per block {1000 * budget.worker_time_s(s.device_rate_hz):.1f} ms)"
    )


def stream_file(engine: Engine, source_path: Path, output_path: Path, realtime: bool, repair_nonfinite: bool = False) -> None:
    """An audio file through ``engine`` into ``output_path`` (:func:`realtime.file_stream.stream_file`),
    each channel's figures printed; raises :class:`UnprocessedOutput` after writing if blocks dropped."""
    streamed = file_stream.stream_file(engine, source_path, output_path, realtime, repair_nonfinite)
    for channel, each in enumerate(streamed.engines, 1):
        print(("" if len(streamed.engines) == 1 else f"channel {channel}: ") + _status(each), file=sys.stderr)
    streamed.check_processed()


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
        f"{timing_text(s)}  dropouts {s.dropouts}  dropped hops {s.dropped_hops}  xruns {s.input_xruns}/{s.output_xruns}  "
        f"latency {engine.latency_ms:.0f} ms ({measured_text(s.measured_latency_ms)})"
    )
