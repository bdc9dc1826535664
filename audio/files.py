"""Audio files in and out, and sample-rate conversion for everything that is not the model.

Arrays are ``(channels, samples)`` float32 in [-1, 1]. Writes are atomic: a temporary file in the
target folder, renamed over the target only when complete, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

MIN_SAMPLE_RATE_HZ = 4_000
MAX_SAMPLE_RATE_HZ = 768_000


class AudioFileError(Exception):
    """An audio file could not be read or written; the message names the file and the problem."""


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio: ``samples`` is ``(channels, frames)`` float32."""

    samples: np.ndarray
    sample_rate_hz: int
    subtype: str | None = None


def read_audio(path: Path, repair_nonfinite: bool = False) -> AudioClip:
    """Decode any format libsndfile reads. Empty files and unusable sample rates are refused, and so
    are NaN or infinite samples (a float file can hold them) unless ``repair_nonfinite`` makes them
    silence."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"input file not found: {path}")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        subtype = sf.info(path).subtype
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioFileError(f"cannot read {path} as audio: {error}") from error
    if data.shape[0] == 0:
        raise AudioFileError(f"{path} contains no audio (zero samples)")
    check_sample_rate(rate, path)
    samples = np.ascontiguousarray(data.T)
    bad = ~np.isfinite(samples)
    if bad.any():
        if not repair_nonfinite:
            channel, frame = np.argwhere(bad)[np.argmin(np.nonzero(bad)[1])]
            raise AudioFileError(
                f"{path}: {int(bad.sum())} samples are NaN or infinite, the first at {frame / rate:.3f} s "
                f"(channel {channel + 1}); repair the file, or pass --repair-nonfinite to make them silence"
            )
        samples[bad] = 0.0
    return AudioClip(samples, int(rate), subtype)


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


def write_audio(path: Path, samples: np.ndarray, sample_rate_hz: int, subtype: str | None = None) -> None:
    """Write ``(channels, frames)`` atomically; ``subtype`` (e.g. ``PCM_16``) is kept where valid."""
    path = Path(path).resolve()  # through a symbolic link: its target is written, the link stays
    check_writable_format(path)
    file_format = path.suffix.lstrip(".").upper()
    if subtype is not None and not sf.check_format(file_format, subtype):
        subtype = None
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        sf.write(tmp_name, np.ascontiguousarray(samples.T), sample_rate_hz, subtype=subtype, format=file_format)
        keep_file_mode(Path(tmp_name), path)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


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
    return np.ascontiguousarray(soxr.resample(samples.T, from_hz, to_hz, quality="HQ").T)
