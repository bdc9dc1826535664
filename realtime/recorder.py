"""Recording the engine's input and output to WAV files, on a thread of its own.

The recorder follows the rings: the output is what the callback played (fallbacks included), the
input is taken ``latency`` samples earlier, so the two files line up sample for sample (output sample
``k`` is the processing of input sample ``k``). Files are written atomically (``audio.files.AudioSink``)
and appear when recording stops; each recording gets names of its own, so none replaces another.
Temporary files that a killed app left in the folder are removed when the next recording starts.
A write that fails (a full disk, a file size limit) ends the recording with ``error`` saying why;
what was written until then is kept and published when the recording stops.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from audio.files import AudioSink
from audio.places import remove_stale_parts
from realtime.engine import Engine
from realtime.ring import SampleRing

POLL_S = 0.05


@dataclass
class _Track:
    """One file following one ring, ``offset_samples`` behind what the callback has played."""

    ring: SampleRing
    sink: AudioSink
    offset_samples: int
    position: int  # the next ring sample to write


def recording_paths(folder: Path, started: datetime) -> tuple[Path, Path]:
    """``lass-<date>_<time>-output.wav`` and ``-input.wav`` in ``folder``, with ``-2``, ``-3``... added
    if a recording of that second exists already."""
    stem = f"lass-{started:%Y-%m-%d_%H-%M-%S}"
    names, count = (f"{stem}-output.wav", f"{stem}-input.wav"), 1
    while any((folder / name).exists() for name in names):
        count += 1
        names = (f"{stem}-{count}-output.wav", f"{stem}-{count}-input.wav")
    return folder / names[0], folder / names[1]


class Recorder:
    """Records what the callback played to ``output_path`` and, if given, the input to ``input_path``."""

    def __init__(self, engine: Engine, output_path: Path, input_path: Path | None = None) -> None:
        self.engine = engine
        remove_stale_parts(Path(output_path).parent)  # what a killed app left of its last recording
        self.started_s = time.monotonic()
        start = engine.played_ring.written
        rate = engine.settings.device_rate_hz
        sources = [(engine.played_ring, output_path, 0), (engine.input_ring, input_path, -engine.latency_samples)]
        self._tracks = [
            _Track(ring, AudioSink(path, rate, 1, "FLOAT"), offset, start + offset)
            for ring, path, offset in sources
            if path is not None
        ]
        self.paths = [track.sink.path for track in self._tracks]
        self.error: str | None = None
        self._running = True
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started_s

    def _run(self) -> None:
        try:
            while self._running:
                self._drain()
                time.sleep(POLL_S)
            self._drain()
        except Exception as error:  # kept for the owner, who shows it; the files keep what was written
            self.error = f"recording stopped after {self.seconds:.1f} s: {error} (is the disk full?)"

    def _drain(self) -> None:
        played = self.engine.played_ring.written
        for track in self._tracks:
            limit = played + track.offset_samples
            if limit > track.position:
                block = np.zeros(limit - track.position, dtype=np.float32)
                track.ring.read_into(block, track.position)
                try:
                    track.sink.write(block[None])
                except Exception as error:
                    raise OSError(f"{track.sink.path}: {error}") from error
                track.position = limit

    def stop(self) -> list[Path]:
        """Finish, close and publish the files (what was written before any failure); returns their paths."""
        self._running = False
        self._thread.join()
        for track in self._tracks:
            track.sink.commit()
        return self.paths
