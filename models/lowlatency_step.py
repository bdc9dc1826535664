"""One frame of :class:`models.lowlatency.LowLatencyNet` in NumPy: the live stream's per-hop path.

The same weights and the same arithmetic as :meth:`LowLatencyNet.masks`, one frame at a time: about
ten small matrix-vector products and their gates, with none of a framework's per-operation dispatch.
On this project's 2-core CPU a frame's mask takes 0.102 ms (p50) this way against 0.259 ms through
PyTorch's modules on one thread (``python -m benchmarks.frame_step``, the bundle with its context window), which is what keeps a 4 ms hop
a small share of a core when another program takes the other one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import expit  # the logistic function in one call, stable for large negative input
from threadpoolctl import ThreadpoolController

from models.lowlatency import LOG_FLOOR, LowLatencyNet
from models.resunet import FilmOffsets

# NumPy's BLAS libraries, found once: limiting them per frame through threadpoolctl's ``limit`` took
# about 40 us a frame (it inspects every library each time), setting them directly takes about 3.
_BLAS_LIBRARIES = ThreadpoolController().select(user_api="blas").lib_controllers


@dataclass(frozen=True)
class StepFilm:
    """FiLM offsets as the step uses them: ``1 + scale`` and ``shift``, ``(rows, hidden)`` each, for the
    encoder's output and the GRU's."""

    input_scale: np.ndarray
    input_shift: np.ndarray
    output_scale: np.ndarray
    output_shift: np.ndarray

    @property
    def rows(self) -> int:
        return self.input_scale.shape[0]


@dataclass(frozen=True)
class _Affine:
    """``x @ weight + bias`` with ``weight (in, out)``: a linear layer laid out for row vectors."""

    weight: np.ndarray
    bias: np.ndarray

    @classmethod
    def of(cls, weight: torch.Tensor, bias: torch.Tensor) -> _Affine:
        return cls(_array(weight.T), _array(bias))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight + self.bias


class FrameStep:
    """A frozen copy of a :class:`LowLatencyNet`'s weights, run one frame at a time."""

    def __init__(self, net: LowLatencyNet) -> None:
        c = net.config
        self.hidden = c.hidden
        self.window_samples = c.window_samples
        self.context_samples = c.context_samples
        self.analysis_window = _array(net.window)
        self.context_window = _array(net.context_window)
        self.synthesis_window = _array(net.window * net.synthesis_gain)
        self.encoder = _Affine.of(net.encoder.weight, net.encoder.bias)
        gru = net.gru
        self.gru = [
            (_Affine.of(getattr(gru, f"weight_ih_l{k}"), getattr(gru, f"bias_ih_l{k}")),
             _Affine.of(getattr(gru, f"weight_hh_l{k}"), getattr(gru, f"bias_hh_l{k}")))
            for k in range(c.layers)
        ]
        self.decoder = (_Affine.of(net.decoder[0].weight, net.decoder[0].bias), _Affine.of(net.decoder[2].weight, net.decoder[2].bias))

    def film(self, film: FilmOffsets) -> StepFilm:
        """The network's FiLM offsets ``(rows, 2 hidden, 1, 1)`` by name -> a :class:`StepFilm`."""
        input_scale, input_shift = np.split(_array(film["input"][:, :, 0, 0]), 2, axis=1)
        output_scale, output_shift = np.split(_array(film["output"][:, :, 0, 0]), 2, axis=1)
        return StepFilm(1.0 + input_scale, input_shift, 1.0 + output_scale, output_shift)

    def initial_state(self, rows: int) -> np.ndarray:
        """The GRU state before the first frame: ``(layers, rows, hidden)`` zeros."""
        return np.zeros((len(self.gru), rows, self.hidden), dtype=np.float32)

    def spectrum(self, span: np.ndarray) -> np.ndarray:
        """``(span,)`` samples -> ``(bins,)`` complex spectrum of their last ``N``, windowed."""
        return np.fft.rfft(span[-self.window_samples :] * self.analysis_window)

    def features(self, span: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
        """``(span,)`` samples and their frame's spectrum -> ``(feature_bins,)`` log magnitudes."""
        if self.context_samples:
            spectrum = np.concatenate([spectrum, np.fft.rfft(span[-self.context_samples :] * self.context_window)])
        return np.log(np.abs(spectrum) + np.float32(LOG_FLOOR))

    def synthesise(self, spectrum: np.ndarray) -> np.ndarray:
        """``(bins,)`` complex -> ``(N,)`` windowed samples ready to overlap-add."""
        return np.fft.irfft(spectrum, n=self.window_samples).astype(np.float32, copy=False) * self.synthesis_window

    def masks(self, features: np.ndarray, film: StepFilm, state: np.ndarray) -> np.ndarray:
        """``(feature_bins,)`` features of one frame, ``state (layers, rows, hidden)`` updated in place ->
        ``(rows, bins)`` magnitude masks, row ``r`` conditioned by FiLM row ``r``."""
        hidden = np.maximum(self.encoder(features), 0.0) * film.input_scale + film.input_shift
        x, h = hidden, self.hidden
        for layer, (from_input, from_state) in enumerate(self.gru):
            gates_x, gates_h = from_input(x), from_state(state[layer])
            # Reset and update gates in one pass: each numpy call costs several microseconds on a
            # core that idled between two blocks, more than its arithmetic.
            reset_update = expit(gates_x[:, : 2 * h] + gates_h[:, : 2 * h])
            reset, update = reset_update[:, :h], reset_update[:, h:]
            candidate = np.tanh(gates_x[:, 2 * h :] + reset * gates_h[:, 2 * h :])
            state[layer] = candidate + update * (state[layer] - candidate)
            x = state[layer]
        joined = np.concatenate([x * film.output_scale + film.output_shift, hidden], axis=1)
        first, second = self.decoder
        return expit(second(np.maximum(first(joined), 0.0)))


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's BLAS on one thread for a frame's small products: a second thread only waits for its
    share, and on a busy machine it waits for a core."""
    before = [library.get_num_threads() for library in _BLAS_LIBRARIES]
    for library in _BLAS_LIBRARIES:
        library.set_num_threads(1)
    try:
        yield
    finally:
        for library, threads in zip(_BLAS_LIBRARIES, before):
            library.set_num_threads(threads)


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())
