"""Stream settings chosen by measuring the model on the device in use: a default hop, or everything
for a latency the user asks for."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from models.config import HOP_LENGTH, MODEL_SAMPLE_RATE_HZ, UNPADDED_SEGMENT_SAMPLES, samples_to_ms
from models.errors import UserError
from models.lowlatency import LowLatencyNet
from models.networks import SeparationNet
from models.resunet import FilmOffsets, ResUNet30
from realtime.engine import Engine, EngineSettings, latency_budget, margin_ms_of_samples
from realtime.streaming import StreamSettings
from realtime.window_pass import window_pass

DEFAULT_WINDOW_SAMPLES = UNPADDED_SEGMENT_SAMPLES
MIN_HOP_SAMPLES = 5 * HOP_LENGTH  # 50 ms
MAX_HOP_SAMPLES = 160 * HOP_LENGTH  # 1.6 s: beyond this the machine is too slow or busy to stream
MIN_PAST_CONTEXT_SAMPLES = 32 * HOP_LENGTH  # what the window holds before the output region
# A hop lasts at least this many measured forward passes: a hop also resamples, transforms and
# overlap-adds (about 1.5 forward passes in all for the bundled model), and the engine stays free of
# dropouts on this 2-core machine up to a real-time factor of about 0.5-0.6
# (benchmarks/results/streaming.json).
HEADROOM = 3.0
# For a latency target: hops in steps of 5 ms; device blocks a power of two no longer than a hop,
# within these bounds; and a compute margin of the slowest timed worker cycle times this headroom.
LATENCY_HOP_STEP_SAMPLES = HOP_LENGTH // 2
MIN_BLOCK_FRAMES, MAX_BLOCK_FRAMES = 128, 512
# The worker's hops in a live stream take longer than the same cycles timed alone (the callback and
# the GIL compete): on 2 cores, a live p99 of 64-92 ms against a probe's slowest 48 ms; with half
# again as margin, a 350 ms target still dropped 11 blocks in 10 s (benchmarks/streaming.py). The
# margin is taken over the fastest timed cycle, as the hop is over the fastest pass: a busy moment
# while measuring (a slowest cycle of 10x the fastest) does not inflate it. Quiet, the slowest of five
# cycles is about 1.2x the fastest, so 3x the fastest is the 2.5x the slowest that held.
MARGIN_HEADROOM = 3.0
PASS_TIMINGS = 5
# The low-latency network's device blocks, longest first: the longest that gives the worker the time
# it needs is taken (fewer callbacks); 256 frames (5.3 ms at 48 kHz) without a latency target.
LOWLATENCY_BLOCKS = (512, 256, 128)
LOWLATENCY_DEFAULT_BLOCK_FRAMES = 256
# Its cycles last about a millisecond: 50 are timed and the 90th percentile is taken, so that one
# moment of foreign load (a 5-9 ms cycle in 50 with training busy on both cores) does not decide.
LOWLATENCY_CYCLE_TIMINGS = 50
LOWLATENCY_CYCLE_PERCENTILE = 90
# The least time the worker has for a block of the low-latency network, whatever its cycle: the
# machine's wake-ups and the interpreter lock's hand-overs come on top of the compute. Paced for a
# minute at 48 kHz on this project's 2-core VM, quiet, the worker was done at worst 5.7 ms after a
# block arrived; one block of 256 frames (5.3 ms) gave 0-40 dropouts a minute, run to run, two (10.7
# ms) none in every run since (benchmarks/streaming.py, the auto and 30 ms rows).
LOWLATENCY_WORKER_FLOOR_MS = 8.0


def settings_for_hop(
    hop_samples: int, lookahead_samples: int | None = None, window_samples: int | None = None
) -> StreamSettings:
    """Settings for a hop: look-ahead one hop unless given, crossfade one hop, and a window (unless
    given) of at least the default that holds hop, crossfade and look-ahead plus 320 ms of past."""
    lookahead = hop_samples if lookahead_samples is None else lookahead_samples
    needed = 2 * hop_samples + lookahead + MIN_PAST_CONTEXT_SAMPLES
    window = max(DEFAULT_WINDOW_SAMPLES, needed) if window_samples is None else window_samples
    return StreamSettings(window, hop_samples, lookahead, hop_samples)


def recommended_settings(net: ResUNet30, film: FilmOffsets) -> StreamSettings:
    """Hop = look-ahead = crossfade = the smallest multiple of 10 ms lasting ``HEADROOM`` of the fastest of
    several timed passes (between 50 ms and 1.6 s): a busy moment while tuning does not inflate the hop."""
    needed = HEADROOM * float(window_pass_times_s(net, film).min()) * MODEL_SAMPLE_RATE_HZ
    hop = min(MAX_HOP_SAMPLES, max(MIN_HOP_SAMPLES, HOP_LENGTH * math.ceil(needed / HOP_LENGTH)))
    return settings_for_hop(hop)


@torch.inference_mode()
def window_pass_times_s(net: ResUNet30, film: FilmOffsets, repeats: int = PASS_TIMINGS) -> np.ndarray:
    """``(repeats,)`` wall times of the streaming pass at the default window, as the worker runs it
    (a CUDA graph on CUDA devices), after its warm-up."""
    probe = window_pass(net, film, settings_for_hop(MIN_HOP_SAMPLES))
    probe.warm_up()
    window = np.zeros(DEFAULT_WINDOW_SAMPLES, dtype=np.float32)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        probe.run(window)
        times.append(time.perf_counter() - started)
    return np.array(times)


def latency_hop_samples(pass_times_s: np.ndarray) -> int:
    """The shortest multiple of 5 ms lasting ``HEADROOM`` of the fastest timed pass (a busy moment's
    slow timings do not inflate it)."""
    step = LATENCY_HOP_STEP_SAMPLES
    return step * max(1, math.ceil(HEADROOM * float(pass_times_s.min()) * MODEL_SAMPLE_RATE_HZ / step))


def latency_block_frames(hop_samples: int, device_rate_hz: int) -> int:
    """The longest power of two within one hop at the device rate, between 128 and 512 frames."""
    frames = hop_samples * device_rate_hz / MODEL_SAMPLE_RATE_HZ
    return 1 << int(math.log2(max(MIN_BLOCK_FRAMES, min(MAX_BLOCK_FRAMES, frames))))


@torch.inference_mode()
def worker_cycle_times_s(net: SeparationNet, film: FilmOffsets, settings: EngineSettings, repeats: int = PASS_TIMINGS) -> np.ndarray:
    """``(repeats,)`` wall times of the engine worker's whole cycle for one hop or one block of input,
    whichever is longer (resampling in and out, the passes, overlap-add, mixing), on a probe engine
    built with ``settings``."""
    engine = Engine(net, film, settings)
    hop_frames = math.ceil(settings.stream.hop_samples * settings.device_rate_hz / MODEL_SAMPLE_RATE_HZ)
    hop = np.zeros(max(hop_frames, settings.block_frames), np.float32)
    times = []
    for _ in range(repeats + 1):  # the first cycle fills the resamplers: not timed
        engine.input_ring.write(hop)
        started = time.perf_counter()
        engine.work_once()
        times.append(time.perf_counter() - started)
    return np.array(times[1:])


def plan_for_latency(net: ResUNet30, film: FilmOffsets, target_ms: float, device_rate_hz: int) -> EngineSettings:
    """:func:`settings_for_latency` from timings of ``net`` on its device: its streaming pass (for the
    hop), then the worker's whole cycle at that hop (for the compute margin)."""
    hop = latency_hop_samples(window_pass_times_s(net, film))
    probe = EngineSettings(device_rate_hz, latency_block_frames(hop, device_rate_hz), settings_for_hop(hop))
    return settings_for_latency(target_ms, hop, worker_cycle_times_s(net, film, probe), device_rate_hz)


def settings_for_latency(target_ms: float, hop_samples: int, cycle_times_s: np.ndarray, device_rate_hz: int) -> EngineSettings:
    """Engine settings with hop ``hop_samples`` whose latency (block + hop + look-ahead + crossfade +
    resamplers + compute margin) is at most ``target_ms``.

    The crossfade is one hop, the block :func:`latency_block_frames`, and the compute margin the whole
    blocks that give the worker the fastest timed worker cycle times ``MARGIN_HEADROOM`` (not one whole
    hop; :func:`least_margin_samples`). What remains is look-ahead: at one latency, the look-ahead
    decides the quality and the hop hardly matters (issue #18's table).
    Raises :class:`UserError` naming the lowest latency this device reaches.
    """
    block = latency_block_frames(hop_samples, device_rate_hz)
    needed_ms = 1000 * MARGIN_HEADROOM * float(cycle_times_s.min())
    margin_ms = margin_ms_of_samples(least_margin_samples(needed_ms, block, device_rate_hz), device_rate_hz)
    with_lookahead = lambda lookahead: EngineSettings(
        device_rate_hz=device_rate_hz, block_frames=block, stream=settings_for_hop(hop_samples, lookahead), compute_margin_ms=margin_ms
    )
    target = target_ms * device_rate_hz / 1000
    lowest = latency_budget(with_lookahead(0)).total_samples
    if lowest > target:
        raise UserError(
            f"a latency of {target_ms:g} ms is below what this device reaches: at least {math.ceil(1000 * lowest / device_rate_hz)} ms "
            f"(hop {samples_to_ms(hop_samples):g} ms, block {block}, the worker needing {needed_ms:.0f} ms a block at {device_rate_hz} Hz)"
        )
    fits = lambda lookahead: latency_budget(with_lookahead(lookahead)).total_samples <= target
    lookahead = math.floor((target - lowest) * MODEL_SAMPLE_RATE_HZ / device_rate_hz)  # within a sample or two
    while not fits(lookahead):  # the engine rounds each part up
        lookahead -= 1
    while fits(lookahead + 1):
        lookahead += 1
    return with_lookahead(lookahead)


def plan_lowlatency(
    net: LowLatencyNet, film: FilmOffsets, device_rate_hz: int, target_ms: float | None = None, block_frames: int | None = None
) -> EngineSettings:
    """Engine settings for the low-latency network, whose hop and look-ahead are its own: the
    resamplers of :mod:`audio.low_delay`, and a compute margin that gives the worker, per block, at
    least the timed worker cycles' 90th percentile times ``MARGIN_HEADROOM`` and
    :data:`LOWLATENCY_WORKER_FLOOR_MS`. The worker's time comes in whole blocks
    (:attr:`realtime.engine.LatencyBudget.worker_blocks`), so the margin is bought in whole blocks.

    With ``target_ms`` the margin takes all the time the target leaves (the longest block of
    :data:`LOWLATENCY_BLOCKS`, or ``block_frames``, that still gives the worker its time); without,
    the block is ``block_frames`` or 256 and the margin the least. Raises :class:`UserError` naming the
    lowest latency this device reaches when the target is below it.
    """
    settings = lambda block, samples: EngineSettings(
        device_rate_hz, block, net.config, compute_margin_ms=margin_ms_of_samples(samples, device_rate_hz), low_delay_resampling=True
    )
    probe = settings(block_frames or LOWLATENCY_DEFAULT_BLOCK_FRAMES, 0)
    cycles_s = worker_cycle_times_s(net, film, probe, LOWLATENCY_CYCLE_TIMINGS)
    needed_ms = max(1000 * MARGIN_HEADROOM * float(np.percentile(cycles_s, LOWLATENCY_CYCLE_PERCENTILE)), LOWLATENCY_WORKER_FLOOR_MS)
    least = lambda block: settings(block, least_margin_samples(needed_ms, block, device_rate_hz))
    if target_ms is None:
        return least(block_frames or LOWLATENCY_DEFAULT_BLOCK_FRAMES)
    blocks = (block_frames,) if block_frames else LOWLATENCY_BLOCKS
    target = math.floor(target_ms * device_rate_hz / 1000)
    for block in blocks:
        spare = target - latency_budget(settings(block, 0)).total_samples
        if spare >= least_margin_samples(needed_ms, block, device_rate_hz):
            return settings(block, spare)
    fastest = min((least(block) for block in blocks), key=lambda each: latency_budget(each).total_samples)
    raise UserError(
        f"a latency of {target_ms:g} ms is below what this device reaches with the low-latency model: at least "
        f"{math.ceil(1000 * latency_budget(fastest).total_s(device_rate_hz))} ms (block {fastest.block_frames}, the worker "
        f"needing {needed_ms:.1f} ms a block at {device_rate_hz} Hz)"
    )


def least_margin_samples(needed_ms: float, block_frames: int, device_rate_hz: int) -> int:
    """The least compute margin (device samples) that gives the worker ``needed_ms`` per block: whole
    blocks of it, ``(blocks - 1) * block`` samples (0 when one block is enough)."""
    blocks = max(1, math.ceil(needed_ms * device_rate_hz / (1000 * block_frames)))
    return (blocks - 1) * block_frames
