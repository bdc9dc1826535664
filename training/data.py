"""Source pools (generated, a folder of captioned clips, or a library of real recordings) and
on-the-fly mixtures, as AudioSep trains.

A mixture is a target source plus one or more sources of other labels, loudness-matched (RMS), at a
random signal-to-noise ratio, with a random overall level, at 32 kHz. Item ``i`` of a split is a pure
function of ``(seed, split, i)``: the data set is a seed, and the held-out split never shares a
random stream with training.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from audio.files import read_mono
from models.config import MODEL_SAMPLE_RATE_HZ
from models.errors import UserError
from training.config import DEFAULT_SEGMENT_SAMPLES
from training.effects import RoomEffects, change_speed, in_a_room, samples_read, with_background
from training.source_library import read_manifest
from training.sources import PHRASINGS, SOUND_CLASSES, SoundClass, log_uniform

SPLITS = {"train": 0, "heldout": 1}
EPS = 1e-8


class CaptionText(NamedTuple):
    """One text a pool can describe a source with: ``text`` is ``caption``, possibly in a phrasing."""

    label: str
    caption: str
    text: str


class SourcePool(Protocol):
    """Where sources come from: a set of labels, audio for a label, and captions for a label."""

    labels: Sequence[str]

    def unmixable(self, label: str) -> set[str]:
        """Labels never mixed with ``label`` (one contains the other: drums and a kick drum)."""
        ...

    def audio(self, rng: np.random.Generator, label: str, n_samples: int) -> np.ndarray: ...

    def caption(self, rng: np.random.Generator, label: str) -> str: ...

    def texts(self) -> list[CaptionText]:
        """Every text :meth:`caption` can return."""
        ...


class GeneratedSources:
    """The seeded synthetic classes of :mod:`training.sources`; ``captions`` picks train or held-out.

    ``phrasing_probability``: how often a caption is put in one of the ``PHRASINGS`` (training only).
    """

    def __init__(self, captions: str = "train", phrasing_probability: float = 0.0) -> None:
        self.classes = {c.name: c for c in SOUND_CLASSES}
        self.labels = tuple(self.classes)
        self.captions = captions
        self.phrasing_probability = phrasing_probability

    def unmixable(self, label: str) -> set[str]:
        return set()

    def audio(self, rng: np.random.Generator, label: str, n_samples: int) -> np.ndarray:
        return self.classes[label].generate(rng, n_samples).astype(np.float32)

    def caption(self, rng: np.random.Generator, label: str) -> str:
        caption = str(rng.choice(self._captions(self.classes[label])))
        if rng.random() < self.phrasing_probability:
            caption = str(rng.choice(PHRASINGS)).format(caption)
        return caption

    def texts(self) -> list[CaptionText]:
        phrasings = ("{}", *PHRASINGS) if self.phrasing_probability > 0 else ("{}",)
        return [
            CaptionText(label, caption, phrasing.format(caption))
            for label, sound in self.classes.items()
            for caption in self._captions(sound)
            for phrasing in phrasings
        ]

    def _captions(self, sound: SoundClass) -> tuple[str, ...]:
        return sound.train_captions if self.captions == "train" else sound.heldout_captions


class FolderSources:
    """Users' captioned clips: a folder of audio and a captions file.

    The captions file is a CSV with columns ``file,caption`` (a file may have several rows) or a JSON
    object ``{"file.wav": ["caption", ...]}``; paths are relative to the folder.
    """

    def __init__(self, root: Path, captions_file: Path) -> None:
        self.root = Path(root)
        self.captions_by_file = _read_captions(Path(captions_file))
        missing = [f for f in self.captions_by_file if not (self.root / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} captioned files are missing under {root}, e.g. {missing[0]}")
        self.labels = tuple(sorted(self.captions_by_file))

    def unmixable(self, label: str) -> set[str]:
        return set()

    def audio(self, rng: np.random.Generator, label: str, n_samples: int) -> np.ndarray:
        return clip_segment(self.root / label, rng, n_samples)

    def caption(self, rng: np.random.Generator, label: str) -> str:
        return str(rng.choice(self.captions_by_file[label]))

    def texts(self) -> list[CaptionText]:
        return [CaptionText(f, c, c) for f, captions in self.captions_by_file.items() for c in captions]


class LibrarySources:
    """One split (``train`` or ``heldout``) of a library of real recordings built by
    :mod:`training.source_library`: its classes are the labels, a source is a random file of the class."""

    def __init__(self, root: Path, split: str = "train") -> None:
        self.root = Path(root)
        rows = read_manifest(self.root)
        self.files: dict[str, list[str]] = {}
        self.captions: dict[str, list[str]] = {}
        for row in rows:
            if row["split"] == split:
                self.files.setdefault(row["label"], []).append(row["file"])
                self.captions[row["label"]] = row["captions"]
        self.labels = tuple(sorted(self.files))
        if len(self.labels) < 2:
            raise UserError(f"the {split} split of the library at {root} has {len(self.labels)} class(es); mixing needs two")

    def unmixable(self, label: str) -> set[str]:
        return held_together(label)

    def audio(self, rng: np.random.Generator, label: str, n_samples: int) -> np.ndarray:
        files = self.files[label]
        return clip_segment(self.root / files[int(rng.integers(len(files)))], rng, n_samples)

    def caption(self, rng: np.random.Generator, label: str) -> str:
        return str(rng.choice(self.captions[label]))

    def texts(self) -> list[CaptionText]:
        return [CaptionText(label, c, c) for label, captions in self.captions.items() for c in captions]


# What a label's sound may hold, among the generated classes and the library's: a mixture of "music"
# and a piano asks for an answer that does not exist (the music may be the piano), so a label is never
# mixed with one it holds or that holds it. Sounds that merely sit side by side (a piano and a guitar,
# a kick and a snare) are mixed: telling them apart is the job.
INSTRUMENTS = {"piano", "guitar", "strings", "brass", "flute", "organ", "bells", "plucked", "drums"}
DRUM_PARTS = {"kick drum", "snare drum", "hi-hat", "cymbal", "tom drum"}
HOLDS = {
    "music": INSTRUMENTS | DRUM_PARTS,
    "drums": DRUM_PARTS,
    "plucked": {"guitar"},  # the generated plucked strings are described as guitars too
    "guitar": {"plucked"},
    "cymbal": {"hi-hat"},  # a hi-hat is a pair of cymbals
    # A ringback tone is a beep a second long every few seconds, and many chimes are one short beep:
    # mixed, a burst of tone was the beeps when dense and the ring or the chime when sparse (#34).
    "phone ringing": {"beeps"},
    "notification chime": {"beeps"},
}


# Voices against sustained pitched sounds: the confusion the held-out sets show worst (a generated
# beep against speech 3.9 dB SI-SDRi and speech against beeps 4.1 for the low-latency model, a real
# piano, bell or beep against speech -10 to -16 dB for the default), since a voiced vowel is a
# stack of harmonics too. ``MixConfig.confusable_share`` of the training mixtures pair a target
# with one of these, so that the network sees the distinction more often than by chance.
TONAL = {
    "beeps", "siren", "whistle", "hum", "chirps", "bells", "plucked", "piano", "guitar", "strings",
    "brass", "flute", "organ", "phone ringing", "notification chime", "music",
}
CONFUSED_WITH = {"speech": TONAL} | {label: {"speech"} for label in TONAL}


def held_together(label: str) -> set[str]:
    """The labels never mixed with ``label``: those it holds and those that hold it (see ``HOLDS``)."""
    return HOLDS.get(label, set()) | {holder for holder, held in HOLDS.items() if label in held}


class CombinedSources:
    """Several pools as one: a label is any pool's; a source or caption of it comes from a pool that
    has it (drawn at random), and labels that hold one another (:func:`held_together`) are never mixed."""

    def __init__(self, *pools: SourcePool) -> None:
        self.pools = pools
        self.labels = tuple(sorted({label for pool in pools for label in pool.labels}))

    def unmixable(self, label: str) -> set[str]:
        return held_together(label)

    def audio(self, rng: np.random.Generator, label: str, n_samples: int) -> np.ndarray:
        return self._pool(rng, label).audio(rng, label, n_samples)

    def caption(self, rng: np.random.Generator, label: str) -> str:
        return self._pool(rng, label).caption(rng, label)

    def texts(self) -> list[CaptionText]:
        return [text for pool in self.pools for text in pool.texts()]

    def _pool(self, rng: np.random.Generator, label: str) -> SourcePool:
        having = [pool for pool in self.pools if label in pool.labels]
        return having[int(rng.integers(len(having)))]


def clip_segment(path: Path, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """``(n_samples,)`` float32 at 32 kHz from a random start in the mono mix of ``path`` (looped if short)."""
    mono = read_mono(path, MODEL_SAMPLE_RATE_HZ)
    start = int(rng.integers(0, max(1, len(mono) - n_samples)))
    return np.resize(mono[start:], n_samples).astype(np.float32)


def _read_captions(path: Path) -> dict[str, list[str]]:
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return {f: [c] if isinstance(c, str) else list(c) for f, c in data.items()}
    captions: dict[str, list[str]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            captions.setdefault(row["file"], []).append(row["caption"])
    return captions


@dataclass(frozen=True)
class MixConfig:
    """How mixtures are drawn. ``effects`` puts each source in a room and adds background noise
    (:mod:`training.effects`); None mixes the sources dry, as the evaluation sets do."""

    segment_samples: int = DEFAULT_SEGMENT_SAMPLES
    snr_db_range: tuple[float, float] = (-5.0, 10.0)
    third_source_probability: float = 0.25
    level_dbfs_range: tuple[float, float] = (-30.0, -12.0)
    peak_limit: float = 0.99
    effects: RoomEffects | None = None
    confusable_share: float = 0.0  # of mixtures whose first interferer is one the target is confused with (CONFUSED_WITH)
    speed_share: float = 0.0  # per source: played faster or slower (training.effects.change_speed)
    speed_range: tuple[float, float] = (0.8, 1.25)  # drawn uniform in log speed: about four semitones either way

    def __post_init__(self) -> None:
        for name in ("confusable_share", "speed_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise UserError(f"the {name.replace('_', ' ')} is a share, 0 to 1, not {share:g}")
        if not 0.0 < self.speed_range[0] <= self.speed_range[1]:
            raise UserError(f"the speed range must be two positive factors, slowest first, not {self.speed_range}")


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2) + EPS))


def mix_sources(
    target: np.ndarray,
    others: list[np.ndarray],
    snr_db: float,
    level_dbfs: float,
    peak_limit: float = 0.99,
    background: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale ``target`` to ``snr_db`` over the (RMS-matched) sum of ``others``, add ``background`` (what
    the mixture holds beyond its sources, e.g. noise) if given, then bring the whole to ``level_dbfs``
    RMS (lowered if the peak would exceed ``peak_limit``). Returns (mixture, target)."""
    interference = sum(o / rms(o) for o in others)
    target = target / rms(target) * rms(interference) * 10 ** (snr_db / 20)
    mixture = target + interference
    if background is not None:
        mixture = background(mixture)
    gain = 10 ** (level_dbfs / 20) / rms(mixture)
    gain = min(gain, peak_limit / (np.abs(mixture).max() + EPS))
    return (mixture * gain).astype(np.float32), (target * gain).astype(np.float32)


class Mixtures(Dataset):
    """``length`` mixtures drawn from ``pool``; item ``i`` is determined by ``(seed, split, i)``.

    ``snr_db`` fixes the SNR (for evaluation); otherwise it is drawn from the config's range.
    ``target_label`` is cycled through the labels when ``balanced`` (evaluation), else drawn.
    Items: ``mixture`` and ``target`` ``(1, samples)`` float32, ``caption`` str, ``label`` str, and
    ``interferers``: the other sources' labels joined by " + ".
    """

    def __init__(
        self,
        pool: SourcePool,
        length: int,
        seed: int = 0,
        split: str = "train",
        config: MixConfig = MixConfig(),
        snr_db: float | None = None,
        balanced: bool = False,
        n_sources: int | None = None,
    ) -> None:
        self.pool, self.length, self.seed, self.split_id = pool, length, seed, SPLITS[split]
        self.config, self.snr_db, self.balanced, self.n_sources = config, snr_db, balanced, n_sources

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise IndexError(f"mixture {index} of {self.length}")
        rng = np.random.default_rng([self.seed, self.split_id, index])
        labels = self.pool.labels
        target_label = labels[index % len(labels)] if self.balanced else labels[int(rng.integers(len(labels)))]
        n_sources = self.n_sources or (3 if rng.random() < self.config.third_source_probability else 2)
        excluded = self.pool.unmixable(target_label) | {target_label}
        candidates = [label for label in labels if label not in excluded]
        interferer_labels = self._interferer_labels(rng, target_label, candidates, n_sources - 1)
        n = self.config.segment_samples
        target = self._source(rng, target_label, n)
        interferers = [self._source(rng, label, n) for label in interferer_labels]
        effects = self.config.effects
        if effects is not None:
            target, interferers = in_a_room(rng, target, effects), [in_a_room(rng, x, effects) for x in interferers]
        snr_db = self.snr_db if self.snr_db is not None else rng.uniform(*self.config.snr_db_range)
        level = rng.uniform(*self.config.level_dbfs_range)
        background = (lambda mixture: with_background(rng, mixture, effects)) if effects is not None else None
        mixture, target = mix_sources(target, interferers, snr_db, level, self.config.peak_limit, background)
        return {
            "mixture": torch.from_numpy(mixture[None]),
            "target": torch.from_numpy(target[None]),
            "caption": self.pool.caption(rng, target_label),
            "label": target_label,
            "interferers": " + ".join(interferer_labels),
        }

    def _source(self, rng: np.random.Generator, label: str, n_samples: int) -> np.ndarray:
        """``(n_samples,)`` of ``label``, at another speed with probability ``speed_share``. At
        probability 0 no draw is added, so a seed gives the mixtures it gave before speeds existed."""
        probability = self.config.speed_share
        if not (probability and rng.random() < probability):
            return self.pool.audio(rng, label, n_samples)
        speed = log_uniform(rng, *self.config.speed_range)
        return change_speed(self.pool.audio(rng, label, samples_read(speed, n_samples)), speed, n_samples)

    def _interferer_labels(self, rng: np.random.Generator, target_label: str, candidates: list[str], count: int) -> list[str]:
        """``count`` distinct labels of ``candidates``; with probability ``confusable_share`` the first
        is one ``target_label`` is confused with (where the pool has one). At share 0 no draw is
        added, so a seed gives the mixtures it gave before the share existed."""
        confusable = [label for label in candidates if label in CONFUSED_WITH.get(target_label, ())]
        first: list[str] = []
        if self.config.confusable_share and confusable and rng.random() < self.config.confusable_share:
            first = [confusable[int(rng.integers(len(confusable)))]]
            candidates = [label for label in candidates if label not in first]
        others = rng.choice(len(candidates), size=min(count - len(first), len(candidates)), replace=False)
        return first + [candidates[int(k)] for k in others]
