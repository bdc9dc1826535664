"""Separating many files with one model: each file's outputs written atomically (a rerun skips what
is complete), several files at a time with their segments sharing passes (:mod:`models.batching`),
and a file that cannot be separated reported with its reason, never stopping the others. What names
the files (folders, patterns, manifests) is the command line's (:mod:`cli.batch`); progress lines go
to a ``say`` callback.
"""

from __future__ import annotations

import gc
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
from models.errors import ModelLoadingError, NonFiniteOutput, SeparationStopped, UserError
from models.queries import QuerySet

if TYPE_CHECKING:
    import torch

    from models.block_separation import Combination
    from models.separator import Mode, Separator

LOG_NAME = "lass-separate.json"

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


def separate_files(
    separator: Separator,
    jobs: list[Job],
    conditions_of: Callable[[Job], tuple[torch.Tensor, tuple[Combination, ...]]],
    mode: Mode,
    repair_nonfinite: bool,
    report: BatchReport,
    label: str = "",
    workers: int = 1,
    say: Callable[[str], None] = lambda line: None,
) -> None:
    """Separate every job whose outputs are not all there yet, with the conditions ``conditions_of``
    gives it, in its own mode or ``mode``; ``workers`` files at a time, their segments batched into
    shared passes (:mod:`models.batching`). Each file is reported as it ends (with the hours of audio
    so far and the real-time factor) through ``say``, each line starting with ``label``. On an interrupt, the files
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
                say(f"{prefix}: done already")
            return
        if any(output.exists() for output in job.outputs):
            with lock:
                say(f"{prefix}: an output is there but not whole (empty, cut off or another length): separating again")
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
                say(f"{prefix}: FAILED: {error}")
            return
        with lock:
            report.separated.append(str(job.source))
            report.audio_s += seconds
            report.wall_s = time.monotonic() - started
            say(f"{prefix}: {seconds:.1f} s of audio in {time.monotonic() - job_started:.1f} s; "
                f"{report.audio_s / 3600:.3f} h so far, {report.audio_s / report.wall_s:.1f}x real time")

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
