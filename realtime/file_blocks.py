"""A file standing in for a microphone: its samples handed out block by block, in the audio callback."""

from __future__ import annotations

import numpy as np


class FileBlocks:
    """``(frames,)`` float32 samples read out in blocks of any size, looped or followed by silence;
    allocates nothing per block."""

    def __init__(self, samples: np.ndarray, loop: bool = True) -> None:
        self.samples = samples.astype(np.float32)
        self.loop = loop
        self.position = 0  # samples handed out so far

    def read_into(self, block: np.ndarray) -> None:
        """Fill ``block`` with the next ``len(block)`` samples."""
        filled = 0
        while filled < len(block):
            start = self.position % len(self.samples) if self.loop else self.position
            piece = self.samples[start : start + len(block) - filled]
            if not len(piece):  # past the end, not looping: silence
                block[filled:] = 0.0
                self.position += len(block) - filled
                return
            block[filled : filled + len(piece)] = piece
            filled += len(piece)
            self.position += len(piece)
