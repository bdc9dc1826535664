"""Default stream settings chosen by measuring the model on the device in use."""

from __future__ import annotations

import math
import time

import torch

from models.config import HOP_LENGTH, MODEL_SAMPLE_RATE_HZ, UNPADDED_SEGMENT_SAMPLES
from models.resunet import FilmOffsets, ResUNet30
from realtime.streaming import StreamSettings

DEFAULT_WINDOW_SAMPLES = UNPADDED_SEGMENT_SAMPLES
MIN_HOP_SAMPLES = 5 * HOP_LENGTH  # 50 ms
MAX_HOP_SAMPLES = 160 * HOP_LENGTH  # 1.6 s: beyond this the machine is too slow or busy to stream
MIN_PAST_CONTEXT_SAMPLES = 32 * HOP_LENGTH  # what the window holds before the output region
# A hop lasts at least this many measured forward passes: a hop also resamples, transforms and
# overlap-adds (about 1.5 forward passes in all for the bundled model), and the engine stays free of
# dropouts on this 2-core machine up to a real-time factor of about 0.5-0.6
# (benchmarks/results/streaming.json).
HEADROOM = 3.0


@torch.inference_mode()
def forward_time_s(net: ResUNet30, film: FilmOffsets, window_samples: int, repeats: int = 5) -> float:
    """Median wall time of one streaming forward pass (after one warm-up)."""
    device = net.device
    window = torch.zeros(1, 1, window_samples, device=device)
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        net.separate(window, film)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return sorted(times[1:])[repeats // 2]


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
    """Hop = look-ahead = crossfade = the smallest multiple of 10 ms lasting ``HEADROOM`` forward passes
    (between 50 ms and 1.6 s)."""
    needed = HEADROOM * forward_time_s(net, film, DEFAULT_WINDOW_SAMPLES) * MODEL_SAMPLE_RATE_HZ
    hop = min(MAX_HOP_SAMPLES, max(MIN_HOP_SAMPLES, HOP_LENGTH * math.ceil(needed / HOP_LENGTH)))
    return settings_for_hop(hop)
