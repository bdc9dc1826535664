"""Recording the engine's input and output to WAV files, on a thread of its own.

The recorder follows the rings: the output is what the callback played (fallbacks included), the
input is taken ``latency`` samples earlier, so the two files line up sample for sample (output sample
``k`` is the processing of input sample ``k``). Files are written as ``NAME.part`` and renamed when
recording stops.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from realtime.engine import Engine
from realtime.ring import SampleRing

POLL_S = 0.05


@dataclass
class _Track:
    """One file following one ring, ``offset_samples`` behind what the callback has played."""

    ring: SampleRing
    path: Path
    handle: sf.SoundFile
    offset_samples: int
    position: int  # the next ring sample to write


class Recorder:
    def __init__(self, engine: Engine, output_path: Path, input_path: Path | None = None) -> None:
        self.engine = engine
        start = engine.played_ring.written
        rate = engine.settings.device_rate_hz
        sources = [(engine.played_ring, output_path, 0), (engine.input_ring, input_path, -engine.latency_samples)]
        self._tracks = [
            _Track(ring, path, sf.SoundFile(_part(path), "w", rate, 1, "FLOAT", format="WAV"), offset, start + offset)
            for ring, path, offset in sources
            if path is not None
        ]
        self._running = True
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            self._drain()
            time.sleep(POLL_S)
        self._drain()

    def _drain(self) -> None:
        played = self.engine.played_ring.written
        for track in self._tracks:
            limit = played + track.offset_samples
            if limit > track.position:
                block = np.zeros(limit - track.position, dtype=np.float32)
                track.ring.read_into(block, track.position)
                track.handle.write(block)
                track.position = limit

    def stop(self) -> list[Path]:
        """Finish, close and publish the files; returns their paths."""
        self._running = False
        self._thread.join()
        for track in self._tracks:
            track.handle.close()
            _part(track.path).replace(track.path)
        return [track.path for track in self._tracks]


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")
