"""One streaming forward pass at the window's fixed shape: eager, or replayed as a CUDA graph.

Each hop runs the network on the last ``W`` samples and keeps two things: the output region that the
overlap-add takes (``H + X`` samples ending ``L`` before the window's end) and the newest frames of
the input magnitude and the mask, for the live views. Both are gathered on the device into one
"outbox" tensor, so a hop moves one window to the device and one outbox back, never the whole output.

On CUDA the pass is captured once per model and window as a CUDA graph and replayed every hop: a
hop then costs one graph launch instead of hundreds of kernel launches. Input and output go through
pinned host buffers. A query change is a reference swap, as in the eager pass; the worker copies the
new FiLM offsets into the graph's static tensors before its next replay: no recapture, no stall, and
never half of one query and half of another. A graph that fails to capture, or whose output differs
from the eager pass on a probe window, is not used: the eager pass runs and ``fallback_reason`` says
why (the app shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from models.config import HOP_LENGTH, N_FREQ_BINS
from models.resunet import FilmOffsets, ResUNet30
from models.metrics import sdr

if TYPE_CHECKING:
    from realtime.streaming import StreamSettings

GRAPH_WARMUP_PASSES = 3  # on a side stream before capture, as CUDA graphs require
MIN_GRAPH_AGREEMENT_DB = 60.0  # graph vs eager on a probe window: the same kernels, so near-identical

Frames = tuple[np.ndarray, np.ndarray, np.ndarray]


class WindowPass:
    """The eager pass: ``run`` takes ``(W,)`` float32 at 32 kHz and returns ``(region (H + X,),
    input magnitude (frames, 1025), mask (frames, 1025))`` as new arrays."""

    def __init__(self, net: ResUNet30, film: FilmOffsets, settings: StreamSettings) -> None:
        self.net = net
        self.condition: tuple[FilmOffsets, int] = (film, 0)  # FiLM offsets, and how many rows are excluded
        self.fallback_reason: str | None = None
        s = settings
        self.window_samples = s.window_samples
        region = s.hop_samples + s.crossfade_samples
        self._region = slice(s.window_samples - s.lookahead_samples - region, s.window_samples - s.lookahead_samples)
        # The STFT frames centred in the newest hop, before the look-ahead.
        self._frames = slice(-(s.lookahead_samples + s.hop_samples) // HOP_LENGTH - 1, -s.lookahead_samples // HOP_LENGTH - 1)

    @property
    def film(self) -> FilmOffsets:
        return self.condition[0]

    def set_condition(self, film: FilmOffsets, excluded: int = 0) -> None:
        """Use ``film`` from the next pass on: one sound, or several in one batched pass whose last
        ``excluded`` are left out (:meth:`ResUNet30.separate_combined`). A reference swap of both at
        once: safe from any thread, never half of one query and half of another."""
        self.condition = (film, excluded)

    @torch.inference_mode()
    def warm_up(self) -> None:
        """One pass at the window's shape: one-off set-up (oneDNN primitives, CUDA kernels) happens here."""
        self.run(np.zeros(self.window_samples, dtype=np.float32))

    @torch.inference_mode()
    def run(self, window: np.ndarray) -> Frames:
        film, excluded = self.condition
        outbox = self._outbox(torch.from_numpy(window)[None, None].to(self.net.device), film, excluded)
        return self._unpack(outbox.cpu().numpy())

    def _outbox(self, window: torch.Tensor, film: FilmOffsets, excluded: int = 0) -> torch.Tensor:
        """``(1, 1, W)`` on the net's device -> the kept region and frames, flat, in one tensor."""
        waveform, magnitude, mask = self.net.separate_combined(window, film, excluded)
        parts = (waveform[0, 0, self._region], magnitude[0, 0, self._frames], mask[0, 0, self._frames])
        return torch.cat([part.reshape(-1) for part in parts])

    def _unpack(self, outbox: np.ndarray) -> Frames:
        length = self._region.stop - self._region.start
        frames = outbox[length:].reshape(2, -1, N_FREQ_BINS)
        return outbox[:length].copy(), frames[0].copy(), frames[1].copy()


class CudaGraphWindowPass(WindowPass):
    """The same pass captured as a CUDA graph at the window's shape, replayed every hop."""

    @torch.inference_mode()
    def __init__(self, net: ResUNet30, film: FilmOffsets, settings: StreamSettings) -> None:
        super().__init__(net, film, settings)
        device = net.device
        self._static_window = torch.zeros(1, 1, settings.window_samples, device=device)
        self._static_film = {path: offset.clone() for path, offset in film.items()}
        self._loaded_film = film
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP_PASSES):
                self._outbox(self._static_window, self._static_film)
        torch.cuda.current_stream(device).wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._static_outbox = self._outbox(self._static_window, self._static_film)
        self._host_window = torch.zeros(settings.window_samples, pin_memory=True)
        self._host_outbox = torch.zeros(self._static_outbox.shape, pin_memory=True)

    def warm_up(self) -> None:
        """Capturing was the warm-up."""

    @torch.inference_mode()
    def run(self, window: np.ndarray) -> Frames:
        film, excluded = self.condition
        if excluded or _conditions(film) != _conditions(self._static_film):
            return super().run(window)  # several sounds: captured at one condition, so run eagerly
        if film is not self._loaded_film:
            for path, offset in film.items():
                self._static_film[path].copy_(offset)
            self._loaded_film = film
        self._host_window.numpy()[:] = window
        self._static_window.view(-1).copy_(self._host_window, non_blocking=True)
        self._graph.replay()
        self._host_outbox.copy_(self._static_outbox, non_blocking=True)
        torch.cuda.current_stream(self.net.device).synchronize()
        return self._unpack(self._host_outbox.numpy())


def _conditions(film: FilmOffsets) -> int:
    return next(iter(film.values())).shape[0]


def window_pass(net: ResUNet30, film: FilmOffsets, settings: StreamSettings) -> WindowPass:
    """The fastest pass that computes what the eager pass computes: a CUDA graph on CUDA devices
    (checked against the eager pass on a probe window), the eager pass elsewhere or when that fails."""
    eager = WindowPass(net, film, settings)
    if net.device.type != "cuda":
        return eager
    probe = (0.1 * np.random.default_rng(0).standard_normal(settings.window_samples)).astype(np.float32)
    try:
        graph = CudaGraphWindowPass(net, film, settings)
        agreement_db = sdr(eager.run(probe)[0], graph.run(probe)[0])
    except RuntimeError as error:
        eager.fallback_reason = f"CUDA graph capture failed ({error}); running eagerly"
        return eager
    if agreement_db < MIN_GRAPH_AGREEMENT_DB:
        eager.fallback_reason = f"the CUDA graph's output differed from the eager pass ({agreement_db:.0f} dB); running eagerly"
        return eager
    return graph
