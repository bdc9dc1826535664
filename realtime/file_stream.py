"""Run the real-time engine on a file: the same callback and worker as live audio, the file standing in
for the sound card. Paced (one block per block duration, as a device would) or as fast as possible
(each block waits until the worker has produced what it will play, so nothing drops).

The output is aligned with the input: the engine's latency is removed, and the length is kept.
"""

from __future__ import annotations

import time

import numpy as np

from realtime.engine import Engine

DRAIN_POLL_S = 0.0005


def stream_array(engine: Engine, samples: np.ndarray, realtime: bool = False) -> np.ndarray:
    """Pass ``(frames,)`` mono at the engine's device rate through ``engine``; returns ``(frames,)``.

    Raises :class:`realtime.engine.EngineFailure` if the worker stopped on an error.
    """
    block = engine.settings.block_frames
    latency = engine.latency_samples
    total = len(samples) + latency
    padded = np.zeros(total + block, dtype=np.float32)
    padded[: len(samples)] = samples
    out = np.zeros_like(padded)
    period_s = block / engine.settings.device_rate_hz
    engine.start()
    try:
        started = time.perf_counter()
        for index, start in enumerate(range(0, total, block)):
            if realtime:
                time.sleep(max(0.0, started + index * period_s - time.perf_counter()))
            else:
                _wait_for_output(engine, start - latency + block, start)
            engine.process_block(padded[start : start + block], out[start : start + block])
    finally:
        engine.stop()
    engine.check()
    return out[latency : latency + len(samples)]


def _wait_for_output(engine: Engine, needed_position: int, fed: int) -> None:
    """Block until the worker has written up to ``needed_position`` or taken all input fed so far."""
    while engine.output_ring.written < needed_position:
        engine.check()
        if engine.input_ring.written == fed and engine.worker_idle():
            return
        time.sleep(DRAIN_POLL_S)
