"""Run the real-time engine on a file: the same callback and worker as live audio, the file standing in
for the sound card. Paced (one block per block duration, as a device would) or as fast as possible
(each block waits until the worker has produced what it will play, so nothing drops).

The output is aligned with the input: the engine's latency is removed, and the length is kept. Audio
goes through in pieces of any size (:class:`EngineFeed`), so a file of any length streams in bounded
memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.files import AudioSink, AudioSource
from models.errors import NonFiniteOutput
from realtime.engine import Engine
from realtime.errors import UnprocessedOutput
from realtime.fallback import FALLBACK_DESCRIPTIONS

DRAIN_POLL_S = 0.0005
PIECE_FRAMES = 8192  # stream_array's input per push: a few device blocks


@contextmanager
def running(engine: Engine) -> Iterator[Engine]:
    """Start the engine's worker for the duration; on leaving, stop it, and raise
    :class:`realtime.engine.EngineFailure` if it stopped on an error."""
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
    engine.check()


class EngineFeed:
    """Feeds a running engine one device block at a time from mono pieces of any size.

    :meth:`push` returns the output so far, aligned with the input (the engine's latency dropped);
    :meth:`finish` plays silence through the latency and returns the rest, so that the output has
    exactly the input's length.
    """

    def __init__(self, engine: Engine, realtime: bool = False) -> None:
        self.engine, self.realtime = engine, realtime
        self.block = engine.settings.block_frames
        self.received = 0  # input frames pushed
        self.fed = 0  # frames given to the engine (whole blocks)
        self.emitted = 0  # output frames returned
        self._pending = np.zeros(0, dtype=np.float32)
        self._out_block = np.zeros(self.block, dtype=np.float32)
        self._started = time.perf_counter()
        # No device buffers a file: what is written is the engine's output exactly its latency late.
        engine.stats.measured_latency_s = engine.latency_s

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Take ``(frames,)`` mono at the engine's device rate; return the output that is ready."""
        self.received += len(samples)
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        whole = len(self._pending) - len(self._pending) % self.block
        out = self._feed(self._pending[:whole])
        self._pending = self._pending[whole:]
        return out

    def finish(self) -> np.ndarray:
        """Silence after the input until the engine has played all of it; the rest of the output."""
        needed = self.received + self.engine.latency_samples - self.fed
        blocks = max(0, -(-needed // self.block))
        tail = np.zeros(blocks * self.block, dtype=np.float32)
        tail[: len(self._pending)] = self._pending
        self._pending = self._pending[:0]
        return self._feed(tail)

    def _feed(self, samples: np.ndarray) -> np.ndarray:
        """Whole blocks through the engine -> their output, less the latency, up to the input's length."""
        engine, latency = self.engine, self.engine.latency_samples
        outputs = []
        for start in range(0, len(samples), self.block):
            if self.realtime:
                time.sleep(max(0.0, self._started + self.fed / engine.settings.device_rate_hz - time.perf_counter()))
            else:
                _wait_for_output(engine, self.fed - latency + self.block, self.fed)
            engine.process_block(samples[start : start + self.block], self._out_block)
            skip = max(0, latency - self.fed)
            self.fed += self.block
            outputs.append(self._out_block[skip:].copy())
        out = np.concatenate(outputs) if outputs else np.zeros(0, dtype=np.float32)
        out = out[: self.received - self.emitted]
        self.emitted += len(out)
        return out


def stream_array(engine: Engine, samples: np.ndarray, realtime: bool = False) -> np.ndarray:
    """Pass ``(frames,)`` mono at the engine's device rate through ``engine``; returns ``(frames,)``.

    Raises :class:`realtime.engine.EngineFailure` if the worker stopped on an error.
    """
    with running(engine):
        feed = EngineFeed(engine, realtime)
        # Pushed in pieces: paced, gathering one output for the whole input would hold the next block
        # back for as long as that copy takes, and a late block is a dropout a sound card would not cause.
        pieces = [feed.push(samples[start : start + PIECE_FRAMES]) for start in range(0, len(samples), PIECE_FRAMES)]
        return np.concatenate(pieces + [feed.finish()])


def _wait_for_output(engine: Engine, needed_position: int, fed: int) -> None:
    """Block until the worker has written up to ``needed_position`` or taken all input fed so far."""
    while engine.output_ring.written < needed_position:
        engine.check()
        if engine.input_ring.written == fed and engine.worker_idle():
            return
        time.sleep(DRAIN_POLL_S)


@dataclass(frozen=True)
class StreamedFile:
    """A file streamed by :func:`stream_file`: the engine of each channel, with its figures."""

    output_path: Path
    duration_s: float
    engines: list[Engine]

    def check_processed(self) -> None:
        """Raise :class:`UnprocessedOutput` if, paced in real time, the worker fell behind and part of
        the written output is the fallback; say how much."""
        rate_hz = self.engines[0].settings.device_rate_hz
        unprocessed_s = max(each.stats.unprocessed_frames for each in self.engines) / rate_hz
        dropouts = sum(each.stats.dropouts for each in self.engines)
        if dropouts:
            raise UnprocessedOutput(
                f"wrote {self.output_path}, but {min(unprocessed_s, self.duration_s):.2f} s of its {self.duration_s:.2f} s "
                f"went out unprocessed ({FALLBACK_DESCRIPTIONS[self.engines[0].fallback]}; {dropouts} dropouts): the "
                "separation could not keep up in real time. Run without --realtime to separate every sample, or choose "
                "a longer hop or --latency-ms"
            )


def stream_file(engine: Engine, source_path: Path, output_path: Path, realtime: bool, repair_nonfinite: bool = False) -> StreamedFile:
    """An audio file through ``engine`` (built for the file's rate), block by block into ``output_path``
    (written atomically: nothing is left if the stream fails). Every channel is kept: each goes
    through an engine of its own (:meth:`Engine.sibling`), all fed together.

    Raises :class:`NonFiniteOutput` (and writes nothing) if the network gave NaN or infinite
    samples, as ``lass separate`` does. Paced in ``realtime``, blocks may drop: see
    :meth:`StreamedFile.check_processed`."""
    with AudioSource(source_path) as source:
        source.check_samples(repair_nonfinite)
        engines = [engine] + [engine.sibling() for _ in range(source.channels - 1)]
        with AudioSink(output_path, source.sample_rate_hz, source.channels, source.subtype) as sink, ExitStack() as workers:
            feeds = [EngineFeed(workers.enter_context(running(each)), realtime) for each in engines]
            for block in source.blocks(repair_nonfinite=repair_nonfinite):
                sink.write(np.stack([feed.push(channel) for feed, channel in zip(feeds, block)]))
            sink.write(np.stack([feed.finish() for feed in feeds]))
            nonfinite = sum(each.stats.nonfinite_samples for each in engines)
            if nonfinite:
                raise NonFiniteOutput(
                    f"the separation of {source_path} gave {nonfinite} NaN or infinite samples: its input or the "
                    "condition is out of the model's range; nothing was written"
                )
        return StreamedFile(Path(output_path), source.frames / source.sample_rate_hz, engines)
