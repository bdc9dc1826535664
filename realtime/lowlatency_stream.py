"""The streaming-native network (:mod:`models.lowlatency`) streamed hop by hop: a
:class:`realtime.contract.LiveSeparator`.

Each hop of ``H`` new samples completes one frame of ``N``: its spectrum, one GRU step (the state
carried from hop to hop), and the mask for the frame ``L`` hops back, which is masked, inverted and
overlap-added; the oldest ``H`` samples of the overlap-add are then final and released. What it
computes equals :meth:`LowLatencyNet.separate` over the whole signal. A change of query takes the
new FiLM offsets from the next hop; the GRU state carries on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from models.lowlatency import LowLatencyConfig, LowLatencyNet, combine_masks, condition_rows
from models.resunet import FilmOffsets
from realtime.contract import HopFeeder, SpectralFrames

PUBLISH_HOPS = 5  # 20 ms of frames per publication for the live views


class LowLatencyStream(HopFeeder):
    """Holds the last ``N - H`` input samples, the GRU state, the spectra waiting for their mask and
    the overlap-add of the frames not yet final."""

    def __init__(self, net: LowLatencyNet, film: FilmOffsets, excluded: int = 0) -> None:
        self.net = net.eval()
        self.settings: LowLatencyConfig = net.config
        self._condition = (film, excluded)
        self.infer = True  # False: keep time moving but skip the network (output silence)
        self.latest: SpectralFrames | None = None  # replaced (never mutated) once per hop
        self.reset()

    @property
    def condition(self) -> tuple[FilmOffsets, int]:
        return self._condition

    @property
    def fallback_reason(self) -> str | None:
        return None  # one pass, eager: nothing faster is tried

    def set_condition(self, film: FilmOffsets, excluded: int = 0) -> None:
        """Use ``film`` (one row per sound, the last ``excluded`` left out) from the next hop; a
        reference swap of both at once, safe from any thread."""
        self._condition = (film, excluded)

    def reset(self) -> None:
        """Forget all audio: the next sample fed is sample 0 of a new stream."""
        c = self.settings
        self.context = np.zeros(c.window_samples - c.hop_samples, dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)
        self.samples_in = 0
        self.samples_out = 0
        self.state: torch.Tensor | None = None  # (layers, rows, hidden)
        self.spectra: deque[torch.Tensor] = deque(maxlen=c.lookahead_frames + 1)  # (1, 1, bins) each
        self.overlap_add = np.zeros(c.window_samples, dtype=np.float32)  # from the next frame's start
        self._unpublished: list[tuple[np.ndarray, np.ndarray]] = []  # frames for the views, not yet published

    def warm_up(self) -> None:
        """One hop of silence through the whole path, then forgotten: one-off set-up must not land on a
        live hop."""
        self._process_hop(np.zeros(self.settings.hop_samples, dtype=np.float32))
        self.reset()

    @torch.inference_mode()
    def _process_hop(self, hop_samples: np.ndarray) -> np.ndarray:
        with one_thread():
            return self._hop(hop_samples)

    def _hop(self, hop_samples: np.ndarray) -> np.ndarray:
        c = self.settings
        frame = np.concatenate([self.context, hop_samples])
        self.context = frame[c.hop_samples :]
        self.samples_in += c.hop_samples
        spectrum = self.net.spectra(torch.from_numpy(frame))[None, None]
        self.spectra.append(spectrum)
        mask = self._mask(spectrum)
        frames = self.samples_in // c.hop_samples  # frames whose spectrum went through the GRU
        if frames <= c.lookahead_frames:
            return np.zeros(0, dtype=np.float32)
        delayed = self.spectra[0]  # frame (frames - 1 - L), which this mask is for
        self._publish(frames, delayed.abs()[0, 0].numpy(), mask[0, 0].numpy())
        self.overlap_add += self.net.synthesise(mask * delayed)[0, 0].numpy()
        final = self.overlap_add[: c.hop_samples].copy()
        self.overlap_add[: -c.hop_samples] = self.overlap_add[c.hop_samples :]
        self.overlap_add[-c.hop_samples :] = 0.0
        # The frame just added starts (N - H) before its end: the first (N/H - 1) frames' starts lie before sample 0.
        if frames - c.lookahead_frames < c.overlap:
            return np.zeros(0, dtype=np.float32)
        self.samples_out += c.hop_samples
        return final

    def _publish(self, hop_index: int, magnitude: np.ndarray, mask: np.ndarray) -> None:
        """Gather the frames for the live views and publish them every ``PUBLISH_HOPS`` hops: a view
        that looks 60 times a second sees every batch."""
        self._unpublished.append((magnitude, mask))
        if len(self._unpublished) == PUBLISH_HOPS:
            magnitudes, masks = (np.stack(part) for part in zip(*self._unpublished))
            self.latest = SpectralFrames(hop_index, magnitudes, masks, self.settings.hop_samples)
            self._unpublished = []

    def _mask(self, spectrum: torch.Tensor) -> torch.Tensor:
        """``(1, 1, bins)`` spectrum -> the ``(1, 1, bins)`` combined mask of the query in use."""
        film, excluded = self._condition
        rows = condition_rows(film)
        if not self.infer:
            self.state = None
            return torch.zeros(1, 1, spectrum.shape[-1])
        if self.state is not None and self.state.shape[1] != rows:
            self.state = None  # another number of sounds: their states start afresh
        masks, self.state = self.net.masks(spectrum.expand(rows, -1, -1), film, self.state)
        return combine_masks(masks, excluded) if rows > 1 else masks


@contextmanager
def one_thread() -> Iterator[None]:
    """PyTorch on one thread for a hop's few small operations: a second thread only waits for its
    share, and on a busy machine it waits for a core (cycles of 0.7 ms took up to 17 ms with two
    threads while another program kept both cores busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
