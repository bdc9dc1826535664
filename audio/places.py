"""Where outputs go: checked before any work, written atomically, recognised when whole, and the
temporary files of killed runs cleared away.

Every output is first written to a temporary file beside it, ``.<name>.<pid>.<random>.part``, and
renamed over the target only when complete. The pid in the name says which process owns it: a
temporary file whose process is gone (killed before it could clean up) is stale, and
:func:`remove_stale_parts` removes it at the next run on that folder.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

import soundfile as sf

PART_SUFFIX = ".part"
PART_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.part$")
HEADER_ALLOWANCE_BYTES = 64 * 1024  # headers, chunks and tags an output may add to its samples
BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
COMPRESSED_BYTES_PER_SECOND = 40_000  # per channel: above the highest bit rates of Vorbis, Opus and MP3
START_TIME_SLACK_S = 1.0  # the kernel's boot time is in whole seconds
# The formats people ask for, as this libsndfile writes them (MP3 since libsndfile 1.1).
_WRITABLE = [f".{name.lower()}" for name in ("WAV", "FLAC", "OGG", "MP3") if name in sf.available_formats()]
WRITABLE_EXAMPLES = f"{', '.join(_WRITABLE[:-1])} or {_WRITABLE[-1]}"


class OutputPlaceError(Exception):
    """An output cannot be written where it was asked for; the message names it and what to do."""


def temporary_beside(path: Path) -> Path:
    """A new empty file ``.<name>.<pid>.<random>.part`` in ``path``'s folder (mode 0600), owned by this process."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=PART_SUFFIX, dir=path.parent)
    os.close(handle)
    return Path(name)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, renamed only when complete; on
    any failure (a full disk, a signal) the temporary file is removed and :class:`OutputPlaceError`
    (or the interrupt) is raised."""
    path = Path(path)
    try:
        tmp = temporary_beside(path)
    except OSError as error:
        raise OutputPlaceError(f"cannot write {path}: {error.strerror}") from None
    try:
        tmp.write_bytes(data)
        keep_file_mode(tmp, path)
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise write_failure(path, error) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_parts(folder: Path, recursive: bool = False) -> list[Path]:
    """Remove the temporary files in ``folder`` (and below, if ``recursive``) whose owning process is
    gone; returns them. Those of running processes, this one's included, are left alone."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    candidates = folder.rglob(f".*{PART_SUFFIX}") if recursive else folder.glob(f".*{PART_SUFFIX}")
    removed = []
    for path in candidates:
        match = PART_NAME.match(path.name)
        try:
            if match is None or not path.is_file() or _owner_alive(int(match["pid"]), path.stat().st_mtime):
                continue
            path.unlink()
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
        removed.append(path)
    return removed


def _owner_alive(pid: int, modified_s: float) -> bool:
    """Whether process ``pid`` runs and could have written a file last modified at ``modified_s``
    (a process that started after it did not: its pid was reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    started_s = _process_start_s(pid)
    return started_s is None or started_s <= modified_s + START_TIME_SLACK_S


def _process_start_s(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None where that is unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot_s = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        return boot_s + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def keep_file_mode(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the mode of the file it replaces, or a new file's mode if there is none."""
    if target.exists():
        tmp.chmod(stat.S_IMODE(target.stat().st_mode))
    else:
        give_default_file_mode(tmp)


def give_default_file_mode(path: Path) -> None:
    """The mode a newly created file gets (0o666 less the umask): temporary files (``mkstemp``,
    safetensors) are created readable by the owner only."""
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)


def check_writable_format(path: Path) -> None:
    """Fail before any work if the output extension is not a format libsndfile writes."""
    extension = Path(path).suffix.lstrip(".").upper()
    if extension not in sf.available_formats():
        raise OutputPlaceError(f"cannot write {path}: unknown audio extension (use {WRITABLE_EXAMPLES})")


def output_subtype(path: Path, subtype: str | None) -> str:
    """The sample format an output at ``path`` gets: ``subtype`` (the input's) where its format
    allows it, else the format's default."""
    file_format = Path(path).suffix.lstrip(".").upper()
    if subtype is not None and sf.check_format(file_format, subtype):
        return subtype
    return sf.default_subtype(file_format)


def estimated_output_bytes(path: Path, frames: int, channels: int, rate_hz: int, subtype: str | None) -> int:
    """About how large an output at ``path`` grows: its own format's size, not its input's (a short
    Ogg input can make a large WAV). Compressed formats are taken at their highest bit rates; FLAC at
    its uncompressed size."""
    written = output_subtype(path, subtype)
    if written in BYTES_PER_SAMPLE:
        samples_bytes = frames * channels * BYTES_PER_SAMPLE[written]
    else:
        samples_bytes = int(frames / rate_hz * channels * COMPRESSED_BYTES_PER_SECOND)
    return samples_bytes + HEADER_ALLOWANCE_BYTES


def check_writable_place(path: Path, size_bytes: int = 0) -> None:
    """Fail before any work if a file could not be written at ``path``: a folder stands there, its
    folder is not writable, or it has less than ``size_bytes`` free."""
    path = Path(path)
    if path.is_dir():
        raise OutputPlaceError(f"cannot write {path}: it is a folder; name a file in it, e.g. {path / 'out.wav'}")
    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OutputPlaceError(f"cannot write {path}: {folder} is a file, not a folder")
    try:  # the real test: permissions, read-only mounts and special file systems alike
        handle, probe = tempfile.mkstemp(prefix=".lass-probe.", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise OutputPlaceError(f"cannot write {path}: the folder {folder} is not writable ({error.strerror})") from None
    free = shutil.disk_usage(folder).free
    if free < size_bytes:
        raise OutputPlaceError(
            f"cannot write {path}: {free / 1e6:.1f} MB free in {folder}, about {size_bytes / 1e6:.1f} MB needed; "
            "free some space or write elsewhere"
        )


def check_output_place(output: Path, source: Path, outputs: int = 1) -> None:
    """Fail before any work if ``output`` could not be written: an unknown format, the ``source`` file
    itself, a folder in its place, a folder that is not writable, or less free space than ``outputs``
    files of ``source``'s length, rate and channels in ``output``'s format take."""
    check_writable_format(output)
    if Path(output).resolve() == Path(source).resolve():
        raise OutputPlaceError(f"refusing to overwrite the input {output}: choose another output file")
    size_bytes = 0  # an input that cannot be read is said when it is opened
    if Path(source).is_file():  # never opened otherwise: a FIFO would block
        try:
            info = sf.info(str(source))
            size_bytes = outputs * estimated_output_bytes(output, info.frames, info.channels, info.samplerate, info.subtype)
        except (sf.LibsndfileError, RuntimeError, OSError):
            pass
    check_writable_place(output, size_bytes)


def output_is_complete(output: Path, source: Path) -> bool:
    """Whether ``output`` is a whole separation of ``source``: a readable audio file with the input's
    rate, channels and length. (An empty or cut-off file from elsewhere is not.)"""
    if not (Path(output).is_file() and Path(source).is_file()):
        return False
    try:
        made, given = sf.info(str(output)), sf.info(str(source))
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False
    return (made.samplerate, made.channels, made.frames) == (given.samplerate, given.channels, given.frames) and made.frames > 0


def write_failure(path: Path, error: BaseException) -> OutputPlaceError:
    """The error to raise when writing ``path`` failed midway (``error``): what happened, and the
    free space left where it was going."""
    reason = getattr(error, "strerror", None) or str(error).strip() or type(error).__name__
    return OutputPlaceError(f"cannot write {path}: {reason}{_free_space_note(Path(path).parent)}")


def _free_space_note(folder: Path) -> str:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    if free < HEADER_ALLOWANCE_BYTES:
        return f"; the disk is full ({free / 1e6:.1f} MB free in {folder}): free some space or write elsewhere"
    return f" ({free / 1e6:.1f} MB free in {folder}; a file-size limit or a full disk?)"
