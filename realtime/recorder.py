"""Recording the engine's input and output to WAV files, on a thread of its own.

The recorder follows the rings: the output is what the callback played (fallbacks included), the
input is taken ``latency`` samples earlier, so the two files line up sample for sample (output sample
``k`` is the processing of input sample ``k``). Files are written as ``NAME.part`` and renamed when
recording stops.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from realtime.engine import Engine

POLL_S = 0.05


class Recorder:
    def __init__(self, engine: Engine, output_path: Path, input_path: Path | None = None) -> None:
        self.engine = engine
        self.paths = [p for p in (output_path, input_path) if p is not None]
        start = engine.played_ring.written
        offsets = [0, -engine.latency_samples][: len(self.paths)]
        rings = [engine.played_ring, engine.input_ring][: len(self.paths)]
        rate = engine.settings.device_rate_hz
        self._tracks = [
            (ring, sf.SoundFile(_part(path), "w", rate, 1, "FLOAT", format="WAV"), start + offset)
            for ring, path, offset in zip(rings, self.paths, offsets)
        ]
        self._offsets = offsets
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
        for index, (ring, handle, position) in enumerate(self._tracks):
            limit = played + self._offsets[index]
            if limit > position:
                block = np.zeros(limit - position, dtype=np.float32)
                ring.read_into(block, position)
                handle.write(block)
                self._tracks[index] = (ring, handle, limit)

    def stop(self) -> list[Path]:
        """Finish, close and publish the files; returns their paths."""
        self._running = False
        self._thread.join()
        for (_, handle, _), path in zip(self._tracks, self.paths):
            handle.close()
            _part(path).replace(path)
        return self.paths


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")
