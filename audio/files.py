"""Audio files in and out, and sample-rate conversion for everything that is not the model.

Arrays are ``(channels, samples)`` float32 in [-1, 1]. Writes are atomic: a temporary file in the
target folder, renamed over the target only when complete, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

MIN_SAMPLE_RATE_HZ = 4_000
MAX_SAMPLE_RATE_HZ = 768_000
RESAMPLER_QUALITY = "HQ"


class AudioFileError(Exception):
    """An audio file could not be read or written; the message names the file and the problem."""


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio: ``samples`` is ``(channels, frames)`` float32."""

    samples: np.ndarray
    sample_rate_hz: int
    subtype: str | None = None


BLOCK_FRAMES = 1 << 18  # frames per read when a file is processed in blocks (5.5 s at 48 kHz)
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")  # the only sample formats that can hold NaN or infinity


class AudioSource:
    """An audio file opened for reading in blocks; use as a context manager.

    Refuses, on opening, what libsndfile cannot read, empty files and unusable sample rates.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise AudioFileError(f"input file not found: {self.path}")
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

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def blocks(self, block_frames: int = BLOCK_FRAMES, repair_nonfinite: bool = False) -> Iterator[np.ndarray]:
        """The file from its start in ``(channels, <= block_frames)`` float32 blocks. NaN or infinite
        samples raise :class:`AudioFileError` naming the first one, or become silence if
        ``repair_nonfinite``."""
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
            self._check_finite(block, position, repair_nonfinite)
            position += block.shape[1]
            yield block

    def check_finite(self) -> None:
        """Fail before any work if a float file holds NaN or infinite samples (other formats cannot)."""
        if self.subtype in FLOAT_SUBTYPES:
            for _ in self.blocks():
                pass

    def _check_finite(self, block: np.ndarray, first_frame: int, repair: bool) -> None:
        bad = ~np.isfinite(block)
        if not bad.any():
            return
        if repair:
            block[bad] = 0.0
            return
        channel, frame = np.argwhere(bad)[np.argmin(np.nonzero(bad)[1])]
        raise AudioFileError(
            f"{self.path}: samples are NaN or infinite from {(first_frame + frame) / self.sample_rate_hz:.3f} s "
            f"(channel {channel + 1}); repair the file, or pass --repair-nonfinite to make them silence"
        )


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


def check_writable_format(path: Path) -> None:
    """Fail before any work if the output extension is not a format libsndfile writes."""
    extension = Path(path).suffix.lstrip(".").upper()
    if extension not in sf.available_formats():
        raise AudioFileError(f"cannot write {path}: unknown audio extension (use .wav, .flac or .ogg)")


class AudioSink:
    """An audio file written in blocks, atomically: into a temporary file beside ``path``, renamed over
    it by :meth:`commit` (keeping the replaced file's mode; through a symbolic link, its target is
    written). As a context manager it commits on success and removes the temporary file on any error
    or signal, so a failed run leaves nothing half-written. ``subtype`` (e.g. ``PCM_16``) is kept
    where the format allows it."""

    def __init__(self, path: Path, sample_rate_hz: int, channels: int, subtype: str | None = None) -> None:
        self.path = Path(path).resolve()
        check_writable_format(self.path)
        file_format = self.path.suffix.lstrip(".").upper()
        if subtype is not None and not sf.check_format(file_format, subtype):
            subtype = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        os.close(handle)
        self._tmp = Path(tmp_name)
        try:
            self._file = sf.SoundFile(tmp_name, "w", sample_rate_hz, channels, subtype, format=file_format)
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
        self._file.write(np.ascontiguousarray(block.T))
        self.frames += block.shape[1]

    def commit(self) -> None:
        try:
            self._file.close()
            keep_file_mode(self._tmp, self.path)
            os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


def write_audio(path: Path, samples: np.ndarray, sample_rate_hz: int, subtype: str | None = None) -> None:
    """Write ``(channels, frames)`` atomically (see :class:`AudioSink`)."""
    with AudioSink(path, sample_rate_hz, samples.shape[0], subtype) as sink:
        sink.write(samples)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``path.part``, renamed only when complete; on any failure
    (a full disk, a signal) the ``.part`` file is removed."""
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def keep_file_mode(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the mode of the file it replaces, or a new file's mode if there is none."""
    if target.exists():
        tmp.chmod(stat.S_IMODE(target.stat().st_mode))
    else:
        give_default_file_mode(tmp)


def check_output_place(output: Path, source: Path, outputs: int = 1) -> None:
    """Fail before any work if ``output`` could not be written: an unknown format, the ``source`` file
    itself, a folder that is not writable, or less free space than ``outputs`` files the size of
    ``source`` (an output keeps its input's format)."""
    check_writable_format(output)
    target = Path(output).resolve()
    if target == Path(source).resolve():
        raise AudioFileError(f"refusing to overwrite the input {output}: choose another output file")
    size_bytes = outputs * (Path(source).stat().st_size if Path(source).is_file() else 0)
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    try:  # the real test: permissions, read-only mounts and special file systems alike
        handle, probe = tempfile.mkstemp(prefix=".lass-probe.", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise AudioFileError(f"cannot write {output}: the folder {folder} is not writable ({error.strerror})") from None
    free = shutil.disk_usage(folder).free
    if free < size_bytes:
        raise AudioFileError(f"cannot write {output}: {free / 1e6:.0f} MB free in {folder}, about {size_bytes / 1e6:.0f} MB needed")


def give_default_file_mode(path: Path) -> None:
    """The mode a newly created file gets (0o666 less the umask): temporary files (``mkstemp``,
    safetensors) are created readable by the owner only."""
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """High-quality resampling of ``(channels, frames)`` with soxr; identity when rates match."""
    if from_hz == to_hz:
        return samples
    return np.ascontiguousarray(soxr.resample(samples.T, from_hz, to_hz, quality=RESAMPLER_QUALITY).T)


def stream_resampler(from_hz: int, to_hz: int, channels: int) -> soxr.ResampleStream | None:
    """soxr's streaming resampler of ``channels`` float32 channels (None when rates match): fed in
    chunks, it returns what :func:`resample` returns for the whole signal."""
    if from_hz == to_hz:
        return None
    return soxr.ResampleStream(from_hz, to_hz, channels, dtype="float32", quality=RESAMPLER_QUALITY)
