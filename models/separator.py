"""``Separator``: the Python API for offline separation of a described sound out of audio.

    sep = Separator.from_checkpoint(Path("audiosep_base_4M_steps.ckpt"))
    conditions = sep.embed_texts(["dog barking", "traffic noise"])     # (2, 512)
    out = sep.separate(samples, 44_100, conditions)                   # (2, channels, frames)

Any sample rate (resampled to 32 kHz for the model and back), any number of channels (each separated),
any length (overlapping 10 s segments beyond 10 s, in blocks: `separate_file` holds about one segment of
audio in memory, whatever the file's length).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from audio.files import BLOCK_FRAMES, AudioSink, AudioSource, mono_at, read_audio
from models.batching import BatchingNet
from models.block_separation import BlockSeparation, Combination, Mode
from models.checkpoint import read_state_dict
from models.config import MAX_SEGMENT_SAMPLES, MODEL_SAMPLE_RATE_HZ
from models.errors import ModelLoadingError, NonFiniteOutput
from models.fast_path import InferenceOptions, optimize_for_inference
from models.hub import AUDIOSEP_CHECKPOINT, fetch
from models.loading import condition_from_file, has_query_weights, load_query_net, load_separation_net
from models.minilm import MiniLmQueryNet, NearestSound
from models.queries import CONDITION_SUFFIX, Query, QuerySet, check_texts, excluded_count
from models.resunet import ResUNet30
from models.windowing import DEFAULT_OVERLAP_SAMPLES

if TYPE_CHECKING:  # CLAP (and transformers) are imported only when a CLAP model is loaded
    from models.clap import ClapQueryNet

    QueryNet = ClapQueryNet | MiniLmQueryNet

BUNDLED_MODELS = Path(__file__).resolve().parent / "default"
DEFAULT_BUNDLE = BUNDLED_MODELS / "lass-default.safetensors"
LOWLATENCY_BUNDLE = BUNDLED_MODELS / "lass-lowlatency.safetensors"


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

    def condition(self, query: Query) -> torch.Tensor:
        """Any query -> its ``(1, 512)`` condition: a description through the query network, a saved
        ``.npy`` condition as it is, an example clip through the query network's audio branch; a
        :class:`QuerySet` -> one row per sound, included ones first (``(n, 512)``)."""
        if isinstance(query, QuerySet):
            return torch.cat([self.condition(q) for q in query.queries])
        if isinstance(query, str):
            return self.embed_texts([query])
        if query.suffix == CONDITION_SUFFIX:
            return condition_from_file(query)
        clip = read_audio(query)
        return self.embed_audio(clip.samples, clip.sample_rate_hz)

    def conditions(self, queries: list[Query]) -> tuple[torch.Tensor, tuple[Combination, ...]]:
        """Several queries, one output each: their conditions in order, and how they make the outputs
        (what :meth:`separate_file` takes)."""
        return torch.cat([self.condition(query) for query in queries]), combinations_of(queries)

    def nearest_sound(self, query: Query) -> NearestSound | None:
        """For a description, the trained sound nearest to it and whether the model knows it; None
        when the query network cannot say (CLAP, or a bundle without labelled caption memory)."""
        if not isinstance(query, str) or not isinstance(self.query_net, MiniLmQueryNet):
            return None
        return self.query_net.nearest_sound(query)

    def embed_audio(self, samples: np.ndarray, sample_rate_hz: int) -> torch.Tensor:
        """An example clip ``(channels, frames)`` -> ``(1, 512)`` condition (channels averaged)."""
        mono = mono_at(samples, sample_rate_hz, MODEL_SAMPLE_RATE_HZ)
        return self.query_net.embed_audio(torch.from_numpy(mono[None]))

    def block_separation(
        self,
        conditions: torch.Tensor,
        channels: int,
        rate_hz: int,
        mode: Mode = "isolate",
        combinations: tuple[Combination, ...] | None = None,
        batching: BatchingNet | None = None,
    ) -> BlockSeparation:
        """A separation of ``channels`` audio at ``rate_hz`` fed in blocks, once per condition (or per
        combination of conditions: see :func:`combinations_of`); through ``batching`` when given
        (several files at once, see :mod:`models.batching`), else straight through the network."""
        with torch.inference_mode():
            film = self.separation_net.film(conditions)
        w = self.windows
        net = batching or self.separation_net
        return BlockSeparation(net, film, conditions.shape[0], channels, rate_hz, mode, w.segment_samples, w.overlap_samples, combinations)

    def separate(
        self,
        samples: np.ndarray,
        sample_rate_hz: int,
        conditions: torch.Tensor,
        mode: Mode = "isolate",
        show_progress: bool = False,
        block_frames: int = BLOCK_FRAMES,
        combinations: tuple[Combination, ...] | None = None,
    ) -> np.ndarray:
        """Separate ``(channels, frames)`` audio once per condition (or combination) -> ``(outputs,
        channels, frames)``.

        ``isolate`` returns the described sound, ``remove`` the input minus it. Output is at the
        input's sample rate and length. The audio goes through in blocks of ``block_frames``; the
        output does not depend on their size.
        """
        if samples.ndim != 2 or samples.shape[1] == 0:
            raise ValueError(f"expected audio of shape (channels, frames) with frames > 0, got {samples.shape}")
        separation = self.block_separation(conditions, samples.shape[0], sample_rate_hz, mode, combinations)
        starts = range(0, samples.shape[1], block_frames)
        with _progress_bar(show_progress, samples.shape[1] / sample_rate_hz) as bar:
            pieces = []
            for start in starts:
                block = samples[:, start : start + block_frames]
                pieces.append(separation.push(block))
                bar.update(block.shape[1] / sample_rate_hz)
            pieces.append(separation.finish())
        return np.concatenate(pieces, axis=2)

    def separate_file(
        self,
        source_path: Path,
        output_paths: list[Path],
        conditions: torch.Tensor,
        mode: Mode = "isolate",
        repair_nonfinite: bool = False,
        show_progress: bool = False,
        block_frames: int = BLOCK_FRAMES,
        combinations: tuple[Combination, ...] | None = None,
        batching: BatchingNet | None = None,
    ) -> list[float]:
        """Separate an audio file block by block into one file per condition (or combination), in
        bounded memory; through ``batching`` when other files are separated at the same time.

        Each output keeps the input's rate, channels, length and sample format where its own format
        allows it, and is written atomically: on any error no output is left, half-written or not.
        Returns each output's energy as a share of the input's: near 0 when the model found little of
        the described sound (it returns little rather than pretend).
        """
        with AudioSource(source_path) as source, ExitStack() as outputs:
            source.check_samples(repair_nonfinite)  # before any work, rather than hours into a long file
            separation = self.block_separation(conditions, source.channels, source.sample_rate_hz, mode, combinations, batching)
            sinks = [
                outputs.enter_context(AudioSink(path, source.sample_rate_hz, source.channels, source.subtype))
                for path in output_paths
            ]
            written_s, input_energy, output_energy = 0.0, 0.0, np.zeros(len(sinks))
            with _progress_bar(show_progress, source.frames / source.sample_rate_hz) as bar:
                for block in source.blocks(block_frames, repair_nonfinite):
                    input_energy += energy(block)
                    separated = separation.push(block)
                    output_energy += [energy(samples) for samples in separated]
                    written_s = _write(sinks, separated, source.sample_rate_hz, written_s, source_path)
                    bar.update(block.shape[1] / source.sample_rate_hz)
                separated = separation.finish()
                output_energy += [energy(samples) for samples in separated]
                _write(sinks, separated, source.sample_rate_hz, written_s, source_path)
        return [float(e / max(input_energy, np.finfo(np.float32).tiny)) for e in output_energy]


def energy(samples: np.ndarray) -> float:
    """The sum of squared samples, in float64."""
    return float(np.square(samples, dtype=np.float64).sum())


def _write(sinks: list[AudioSink], separated: np.ndarray, rate_hz: int, written_s: float, source_path: Path) -> float:
    """``(queries, channels, frames)`` -> one sink per query, once checked: never a NaN or infinite
    sample. Returns the seconds written so far."""
    bad = ~np.isfinite(separated)
    if bad.any():
        first_s = written_s + np.nonzero(bad.any(axis=(0, 1)))[0][0] / rate_hz
        raise NonFiniteOutput(
            f"the separation of {source_path} gave NaN or infinite samples from {first_s:.3f} s: its input or "
            "the condition is out of the model's range; nothing was written"
        )
    for sink, samples in zip(sinks, separated):
        sink.write(samples)
    return written_s + separated.shape[2] / rate_hz


def combinations_of(queries: list[Query]) -> tuple[Combination, ...]:
    """How the conditions of ``queries`` (``Separator.condition`` of each, in order) make one output each."""
    return tuple(Combination(len(q.queries) if isinstance(q, QuerySet) else 1, excluded_count(q)) for q in queries)


def default_checkpoint() -> Path:
    """The bundled default model (small, offline, text queries)."""
    return _bundled(DEFAULT_BUNDLE, "default")


def lowlatency_checkpoint() -> Path:
    """The bundled low-latency model (streaming-native, text queries)."""
    return _bundled(LOWLATENCY_BUNDLE, "low-latency")


def _bundled(path: Path, name: str) -> Path:
    if not path.is_file():
        raise ModelLoadingError(f"the bundled {name} model is missing ({path}); reinstall, or pass --checkpoint")
    return path


def official_checkpoint() -> Path:
    """The official AudioSep checkpoint, from the Hugging Face cache or downloaded when online."""
    return fetch(AUDIOSEP_CHECKPOINT)


def _progress_bar(enabled: bool, seconds: float) -> tqdm:
    """A bar in seconds of audio (shown on a terminal only)."""
    return tqdm(total=round(seconds, 1), desc="separating", unit="s audio", disable=not enabled, leave=False,
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]")
