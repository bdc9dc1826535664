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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import soundfile as sf

from audio.files import AudioFileError
from audio.places import OutputPlaceError, check_output_place, output_is_complete, write_atomically
from models.config import MODES
from models.errors import ModelLoadingError, NonFiniteOutput, SeparationStopped, UserError
from models.queries import QuerySet, parse_query

if TYPE_CHECKING:  # nothing heavy at import: the lass parser asks is_batch before torch loads
    import torch

    from models.block_separation import Combination
    from models.separator import Mode, Separator

LOG_NAME = "lass-separate.json"
AUDIO_SUFFIXES = frozenset("." + name.lower() for name in sf.available_formats())
GLOB_CHARACTERS = frozenset("*?[")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
MANIFEST_FIELDS = ("path", "query", "mode", "output")

# What one file can get wrong (unreadable, no room for its output, a bad query or condition, a
# diverged output): said on its line, and the run goes on. Anything else (out of memory, a bug) is
# no file's fault: it ends the run with its traceback.
PER_FILE_ERRORS = (AudioFileError, OutputPlaceError, NonFiniteOutput, ModelLoadingError, UserError, OSError)


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


def collect_jobs(
    inputs: list[str], out_dir: Path, name_outputs: Callable[[Path], list[Path]], inputs_anywhere: bool = False,
) -> list[Job]:
    """The files behind ``inputs`` and where their outputs go: a folder's files (recursively, audio
    extensions only) keep their path below it, a file or a glob match goes to the top of ``out_dir``.
    ``name_outputs`` turns one output path into one per query. A manifest's inputs stay inside its
    folder unless ``inputs_anywhere``; every output stays inside ``out_dir``.

    Raises :class:`UserError`, before any work, for an input that names nothing, an ``out_dir`` that is,
    or lies inside, an input folder (the outputs would become inputs), an output that would replace
    an input, and two inputs that would write the same output."""
    for name in inputs:
        if Path(name).is_dir() and _inside(out_dir, Path(name)):
            raise UserError(
                f"-o {out_dir} is inside the input folder {name}: the outputs would mix with the inputs "
                "(and be taken as inputs by the next run); write them to a folder outside it"
            )
    jobs, owners = [], {}
    for name in inputs:
        rows = _manifest_jobs(Path(name), out_dir, name_outputs, inputs_anywhere) if is_manifest(name) else [
            Job(source, tuple(name_outputs(out_dir / relative))) for source, relative in _files(name)
        ]
        for job in rows:
            for output in job.outputs:
                if output in owners:
                    raise UserError(f"{job.source} and {owners[output]} would both write {output}: give them different names")
                owners[output] = job.source
            jobs.append(job)
    sources = {job.source.resolve(): job.source for job in jobs}
    for output, owner in owners.items():
        if output.resolve() in sources:
            raise UserError(f"the output of {owner} would replace the input {sources[output.resolve()]}: write to another folder with -o")
    return jobs


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (links resolved)."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def _manifest_jobs(
    manifest: Path, out_dir: Path, name_outputs: Callable[[Path], list[Path]], inputs_anywhere: bool,
) -> list[Job]:
    """A manifest's rows as jobs: ``path`` (relative to the manifest's folder), and optionally ``query``
    (one output of that query), ``mode``, and ``output`` (relative to ``out_dir``; default: ``path``'s
    below the manifest's folder)."""
    jobs = []
    for number, row in enumerate(_manifest_rows(manifest), 1):
        where = f"{manifest}, row {number}"
        try:
            source, default_output = _row_source(manifest, row["path"], inputs_anywhere)
            output = _row_output(out_dir, row.get("output") or default_output)
            query = parse_query(row["query"]) if row.get("query") else None
        except UserError as error:
            raise UserError(f"{where}: {error}") from None
        jobs.append(Job(source, (output,) if query is not None else tuple(name_outputs(output)), query, row.get("mode") or None))
    return jobs


def _manifest_rows(manifest: Path) -> list[dict[str, str | None]]:
    """The rows of a CSV (with a header) or JSONL manifest, each checked to hold a ``path`` and only
    text in the known fields."""
    if not manifest.is_file():
        raise UserError(f"manifest not found: {manifest}")
    try:
        if manifest.suffix.lower() == ".csv":
            with open(manifest, newline="") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError, RecursionError) as error:
        raise UserError(f"{manifest} is not a readable manifest: {error}") from None
    except OSError as error:
        raise UserError(f"cannot read the manifest {manifest}: {error.strerror}") from None
    for number, row in enumerate(rows, 1):
        where = f"{manifest}, row {number}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: a row is an object of path, query, mode, output, not {type(row).__name__}")
        if None in row:
            raise UserError(f"{where}: more fields than the header names ({len(row) - 1 + len(row[None])}); quote values that hold commas")
        unknown = set(row) - set(MANIFEST_FIELDS)
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}; a row has {', '.join(MANIFEST_FIELDS)}")
        wrong = [name for name, value in row.items() if value is not None and not isinstance(value, str)]
        if wrong:
            raise UserError(f"{where}: {wrong[0]} must be text, not {json.dumps(row[wrong[0]])}")
        if not row.get("path"):
            raise UserError(f"{where}: every row needs a 'path'")
        if row.get("mode") and row["mode"] not in MODES:
            raise UserError(f"{where}: mode must be isolate or remove, not {row['mode']!r}")
    return rows


def _row_source(manifest: Path, path: str, inputs_anywhere: bool) -> tuple[Path, Path]:
    """A row's input file, and its default output path below ``-o``: its path below the manifest's
    folder, or its name for a file elsewhere. Outside that folder only with ``inputs_anywhere``."""
    folder = manifest.parent
    source = folder / path  # an absolute path stays itself
    if _inside(source, folder):
        return source, source.resolve().relative_to(folder.resolve())
    if not inputs_anywhere:
        raise UserError(
            f"input {path} is outside the manifest's folder {folder}; inputs are refused there unless "
            "you pass --inputs-anywhere"
        )
    return source, Path(source.name)


def _row_output(out_dir: Path, output: str | Path) -> Path:
    """A row's output below ``out_dir``; refused if it would be written anywhere else."""
    target = out_dir / output
    if Path(output).is_absolute() or not _inside(target, out_dir) or target.resolve() == out_dir.resolve():
        raise UserError(f"output {output} is not a file inside -o {out_dir}; give a path relative to it, without ..")
    return target


def _files(name: str) -> list[tuple[Path, Path]]:
    """``(file, its path below the output folder)`` for one input argument."""
    path = Path(name)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        return [(p, p.relative_to(path)) for p in found]
    if GLOB_CHARACTERS & set(name):
        matches = sorted(Path(p) for p in glob.glob(name, recursive=True) if Path(p).is_file())
        if not matches:
            raise UserError(f"no files match {name}")
        return [(p, Path(p.name)) for p in matches]
    if not path.is_file():
        raise UserError(f"input not found: {path}")
    return [(path, Path(path.name))]


@dataclass
class BatchReport:
    separated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    audio_s: float = 0.0
    wall_s: float = 0.0
    passes: int = 0  # the network's forward passes: fewer than segments where files shared them
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM: the files not listed were not separated

    def summary(self) -> str:
        speed = f", {self.audio_s / self.wall_s:.1f}x real time" if self.wall_s > 0 and self.audio_s else ""
        stopped = "interrupted: " if self.interrupted else ""
        return (
            f"{stopped}separated {len(self.separated)}, skipped {len(self.skipped)} (already done), failed {len(self.failed)}; "
            f"{self.audio_s / 3600:.3f} h of audio in {self.wall_s:.1f} s{speed}"
        )

    def sort_as(self, jobs: list[Job]) -> None:
        """Lists in the order of ``jobs`` (the workers finish in any order)."""
        order = {str(job.source): i for i, job in enumerate(jobs)}
        self.separated.sort(key=order.__getitem__)
        self.skipped.sort(key=order.__getitem__)
        self.failed = dict(sorted(self.failed.items(), key=lambda item: order[item[0]]))


def run_batch(
    separator: Separator,
    jobs: list[Job],
    conditions_of: Callable[[Job], tuple[torch.Tensor, tuple[Combination, ...]]],
    mode: Mode,
    repair_nonfinite: bool,
    report: BatchReport,
    label: str = "",
    workers: int = 1,
) -> None:
    """Separate every job whose outputs are not all there yet, with the conditions ``conditions_of``
    gives it, in its own mode or ``mode``; ``workers`` files at a time, their segments batched into
    shared passes (:mod:`models.batching`). Each file is reported as it ends (with the hours of audio
    so far and the real-time factor), each line starting with ``label``. On an interrupt, the files
    under way stop at their next segment and leave nothing behind; then the interrupt goes on.
    ``report`` is filled as files end, so that an interrupted run still has one."""
    from models.batching import BatchingNet

    started = time.monotonic()
    batching = BatchingNet(separator.separation_net)
    queue = iter(enumerate(jobs, 1))
    lock = threading.Lock()  # guards the queue, the report and the terminal

    def separate(number: int, job: Job) -> None:
        prefix = f"{label}[{number}/{len(jobs)}] {job.source}"
        if all(output_is_complete(output, job.source) for output in job.outputs):
            with lock:
                report.skipped.append(str(job.source))
                print(f"{prefix}: done already", flush=True)
            return
        if any(output.exists() for output in job.outputs):
            with lock:
                print(f"{prefix}: an output is there but not whole (empty, cut off or another length): separating again", flush=True)
        job_started = time.monotonic()
        try:
            check_output_place(job.outputs[0], job.source, len(job.outputs))
            conditions, combinations = conditions_of(job)
            separator.separate_file(job.source, list(job.outputs), conditions, job.mode or mode, repair_nonfinite,
                                    combinations=combinations, batching=batching)
            seconds = sf.info(str(job.source)).duration
        except PER_FILE_ERRORS as error:
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
        report.wall_s, report.passes = time.monotonic() - started, batching.passes
        report.sort_as(jobs)
    if unexpected:
        raise unexpected[0]


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
    log = {"summary": report.summary(), "interrupted": report.interrupted, "separated": report.separated, "skipped": report.skipped,
           "failed": [{"input": source, "error": error} for source, error in report.failed.items()],
           "audio_s": report.audio_s, "wall_s": report.wall_s, "forward_passes": report.passes}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(log_path, json.dumps(log, indent=1).encode())
