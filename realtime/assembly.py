"""One assembly of the live path: from a network, a query condition, the device rate and what the
user asked for (a latency target, or block, hop, look-ahead and window), the engine's settings and
the engine. `lass stream` (devices, a file, the virtual microphone) and the app both build here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.config import ms_to_samples
from models.errors import UserError
from models.lowlatency import LowLatencyNet
from models.networks import SeparationNet
from models.resunet import FilmOffsets
from realtime.contract import StreamShape
from realtime.engine import DEFAULT_BLOCK_FRAMES, Controls, Engine, EngineSettings, latency_budget
from realtime.tuning import plan_for_latency, plan_lowlatency, recommended_settings, settings_for_hop


@dataclass(frozen=True)
class LiveRequest:
    """What the user asked of the live path; None leaves a value to the planner. ``latency_ms``
    chooses everything else itself, so it excludes the others."""

    latency_ms: float | None = None
    block_frames: int | None = None
    hop_ms: float | None = None
    lookahead_ms: float | None = None
    window_ms: float | None = None

    def __post_init__(self) -> None:
        if self.block_frames is not None and self.block_frames <= 0:
            raise UserError(f"--block must be a positive number of frames, not {self.block_frames}")

    def window_options(self) -> list[str]:
        """The hop, look-ahead and window options given, as the command line names them."""
        named = (("--hop-ms", self.hop_ms), ("--lookahead-ms", self.lookahead_ms), ("--window-ms", self.window_ms))
        return [name for name, value in named if value is not None]


def film_of(net: SeparationNet, condition: torch.Tensor) -> FilmOffsets:
    """The one condition -> FiLM step: ``(rows, 512)`` -> the net's offsets, computed once per query."""
    with torch.inference_mode():
        return net.film(condition)


def stream_shape(net: SeparationNet, film: FilmOffsets, request: LiveRequest) -> StreamShape:
    """The ResUNet's windows (hop measured on this machine where not given), or the low-latency
    network's own frames (which take no hop, look-ahead or window)."""
    if isinstance(net, LowLatencyNet):
        return _own_frames(net, request)
    hop = ms_to_samples(request.hop_ms) if request.hop_ms is not None else recommended_settings(net, film).hop_samples
    lookahead = ms_to_samples(request.lookahead_ms) if request.lookahead_ms is not None else None
    window = ms_to_samples(request.window_ms) if request.window_ms is not None else None
    return settings_for_hop(hop, lookahead, window)


def _own_frames(net: LowLatencyNet, request: LiveRequest) -> StreamShape:
    """The low-latency network's frames; a hop, look-ahead or window asked of it is refused."""
    if request.window_options():
        raise UserError(f"the low-latency model has its own frames ({net.config.describe()}): drop {', '.join(request.window_options())}")
    return net.config


def engine_settings(net: SeparationNet, film: FilmOffsets, rate_hz: int, request: LiveRequest) -> EngineSettings:
    """For a latency target: everything planned from timings of the model here; otherwise the
    request's block and stream settings, measured where not given."""
    if isinstance(net, LowLatencyNet):
        _own_frames(net, request)
        return plan_lowlatency(net, film, rate_hz, request.latency_ms, request.block_frames)
    if request.latency_ms is None:
        block = DEFAULT_BLOCK_FRAMES if request.block_frames is None else request.block_frames
        return EngineSettings(device_rate_hz=rate_hz, block_frames=block, stream=stream_shape(net, film, request))
    chosen = request.window_options() + (["--block"] if request.block_frames is not None else [])
    if chosen:
        raise UserError(f"--latency-ms chooses hop, look-ahead, window and block itself: drop {', '.join(chosen)}, or --latency-ms")
    return plan_for_latency(net, film, request.latency_ms, rate_hz)


def hop_latency_ms(hop_ms: float, rate_hz: int, block_frames: int = DEFAULT_BLOCK_FRAMES) -> float:
    """The ResUNet engine's latency (ms) at a hop the user chooses (look-ahead, crossfade and compute
    margin one hop each): what the app's hop menu says each hop costs."""
    settings = EngineSettings(device_rate_hz=rate_hz, block_frames=block_frames, stream=settings_for_hop(ms_to_samples(hop_ms)))
    return 1000 * latency_budget(settings).total_s(rate_hz)


def build_engine(
    net: SeparationNet, condition: torch.Tensor, rate_hz: int, request: LiveRequest, controls: Controls = Controls(), excluded: int = 0
) -> Engine:
    """An engine for ``net`` (on its device) with the FiLM offsets of ``condition`` (one row per
    sound, the last ``excluded`` left out), computed once."""
    film = film_of(net, condition)
    return Engine(net, film, engine_settings(net, film, rate_hz, request), controls, excluded)
