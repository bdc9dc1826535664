"""Single-producer single-consumer ring buffer of float32 samples, indexed by absolute position.

No locks: the writer fills samples, then publishes ``written`` (one integer store, atomic under the
GIL); a reader only reads positions below ``written``. Preallocated once, nothing allocates per call.
Any of the newest ``capacity`` samples can be read again (the callback reads delayed dry audio so).
"""

from __future__ import annotations

import numpy as np


class SampleRing:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.buffer = np.zeros(capacity, dtype=np.float32)
        self.written = 0  # absolute position one past the newest sample
        self.valid_from = 0  # positions before this (skipped by ``seek``) are not readable

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples`` (at most ``capacity``) after the newest position."""
        n = len(samples)
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        self.buffer[start : start + first] = samples[:first]
        self.buffer[: n - first] = samples[first:]
        self.written += n

    def seek(self, position: int) -> None:
        """Writer only: continue writing at ``position`` (ahead); the gap reads as unavailable."""
        self.valid_from = position
        self.written = position

    def read_into(self, out: np.ndarray, position: int) -> int:
        """Copy positions ``[position, position + len(out))`` into ``out``; returns how many were available.

        Positions not yet written, or already overwritten, are left untouched in ``out``.
        """
        n = len(out)
        written = self.written
        begin = max(position, written - self.capacity, self.valid_from)
        end = min(position + n, written)
        if end <= begin:
            return 0
        start = begin % self.capacity
        count = end - begin
        first = min(count, self.capacity - start)
        offset = begin - position
        out[offset : offset + first] = self.buffer[start : start + first]
        out[offset + first : offset + count] = self.buffer[: count - first]
        return count
