"""Audio files in and out, and sample-rate conversion for everything that is not the model.

Arrays are ``(channels, samples)`` float32 in [-1, 1]. Writes are atomic: a temporary file in the
target folder, renamed over the target only when complete, so a failed run leaves nothing half-written
(:mod:`audio.places`). Reading refuses what no model should be given: NaN, infinite or absurdly
large samples (float files only can hold them), named by time and channel.
"""

from __future__ import annotations

import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from audio.places import BYTES_PER_SAMPLE, check_writable_format, keep_file_mode, output_subtype, temporary_beside, write_failure

MIN_SAMPLE_RATE_HZ = 4_000
MAX_SAMPLE_RATE_HZ = 768_000
RESAMPLER_QUALITY = "HQ"
# Full scale is 1.0; float files may go above it, but a sample beyond this (120 dB over full scale)
# is no recording: it is a broken file, and the model's spectra overflow float32 not far above it.
MAX_SAMPLE_MAGNITUDE = 1e6
CUT_SHORT = re.compile(r"data : (?P<declared>\d+) \(should be (?P<present>\d+)\)")


class AudioFileError(Exception):
    """An audio file could not be read or written; the message names the file and the problem."""


class AudioFileWarning(UserWarning):
    """An audio file can be used, but not wholly as it claims (e.g. cut short); the message says how."""


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio: ``samples`` is ``(channels, frames)`` float32."""

    samples: np.ndarray
    sample_rate_hz: int
    subtype: str | None = None


BLOCK_FRAMES = 1 << 18  # frames per read when a file is processed in blocks (5.5 s at 48 kHz)
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")  # the only sample formats that can hold NaN, infinity or huge values


class AudioSource:
    """An audio file opened for reading in blocks; use as a context manager.

    Refuses, on opening, what is not a regular file, what libsndfile cannot read, empty files and
    unusable sample rates; warns (:class:`AudioFileWarning`) when the file holds less audio than its
    header announces.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        check_regular_file(self.path, "input file")
        try:
            self._file = sf.SoundFile(self.path)
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            raise AudioFileError(f"cannot read {self.path} as audio: {error}") from error
        self.sample_rate_hz, self.channels, self.frames = self._file.samplerate, self._file.channels, self._file.frames
        self.subtype = self._file.subtype
        if self.frames == 0:
            self._file.close()
            raise AudioFileError(f"{self.path} contains no audio (zero samples)")
        try:
            check_sample_rate(self.sample_rate_hz, self.path)
        except AudioFileError:
            self._file.close()
            raise
        self._warn_if_cut_short()

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def blocks(self, block_frames: int = BLOCK_FRAMES, repair_nonfinite: bool = False) -> Iterator[np.ndarray]:
        """The file from its start in ``(channels, <= block_frames)`` float32 blocks. NaN, infinite or
        out-of-range samples raise :class:`AudioFileError` naming the first one; NaN and infinite
        ones become silence instead if ``repair_nonfinite``."""
        self._file.seek(0)
        position = 0
        while True:
            try:
                data = self._file.read(block_frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as error:
                raise AudioFileError(f"cannot read {self.path} at {position / self.sample_rate_hz:.1f} s: {error}") from error
            if len(data) == 0:
                return
            block = np.ascontiguousarray(data.T)
            if self.subtype in FLOAT_SUBTYPES:
                self._check_samples(block, position, repair_nonfinite)
            position += block.shape[1]
            yield block

    def check_samples(self, repair_nonfinite: bool = False) -> None:
        """Fail before any work if a float file holds out-of-range samples, or NaN or infinite ones
        that are not to be repaired (other formats can hold none of them)."""
        if self.subtype in FLOAT_SUBTYPES:
            for _ in self.blocks(repair_nonfinite=repair_nonfinite):
                pass

    def _check_samples(self, block: np.ndarray, first_frame: int, repair: bool) -> None:
        bad = ~np.isfinite(block)
        if bad.any() and repair:
            block[bad] = 0.0
        elif bad.any():
            self._refuse(bad, first_frame, "are NaN or infinite", "repair the file, or pass --repair-nonfinite to make them silence")
        loud = np.abs(block) > MAX_SAMPLE_MAGNITUDE
        if loud.any():
            self._refuse(loud, first_frame, f"exceed {MAX_SAMPLE_MAGNITUDE:g} in magnitude (full scale is 1)",
                         "this is not audio a recorder makes: repair the file, or scale it down to full scale")

    def _refuse(self, bad: np.ndarray, first_frame: int, what: str, remedy: str) -> None:
        """Raise naming the first ``bad`` sample of a block by time and channel."""
        channel, frame = np.argwhere(bad)[np.argmin(np.nonzero(bad)[1])]
        raise AudioFileError(
            f"{self.path}: samples {what} from {(first_frame + frame) / self.sample_rate_hz:.3f} s "
            f"(channel {channel + 1}); {remedy}"
        )

    def _warn_if_cut_short(self) -> None:
        """libsndfile reads what a cut-off file holds; say when its header announced more."""
        found = CUT_SHORT.search(self._file.extra_info)
        if found is None or int(found["declared"]) <= int(found["present"]):
            return
        frame_bytes = self.channels * BYTES_PER_SAMPLE.get(self.subtype, 0)
        announced = f"{int(found['declared']) / frame_bytes / self.sample_rate_hz:.1f} s of audio" if frame_bytes else "more audio"
        warnings.warn(AudioFileWarning(
            f"{self.path} is cut short: its header announces {announced}, it holds "
            f"{self.frames / self.sample_rate_hz:.1f} s; only those are used"
        ), stacklevel=3)


def check_regular_file(path: Path, what: str) -> None:
    """Raise :class:`AudioFileError` unless ``path`` is a regular file (not missing, not a folder, a
    FIFO or a device)."""
    if path.is_file():
        return
    if not path.exists():
        raise AudioFileError(f"{what} not found: {path}")
    kind = "a folder" if path.is_dir() else "a FIFO" if stat.S_ISFIFO(path.stat().st_mode) else "not a regular file"
    raise AudioFileError(f"{path} is {kind}: give an audio file")


def read_audio(path: Path, repair_nonfinite: bool = False) -> AudioClip:
    """Decode a whole file (any format libsndfile reads), checked as :class:`AudioSource` checks it."""
    with AudioSource(path) as source:
        samples = np.concatenate(list(source.blocks(repair_nonfinite=repair_nonfinite)), axis=1)
        return AudioClip(samples, source.sample_rate_hz, source.subtype)


def check_sample_rate(rate_hz: int, source: Path | str) -> None:
    if not MIN_SAMPLE_RATE_HZ <= rate_hz <= MAX_SAMPLE_RATE_HZ:
        raise AudioFileError(
            f"{source}: sample rate {rate_hz} Hz is not supported "
            f"(use {MIN_SAMPLE_RATE_HZ}-{MAX_SAMPLE_RATE_HZ} Hz)"
        )


class AudioSink:
    """An audio file written in blocks, atomically: into a temporary file beside ``path``, renamed over
    it by :meth:`commit` (keeping the replaced file's mode; through a symbolic link, its target is
    written). As a context manager it commits on success and removes the temporary file on any error
    or signal, so a failed run leaves nothing half-written. ``subtype`` (e.g. ``PCM_16``) is kept
    where the format allows it. A write that fails (a full disk) raises
    :class:`audio.places.OutputPlaceError` naming the file and the free space."""

    def __init__(self, path: Path, sample_rate_hz: int, channels: int, subtype: str | None = None) -> None:
        self.path = Path(path).resolve()
        check_writable_format(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temporary_beside(self.path)
        try:
            self._file = sf.SoundFile(self._tmp, "w", sample_rate_hz, channels, output_subtype(self.path, subtype),
                                      format=self.path.suffix.lstrip(".").upper())
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        self.frames = 0

    def __enter__(self) -> AudioSink:
        return self

    def __exit__(self, kind: type | None, *exc: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def write(self, block: np.ndarray) -> None:
        """Append ``(channels, frames)``."""
        try:
            self._file.write(np.ascontiguousarray(block.T))
        except (sf.LibsndfileError, RuntimeError, OSError) as error:
            raise write_failure(self.path, error) from None
        self.frames += block.shape[1]

    def commit(self) -> None:
        try:
            try:
                self._file.close()
            except (sf.LibsndfileError, RuntimeError, OSError) as error:
                raise write_failure(self.path, error) from None
            keep_file_mode(self._tmp, self.path)
            self._tmp.replace(self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        try:
            self._file.close()
        except (sf.LibsndfileError, RuntimeError, OSError):
            pass  # the file goes anyway: a full disk cannot flush it
        self._tmp.unlink(missing_ok=True)


def write_audio(path: Path, samples: np.ndarray, sample_rate_hz: int, subtype: str | None = None) -> None:
    """Write ``(channels, frames)`` atomically (see :class:`AudioSink`)."""
    with AudioSink(path, sample_rate_hz, samples.shape[0], subtype) as sink:
        sink.write(samples)


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """High-quality resampling of ``(channels, frames)`` with soxr; identity when rates match."""
    if from_hz == to_hz:
        return samples
    return np.ascontiguousarray(soxr.resample(samples.T, from_hz, to_hz, quality=RESAMPLER_QUALITY).T)


def mono_at(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """``(channels, frames)`` at ``from_hz`` -> ``(frames',)``: the channels averaged, resampled to ``to_hz``."""
    return resample(samples.mean(axis=0, keepdims=True), from_hz, to_hz)[0]


def read_mono(path: Path, rate_hz: int) -> np.ndarray:
    """A file as ``(frames,)`` float32 at ``rate_hz``, its channels averaged."""
    clip = read_audio(path)
    return mono_at(clip.samples, clip.sample_rate_hz, rate_hz)


def stream_resampler(from_hz: int, to_hz: int, channels: int) -> soxr.ResampleStream | None:
    """soxr's streaming resampler of ``channels`` float32 channels (None when rates match): fed in
    chunks, it returns what :func:`resample` returns for the whole signal."""
    if from_hz == to_hz:
        return None
    return soxr.ResampleStream(from_hz, to_hz, channels, dtype="float32", quality=RESAMPLER_QUALITY)
