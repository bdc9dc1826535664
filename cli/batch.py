"""`lass separate` over many files: folders (recursive), glob patterns, lists of files and manifests
(CSV or JSONL rows of ``path`` and optionally ``query``, ``mode``, ``output``), into an output folder
that mirrors the inputs. The model and the conditions load once; every output is
written atomically, so a rerun skips what is complete; a file that cannot be separated is reported
with its reason (on the terminal and in the folder's JSON log) and never stops the others.
"""

from __future__ import annotations

import csv
import gc
import glob
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import soundfile as sf

from audio.files import AudioFileError, check_output_place, write_atomically
from models.config import MODES
from models.errors import ModelLoadingError, SeparationStopped
from models.queries import QuerySet, parse_query
from realtime.errors import EngineFailure

if TYPE_CHECKING:  # nothing heavy at import: the lass parser asks is_batch before torch loads
    import torch

    from models.block_separation import Combination
    from models.separator import Mode, Separator

LOG_NAME = "lass-separate.json"
AUDIO_SUFFIXES = frozenset("." + name.lower() for name in sf.available_formats())
GLOB_CHARACTERS = frozenset("*?[")
MANIFEST_SUFFIXES = (".csv", ".jsonl")


@dataclass(frozen=True)
class Job:
    """One input file and its outputs: one per query of the command, or the one of its manifest row's
    own ``query`` (then ``mode`` too, if the row gives one)."""

    source: Path
    outputs: tuple[Path, ...]
    query: str | QuerySet | None = None
    mode: str | None = None


def is_manifest(name: str) -> bool:
    return Path(name).suffix.lower() in MANIFEST_SUFFIXES


def is_batch(inputs: list[str]) -> bool:
    """Several inputs, a folder, a glob pattern or a manifest: the output is a folder."""
    return len(inputs) > 1 or any(Path(name).is_dir() or GLOB_CHARACTERS & set(name) or is_manifest(name) for name in inputs)


def collect_jobs(inputs: list[str], out_dir: Path, name_outputs: Callable[[Path], list[Path]]) -> list[Job]:
    """The files behind ``inputs`` and where their outputs go: a folder's files (recursively, audio
    extensions only) keep their path below it, a file or a glob match goes to the top of ``out_dir``.
    ``name_outputs`` turns one output path into one per query. Raises ``ValueError`` for an input that
    names nothing, and for two inputs that would write the same output."""
    jobs, owners = [], {}
    for name in inputs:
        rows = _manifest_jobs(Path(name), out_dir, name_outputs) if is_manifest(name) else [
            Job(source, tuple(name_outputs(out_dir / relative))) for source, relative in _files(name)
        ]
        for job in rows:
            for output in job.outputs:
                if output in owners:
                    raise ValueError(f"{job.source} and {owners[output]} would both write {output}: give them different names")
                owners[output] = job.source
            jobs.append(job)
    return jobs


def _manifest_jobs(manifest: Path, out_dir: Path, name_outputs: Callable[[Path], list[Path]]) -> list[Job]:
    """A manifest's rows as jobs: ``path`` (relative to the manifest's folder), and optionally ``query``
    (one output of that query), ``mode``, and ``output`` (relative to ``out_dir``; default: ``path``'s)."""
    if not manifest.is_file():
        raise ValueError(f"manifest not found: {manifest}")
    try:
        if manifest.suffix.lower() == ".csv":
            with open(manifest, newline="") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{manifest} is not a readable manifest: {error}") from error
    jobs = []
    for number, row in enumerate(rows, 1):
        where = f"{manifest}, row {number}"
        if not isinstance(row, dict) or not row.get("path"):
            raise ValueError(f"{where}: every row needs a 'path'")
        unknown = set(row) - {"path", "query", "mode", "output"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; a row has path, query, mode, output")
        mode = row.get("mode") or None
        if mode is not None and mode not in MODES:
            raise ValueError(f"{where}: mode must be isolate or remove, not {mode!r}")
        relative = Path(row["path"])
        source = relative if relative.is_absolute() else manifest.parent / relative
        try:
            query = parse_query(row["query"]) if row.get("query") else None
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        output = out_dir / (row.get("output") or (relative.name if relative.is_absolute() else relative))
        jobs.append(Job(source, (output,) if query is not None else tuple(name_outputs(output)), query, mode))
    return jobs


def _files(name: str) -> list[tuple[Path, Path]]:
    """``(file, its path below the output folder)`` for one input argument."""
    path = Path(name)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        return [(p, p.relative_to(path)) for p in found]
    if GLOB_CHARACTERS & set(name):
        matches = sorted(Path(p) for p in glob.glob(name, recursive=True) if Path(p).is_file())
        if not matches:
            raise ValueError(f"no files match {name}")
        return [(p, Path(p.name)) for p in matches]
    if not path.is_file():
        raise ValueError(f"input not found: {path}")
    return [(path, Path(path.name))]


@dataclass
class BatchReport:
    separated: list[str]
    skipped: list[str]
    failed: dict[str, str]
    audio_s: float = 0.0
    wall_s: float = 0.0
    passes: int = 0  # the network's forward passes: fewer than segments where files shared them

    def summary(self) -> str:
        speed = f", {self.audio_s / self.wall_s:.1f}x real time" if self.wall_s > 0 and self.audio_s else ""
        return (
            f"separated {len(self.separated)}, skipped {len(self.skipped)} (already done), failed {len(self.failed)}; "
            f"{self.audio_s / 3600:.3f} h of audio in {self.wall_s:.1f} s{speed}"
        )


def run_batch(
    separator: Separator,
    jobs: list[Job],
    conditions_of: Callable[[Job], tuple[torch.Tensor, tuple[Combination, ...]]],
    mode: Mode,
    repair_nonfinite: bool,
    label: str = "",
    workers: int = 1,
) -> BatchReport:
    """Separate every job whose outputs are not all there yet, with the conditions ``conditions_of``
    gives it, in its own mode or ``mode``; ``workers`` files at a time, their segments batched into
    shared passes (:mod:`models.batching`). Each file is reported as it ends (with the hours of audio
    so far and the real-time factor), each line starting with ``label``. On an interrupt, the files
    under way stop at their next segment and leave nothing behind; then the interrupt goes on."""
    from models.batching import BatchingNet

    report = BatchReport([], [], {})
    started = time.monotonic()
    batching = BatchingNet(separator.separation_net)
    queue = iter(enumerate(jobs, 1))
    lock = threading.Lock()  # guards the queue, the report and the terminal

    def separate(number: int, job: Job) -> None:
        prefix = f"{label}[{number}/{len(jobs)}] {job.source}"
        if all(output.is_file() for output in job.outputs):
            with lock:
                report.skipped.append(str(job.source))
                print(f"{prefix}: done already", flush=True)
            return
        job_started = time.monotonic()
        try:
            check_output_place(job.outputs[0], job.source, len(job.outputs))
            conditions, combinations = conditions_of(job)
            separator.separate_file(job.source, list(job.outputs), conditions, job.mode or mode, repair_nonfinite,
                                    combinations=combinations, batching=batching)
            seconds = sf.info(str(job.source)).duration
        except (AudioFileError, ModelLoadingError, ValueError, EngineFailure, RuntimeError, OSError) as error:
            with lock:
                report.failed[str(job.source)] = str(error)
                print(f"{prefix}: FAILED: {error}", flush=True)
            return
        with lock:
            report.separated.append(str(job.source))
            report.audio_s += seconds
            report.wall_s = time.monotonic() - started
            print(f"{prefix}: {seconds:.1f} s of audio in {time.monotonic() - job_started:.1f} s; "
                  f"{report.audio_s / 3600:.3f} h so far, {report.audio_s / report.wall_s:.1f}x real time", flush=True)

    unexpected: list[BaseException] = []  # a failure that is no file's fault ends the run, in the caller

    def work() -> None:
        try:
            while not batching.stopped:
                with lock:
                    number, job = next(queue, (0, None))
                if job is None:
                    return
                separate(number, job)
        except SeparationStopped:
            return
        except BaseException as error:
            unexpected.append(error)
            batching.stop()
        finally:
            batching.remove_worker()

    threads = [threading.Thread(target=work, name=f"lass-separate-{i}") for i in range(workers)]
    for thread in threads:
        batching.add_worker()  # counted before it starts: the first pass waits for every worker
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        batching.stop()  # an interrupt: the files under way raise SeparationStopped at their next segment
        for thread in threads:
            thread.join()
        _wait_for_native_ends(threads)
        gc.collect()  # a stopped file's traceback cycles hold its resamplers: free them now, not at interpreter exit
    if unexpected:
        raise unexpected[0]
    report.wall_s, report.passes = time.monotonic() - started, batching.passes
    order = {str(job.source): i for i, job in enumerate(jobs)}
    report.separated.sort(key=order.__getitem__)
    report.skipped.sort(key=order.__getitem__)
    report.failed = dict(sorted(report.failed.items(), key=lambda item: order[item[0]]))
    return report


TASKS = Path("/proc/self/task")  # one entry per thread of this process, by native id (Linux)
THREAD_END_TIMEOUT_S = 5.0


def _wait_for_native_ends(threads: list[threading.Thread], timeout_s: float = THREAD_END_TIMEOUT_S) -> None:
    """Wait until joined ``threads`` are gone natively too. A joined Python thread is still ending (its
    thread-local destructors let go of the OpenMP thread team it made), and a process that exits
    meanwhile aborts: "terminate called without an active exception", or a segmentation fault,
    measured on interrupted runs that exited at once."""
    deadline = time.monotonic() + timeout_s
    while any((TASKS / str(t.native_id)).exists() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.001)


def write_log(report: BatchReport, log_path: Path) -> None:
    """The run's JSON log (summary, separated, skipped, failed with reasons), written atomically."""
    log = {"summary": report.summary(), "separated": report.separated, "skipped": report.skipped,
           "failed": [{"input": source, "error": error} for source, error in report.failed.items()],
           "audio_s": report.audio_s, "wall_s": report.wall_s, "forward_passes": report.passes}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(log_path, json.dumps(log, indent=1).encode())
