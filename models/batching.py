"""One separation network shared by the threads that separate several files at once.

Each file's thread calls :meth:`BatchingNet.separate` for its next segment and waits. When every
thread that is still working waits for a segment, the waiting segments of one length go through the
network as one batch (their rows and FiLM offsets concatenated), and each thread gets its rows back.
A GPU then runs one pass for many files; meanwhile the threads' decoding, resampling and writing
(libsndfile, soxr and NumPy release the GIL) overlap the network. Every row of a pass depends on its
own input and offsets only; the batch changes its numbers by float32 rounding (measured: 5e-8 at
most, as the kernels' summation order depends on the batch size).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from models.errors import SeparationStopped
from models.resunet import FilmOffsets, ResUNet30


@dataclass
class _Segment:
    """One caller's rows: ``mixture`` ``(rows, 1, samples)`` and offsets of ``rows`` rows; or, with
    ``excluded`` set, one mixture and the conditions of one combined output (a pass by itself)."""

    mixture: torch.Tensor
    film: FilmOffsets
    excluded: int | None = None
    output: torch.Tensor | tuple[torch.Tensor, ...] | None = None
    error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.output is not None or self.error is not None


class BatchingNet:
    """``net``'s :meth:`separate`, safe to call from several threads, batching the calls that wait
    together. Threads that take part are counted with :meth:`add_worker` (a call from a thread that is
    not counted runs as soon as no pass is running). Passes run one at a time."""

    def __init__(self, net: ResUNet30) -> None:
        self.net = net
        self._changed = threading.Condition()
        self._workers = 0
        self._waiting: list[_Segment] = []
        self._running = False
        self.stopped = False
        self.passes = 0  # forward passes run (each of one or more segments)

    @property
    def device(self) -> torch.device:
        return self.net.device

    def add_worker(self) -> None:
        """One more thread will ask for segments until :meth:`remove_worker`: a batch waits for it."""
        with self._changed:
            self._workers += 1

    def remove_worker(self) -> None:
        """A thread that asks for no more segments (its work is done, or failed)."""
        with self._changed:
            self._workers -= 1
            self._changed.notify_all()

    def stop(self) -> None:
        """From now on every call, waiting or new, raises :class:`SeparationStopped` (a pass under way ends first)."""
        with self._changed:
            self.stopped = True
            self._changed.notify_all()

    def separate(self, mixture: torch.Tensor, film: FilmOffsets) -> torch.Tensor:
        """``(rows, 1, samples)`` + offsets of ``rows`` rows -> ``(rows, 1, samples)``, as ``net.separate``."""
        return self._wait_for(_Segment(mixture, film))

    def separate_combined(self, mixture: torch.Tensor, film: FilmOffsets, excluded: int = 0) -> tuple[torch.Tensor, ...]:
        """``net.separate_combined``, in a pass by itself (its conditions make one output, not rows)."""
        return self._wait_for(_Segment(mixture, film, excluded))

    def _wait_for(self, segment: _Segment) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Queue ``segment``; run passes while every worker waits, until this one is done."""
        with self._changed:
            self._waiting.append(segment)
            self._changed.notify_all()
            while not segment.done:
                if self.stopped:
                    self._waiting = [s for s in self._waiting if s is not segment]
                    raise SeparationStopped("the separation was stopped")
                if self._running or len(self._waiting) < self._workers:
                    self._changed.wait()
                    continue
                batch = self._take_batch()
                self._running = True
                self._changed.release()
                try:
                    self._run(batch)
                finally:
                    self._changed.acquire()
                    self._running = False
                    self._changed.notify_all()
        if segment.error is not None:
            raise segment.error
        return segment.output

    def _take_batch(self) -> list[_Segment]:
        """The first waiting segment, with the plain ones as long as it if it is plain."""
        first = self._waiting[0]
        if first.excluded is not None:
            batch = [first]
        else:
            batch = [s for s in self._waiting if s.excluded is None and s.mixture.shape[-1] == first.mixture.shape[-1]]
        self._waiting = [s for s in self._waiting if all(s is not taken for taken in batch)]
        return batch

    def _run(self, batch: list[_Segment]) -> None:
        """One pass over ``batch``; each segment gets its rows, or the error of the pass."""
        try:
            if batch[0].excluded is not None:
                batch[0].output = self.net.separate_combined(batch[0].mixture, batch[0].film, batch[0].excluded)
                return
            mixture = torch.cat([s.mixture for s in batch])
            film = {path: torch.cat([s.film[path] for s in batch]) for path in batch[0].film}
            output = self.net.separate(mixture, film)
        except BaseException as error:  # every waiting caller hears of it, in its own thread
            for segment in batch:
                segment.error = error
            return
        finally:
            self.passes += 1
        start = 0
        for segment in batch:
            rows = segment.mixture.shape[0]
            segment.output, start = output[start : start + rows], start + rows
