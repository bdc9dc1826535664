"""``Separator``: the Python API for offline separation of a described sound out of audio.

    sep = Separator.from_checkpoint(Path("audiosep_base_4M_steps.ckpt"))
    conditions = sep.embed_texts(["dog barking", "traffic noise"])     # (2, 512)
    out = sep.separate(samples, 44_100, conditions)                   # (2, channels, frames)

Any sample rate (resampled to 32 kHz for the model and back), any number of channels (each separated),
any length (overlapping 10 s segments beyond 10 s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from audio.files import resample
from models.checkpoint import read_state_dict
from models.clap import ClapQueryNet, check_texts
from models.config import MAX_SEGMENT_SAMPLES, MODEL_SAMPLE_RATE_HZ, N_FFT
from models.errors import ModelLoadingError
from models.fast_path import InferenceOptions, optimize_for_inference
from models.hub import AUDIOSEP_CHECKPOINT, fetch
from models.loading import has_query_weights, load_query_net, load_separation_net
from models.minilm import MiniLmQueryNet
from models.resunet import ResUNet30
from models.windowing import DEFAULT_OVERLAP_SAMPLES, separate_long

MIN_MODEL_SAMPLES = N_FFT // 2 + 1  # what the centred STFT's reflect padding needs

QueryNet = ClapQueryNet | MiniLmQueryNet

Mode = Literal["isolate", "remove"]
DEFAULT_BUNDLE = Path(__file__).resolve().parent / "default" / "lass-default.safetensors"


@dataclass(frozen=True)
class WindowSettings:
    """Segmenting of long inputs, in samples at 32 kHz."""

    segment_samples: int = MAX_SEGMENT_SAMPLES
    overlap_samples: int = DEFAULT_OVERLAP_SAMPLES


class Separator:
    """A separation network plus a lazily loaded query network.

    ``separation_net`` runs wherever it was put (a GPU, reduced precision: see :mod:`models.fast_path`);
    audio goes in and comes out on the CPU.
    """

    def __init__(
        self,
        separation_net: ResUNet30,
        query_net_factory: Callable[[], QueryNet] | None = None,
        windows: WindowSettings = WindowSettings(),
    ) -> None:
        self.separation_net = separation_net.eval()
        self._query_net_factory = query_net_factory
        self._query_net: QueryNet | None = None
        self.windows = windows

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: Path | None = None,
        clap_checkpoint: Path | None = None,
        tokenizer_dir: Path | None = None,
        inference: InferenceOptions = InferenceOptions(),
    ) -> Separator:
        """Load from a checkpoint file (without one, the bundled default model) onto the fast path."""
        checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
        state = read_state_dict(checkpoint)
        net = optimize_for_inference(load_separation_net(checkpoint, state), inference)
        if clap_checkpoint is not None:
            query_source, query_state = Path(clap_checkpoint), None
        elif has_query_weights(state):
            query_source, query_state = checkpoint, state
        else:
            query_source, query_state = None, None

        def make_query_net() -> QueryNet:
            if query_source is None:
                raise ModelLoadingError(
                    f"{checkpoint} has no query-encoder weights: pass --clap-checkpoint, or a saved --embedding"
                )
            return load_query_net(query_source, tokenizer_dir, query_state)

        return cls(net, make_query_net)

    @property
    def query_net(self) -> QueryNet:
        if self._query_net is None:
            if self._query_net_factory is None:
                raise ModelLoadingError("this separator has no query network: pass conditions directly")
            self._query_net = self._query_net_factory()
        return self._query_net

    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        """Descriptions -> ``(len(texts), 512)`` conditions."""
        check_texts(texts)
        return self.query_net.embed_texts(texts)

    def embed_audio(self, samples: np.ndarray, sample_rate_hz: int) -> torch.Tensor:
        """An example clip ``(channels, frames)`` -> ``(1, 512)`` condition (channels averaged)."""
        mono = resample(samples.mean(axis=0, keepdims=True), sample_rate_hz, MODEL_SAMPLE_RATE_HZ)
        return self.query_net.embed_audio(torch.from_numpy(mono))

    @torch.inference_mode()
    def separate(
        self,
        samples: np.ndarray,
        sample_rate_hz: int,
        conditions: torch.Tensor,
        mode: Mode = "isolate",
        show_progress: bool = False,
    ) -> np.ndarray:
        """Separate ``(channels, frames)`` audio once per condition -> ``(queries, channels, frames)``.

        ``isolate`` returns the described sound, ``remove`` the input minus it. Output is at the
        input's sample rate and length.
        """
        if samples.ndim != 2 or samples.shape[1] == 0:
            raise ValueError(f"expected audio of shape (channels, frames) with frames > 0, got {samples.shape}")
        if mode not in ("isolate", "remove"):
            raise ValueError(f"mode must be 'isolate' or 'remove', not {mode!r}")
        net = self.separation_net
        film = net.film(conditions)
        queries, frames = conditions.shape[0], samples.shape[1]
        mixture_32k = torch.from_numpy(resample(samples, sample_rate_hz, MODEL_SAMPLE_RATE_HZ))
        # The centred STFT reflects n_fft / 2 samples at each end: shorter input is zero-padded (then cut).
        mixture_32k = torch.nn.functional.pad(mixture_32k, (0, max(0, MIN_MODEL_SAMPLES - mixture_32k.shape[1])))
        output = np.empty((queries, samples.shape[0], frames), dtype=np.float32)
        for channel, mono in enumerate(mixture_32k):
            batch = mono.expand(queries, 1, -1)
            bar = _progress_bar(show_progress, f"channel {channel + 1}/{len(mixture_32k)}")
            target = separate_long(
                lambda segment: net.separate(segment.to(net.device), film).cpu(),
                batch,
                self.windows.segment_samples,
                self.windows.overlap_samples,
                bar,
            )
            back = resample(target[:, 0].numpy(), MODEL_SAMPLE_RATE_HZ, sample_rate_hz)
            output[:, channel] = _fit_length(back, frames)
        if mode == "remove":
            output = samples[None] - output
        return output


def default_checkpoint() -> Path:
    """The bundled default model (small, offline, text queries)."""
    if not DEFAULT_BUNDLE.is_file():
        raise ModelLoadingError(f"the bundled default model is missing ({DEFAULT_BUNDLE}); reinstall, or pass --checkpoint")
    return DEFAULT_BUNDLE


def official_checkpoint() -> Path:
    """The official AudioSep checkpoint, from the Hugging Face cache or downloaded when online."""
    return fetch(AUDIOSEP_CHECKPOINT)


def _fit_length(samples: np.ndarray, frames: int) -> np.ndarray:
    """Crop or zero-pad the last axis to ``frames`` (resampling may differ by a sample)."""
    if samples.shape[-1] >= frames:
        return samples[..., :frames]
    return np.pad(samples, [(0, 0)] * (samples.ndim - 1) + [(0, frames - samples.shape[-1])])


def _progress_bar(enabled: bool, label: str) -> Callable:
    if not enabled:
        return iter
    return lambda items: tqdm(items, desc=f"separating {label}", unit="segment", leave=False)
