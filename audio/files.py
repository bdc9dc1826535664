"""Audio files in and out, and sample-rate conversion for everything that is not the model.

Arrays are ``(channels, samples)`` float32 in [-1, 1]. Writes are atomic: a temporary file in the
target folder, renamed over the target only when complete, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import os
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


def read_audio(path: Path) -> AudioClip:
    """Decode any format libsndfile reads. Empty files and unusable sample rates are refused."""
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
    return AudioClip(np.ascontiguousarray(data.T), int(rate), subtype)


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
    path = Path(path)
    check_writable_format(path)
    file_format = path.suffix.lstrip(".").upper()
    if subtype is not None and not sf.check_format(file_format, subtype):
        subtype = None
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        sf.write(tmp_name, np.ascontiguousarray(samples.T), sample_rate_hz, subtype=subtype, format=file_format)
        give_default_file_mode(Path(tmp_name))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


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
