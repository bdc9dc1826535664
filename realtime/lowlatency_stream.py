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

import numpy as np
import torch

from models.lowlatency import LowLatencyConfig, LowLatencyNet, combine_masks
from models.lowlatency_step import FrameStep, one_blas_thread
from models.resunet import FilmOffsets
from realtime.contract import HopFeeder, SpectralFrames

PUBLISH_HOPS = 5  # 20 ms of frames per publication for the live views


class LowLatencyStream(HopFeeder):
    """Holds the last ``span - H`` input samples, the GRU state, the spectra waiting for their mask and
    the overlap-add of the frames not yet final. The hops run :class:`models.lowlatency_step.FrameStep`,
    the network's weights in NumPy."""

    def __init__(self, net: LowLatencyNet, film: FilmOffsets, excluded: int = 0) -> None:
        self.settings: LowLatencyConfig = net.config
        self.step = FrameStep(net)  # the network's weights, copied: the stream never runs the module itself
        self.set_condition(film, excluded)
        self.infer = True  # False: keep time moving but skip the network (output silence)
        self.latest: SpectralFrames | None = None  # replaced (never mutated) once per hop
        self.reset()

    @property
    def condition(self) -> tuple[FilmOffsets, int]:
        film, excluded, _ = self._condition
        return film, excluded

    @property
    def fallback_reason(self) -> str | None:
        return None  # one path: nothing faster is tried

    def set_condition(self, film: FilmOffsets, excluded: int = 0) -> None:
        """Use ``film`` (one row per sound, the last ``excluded`` left out) from the next hop; a
        reference swap of all at once, safe from any thread."""
        self._condition = (film, excluded, self.step.film(film))

    def reset(self) -> None:
        """Forget all audio: the next sample fed is sample 0 of a new stream."""
        c = self.settings
        self.context = np.zeros(c.span_samples - c.hop_samples, dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)
        self.samples_in = 0
        self.samples_out = 0
        self.state: np.ndarray | None = None  # (layers, rows, hidden)
        self.spectra: deque[np.ndarray] = deque(maxlen=c.lookahead_frames + 1)  # (bins,) each
        self.overlap_add = np.zeros(c.window_samples, dtype=np.float32)  # from the next frame's start
        self._unpublished: list[tuple[np.ndarray, np.ndarray]] = []  # frames for the views, not yet published

    def warm_up(self) -> None:
        """One hop of silence through the whole path, then forgotten: one-off set-up must not land on a
        live hop."""
        self.feed(np.zeros(self.settings.hop_samples, dtype=np.float32))
        self.reset()

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """As :meth:`HopFeeder.feed`, with NumPy's BLAS on one thread for all its hops (set once per
        call, not per hop: setting it costs about as much as a tenth of a frame's mask)."""
        with one_blas_thread():
            return super().feed(samples)

    def _process_hop(self, hop_samples: np.ndarray) -> np.ndarray:
        c = self.settings
        span = np.concatenate([self.context, hop_samples])
        self.context = span[c.hop_samples :]
        self.samples_in += c.hop_samples
        spectrum = self.step.spectrum(span)
        self.spectra.append(spectrum)
        mask = self._mask(self.step.features(span, spectrum))
        frames = self.samples_in // c.hop_samples  # frames whose spectrum went through the GRU
        if frames <= c.lookahead_frames:
            return np.zeros(0, dtype=np.float32)
        delayed = self.spectra[0]  # frame (frames - 1 - L), which this mask is for
        self._publish(frames, np.abs(delayed), mask)
        self.overlap_add += self.step.synthesise(mask * delayed)
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

    def _mask(self, features: np.ndarray) -> np.ndarray:
        """``(feature_bins,)`` features -> the ``(bins,)`` combined mask of the query in use."""
        _, excluded, film = self._condition
        if not self.infer:
            self.state = None
            return np.zeros(self.settings.bins, dtype=np.float32)
        if self.state is None or self.state.shape[1] != film.rows:
            self.state = self.step.initial_state(film.rows)  # another number of sounds: their states start afresh
        masks = self.step.masks(features, film, self.state)
        return combine_masks(torch.from_numpy(masks), excluded)[0].numpy() if film.rows > 1 else masks[0]
