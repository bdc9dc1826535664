"""A live session: the model, the engine, the sound-card (or file) stream, the query and recording.

Everything a user interface steers, with no user interface in it: the Qt window (``gui/``) calls these
methods and polls :meth:`LiveSession.status` and :meth:`LiveSession.frames`. Starting (encoding the
query, measuring the hop) and loading a model can happen on helper threads, so that a window never
waits on them; their progress and failures are states (``phase``, ``model_error``). If a model fails
to load, the previous model keeps running.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

import torch

from audio.files import read_mono
from models.config import samples_to_ms
from models.lowlatency import LowLatencyNet
from models.separator import Separator
from models.minilm import NearestSound
from models.queries import Query, describe, excluded_count
from realtime.audio_io import DuplexStream, FileInputStream, find_device
from realtime.assembly import LiveRequest, engine_settings, film_of
from realtime.engine import DEFAULT_BLOCK_FRAMES, Controls, Engine
from realtime.fallback import FALLBACK_DESCRIPTIONS
from realtime.query import QueryUpdater, State
from realtime.recorder import Recorder, recording_paths
from realtime.stats import StatsSnapshot
from realtime.contract import SpectralFrames
from realtime.streaming import runs_cuda_graph
from realtime.virtual_mic import Publisher, VirtualMic, open_client

Phase = Literal["stopped", "starting", "running", "failed"]

# The engine can keep up when a hop takes at most this share of its duration.
KEEP_UP_RTF = 0.8
# The hops a user can choose (auto-tuning picks one of at most the largest: realtime.tuning).
HOP_CHOICES_MS = (50, 100, 200, 400, 800, 1600)
# The engine is "behind" while it has been late (a dropout, a dropped hop) within this long.
BEHIND_WINDOW_S = 2.0
# With the hop on auto, an engine behind this long without a break is restarted at a larger hop.
ADAPT_AFTER_S = 3.0
# A raised hop comes down again, a step at a time, once the load has passed: after this long without
# being late, when its last hops took at most RECOVER_RTF of the smaller hop (a window pass costs
# about the same at any hop), and never below the hop measured at start.
RECOVER_AFTER_S = 10.0
RECOVER_RTF = 0.5
RECENT_HOPS = 8


class RecentLateness:
    """Whether the engine was late within the last :data:`BEHIND_WINDOW_S`: a state that ends once it
    keeps up again (the engine's counters only grow), and since when it has lasted."""

    def __init__(self) -> None:
        self.late_count = 0
        self.last_late_s = -math.inf
        self.since_s: float | None = None  # when the current stretch of being behind began

    def behind(self, late_count: int, now_s: float) -> bool:
        if late_count != self.late_count:
            if self.since_s is None or now_s - self.last_late_s >= BEHIND_WINDOW_S:
                self.since_s = now_s
            self.late_count, self.last_late_s = late_count, now_s
        return now_s - self.last_late_s < BEHIND_WINDOW_S

    def behind_for_s(self, now_s: float) -> float:
        """How long the engine has been behind without a break (0 when it keeps up)."""
        if self.since_s is None or now_s - self.last_late_s >= BEHIND_WINDOW_S:
            return 0.0
        return now_s - self.since_s


@dataclass(frozen=True)
class StreamChoice:
    """Where audio comes from and goes to."""

    input_device: int | None = None
    output_device: int | None = None
    rate_hz: int = 48_000
    block_frames: int = DEFAULT_BLOCK_FRAMES
    input_file: Path | None = None
    hop_ms: float | None = None  # None: measured on this machine (realtime.tuning)
    virtual_mic: str | None = None  # publish the output as this capture source instead of playing it


class LiveSession:
    def __init__(
        self,
        separator: Separator | None,
        model_name: str,
        on_query_state: Callable[[State, Query], None] = lambda state, query: None,
        on_model: Callable[[str, str | None], None] = lambda name, error: None,
    ) -> None:
        self.separator, self.model_name = separator, model_name
        self.on_query_state, self.on_model = on_query_state, on_model
        self.controls = Controls()
        self.query: Query = "speech"
        self.choice: StreamChoice | None = None
        self.engine: Engine | None = None
        self.stream: DuplexStream | FileInputStream | VirtualMic | None = None
        self.updater: QueryUpdater | None = None
        self.recorder: Recorder | None = None
        self.recording_error: str | None = None  # why the last recording stopped early, if it did
        self.model_error: str | None = None
        self.phase: Phase = "stopped"
        self.start_error: str | None = None
        self._starter: threading.Thread | None = None
        self._loader: threading.Thread | None = None
        self._lateness = RecentLateness()
        self.adapted_hop_ms: float | None = None  # the hop keep_up chose, with the hop on auto
        self._measured_hop_ms: float | None = None  # the hop measured at start, with the hop on auto
        self._running_since_s = 0.0
        self.query_match: tuple[Query, NearestSound | None] | None = None  # the last query encoded
        self.adaptation: str | None = None

    @property
    def running(self) -> bool:
        return self.stream is not None

    @property
    def has_own_hop(self) -> bool:
        """True when the model streams at its own frames (the low-latency model): no hop to choose."""
        return self.separator is not None and isinstance(self.separator.separation_net, LowLatencyNet)

    def start(self, choice: StreamChoice) -> None:
        """Open the stream with the current model and query, and return once it runs (raises if it
        cannot). The query is encoded once, here, and the hop measured if ``choice`` leaves it open."""
        self.adapted_hop_ms, self.adaptation = None, None
        self._begin(choice)
        try:
            self._open(choice)
        except Exception as error:
            self.phase, self.start_error = "failed", str(error)
            raise

    def start_in_background(self, choice: StreamChoice) -> None:
        """:meth:`start` on a helper thread, returning at once, for a window that must stay responsive:
        ``phase`` is ``starting`` until the stream runs, then ``running``, or ``failed`` with
        ``start_error``. :meth:`stop` waits for a start under way, then stops it."""
        self.adapted_hop_ms, self.adaptation = None, None
        self._start_thread(choice)

    def keep_up(self) -> None:
        """Called regularly (the window's timer). With the hop on auto, an engine that has been behind
        for :data:`ADAPT_AFTER_S` is restarted in the background at the next larger hop the app offers;
        ``adaptation`` says so; once the load has passed it comes down again, a step at a time, to the
        hop measured at start (:data:`RECOVER_AFTER_S`). A hop the user chose is never changed (the
        warning says what to do), nor the low-latency model's, which is its own."""
        if self.phase != "running" or self.choice is None or self.choice.hop_ms is not None or self.engine is None:
            return
        if isinstance(self.engine.net, LowLatencyNet):
            return
        stats, now_s = self.engine.stats, time.monotonic()
        self._lateness.behind(stats.dropouts + stats.dropped_hops, now_s)
        hop_ms = samples_to_ms(self.engine.settings.stream.hop_samples)
        larger_ms = next_hop_ms(self.engine.settings.stream.hop_samples)
        if self._lateness.behind_for_s(now_s) >= ADAPT_AFTER_S and larger_ms is not None:
            self._restart_at(larger_ms, f"the hop was raised from {hop_ms:.0f} to {larger_ms:.0f} ms to keep up")
        elif (smaller_ms := self._recovered_hop_ms(hop_ms, now_s)) is not None:
            self._restart_at(smaller_ms, f"the hop was lowered from {hop_ms:.0f} to {smaller_ms:.0f} ms: the load has passed")

    def _recovered_hop_ms(self, hop_ms: float, now_s: float) -> float | None:
        """The smaller hop to go back to once a raised hop has kept up, or None (see :meth:`keep_up`)."""
        if self.adapted_hop_ms is None or self._measured_hop_ms is None or hop_ms <= self._measured_hop_ms:
            return None
        if now_s - max(self._lateness.last_late_s, self._running_since_s) < RECOVER_AFTER_S:
            return None
        smaller_ms = max([self._measured_hop_ms, *(choice for choice in HOP_CHOICES_MS if choice < hop_ms)])
        recent_s = self.engine.stats.recent_hop_s(RECENT_HOPS)
        return smaller_ms if recent_s <= RECOVER_RTF * smaller_ms / 1000 else None

    def _restart_at(self, hop_ms: float, adaptation: str) -> None:
        self.adapted_hop_ms, self.adaptation = hop_ms, adaptation
        self._start_thread(self.choice)

    def _begin(self, choice: StreamChoice) -> None:
        """Stop what runs, and enter the starting phase for ``choice``."""
        self.stop()
        self.choice = choice
        self.phase = "starting"

    def _start_thread(self, choice: StreamChoice) -> None:
        self._begin(choice)
        self._starter = threading.Thread(target=self._open_or_fail, args=(choice,), name="session-starter", daemon=True)
        self._starter.start()

    def _open_or_fail(self, choice: StreamChoice) -> None:
        try:
            self._open(choice)
        except Exception as error:  # the session's state, shown by the window
            self.phase, self.start_error = "failed", str(error)

    def _open(self, choice: StreamChoice) -> None:
        """Build the engine, its query helper and the stream; publish them only once all run."""
        if self.separator is None:
            raise RuntimeError(f"no model yet ({self.model_name}): start again once a model has loaded")
        net, query = self.separator.separation_net, self.query
        film = film_of(net, self.embed(query))
        hop_ms = choice.hop_ms if choice.hop_ms is not None else self.adapted_hop_ms
        if choice.virtual_mic is None:  # no server or no device: said at once, not after measuring this machine
            choice = replace(choice, output_device=find_device(choice.output_device, "output"))
            if choice.input_file is None:
                choice = replace(choice, input_device=find_device(choice.input_device, "input"))
        publisher = open_client(choice.virtual_mic) if choice.virtual_mic is not None else None
        if publisher is not None:  # the engine runs at the server's rate and period
            choice = replace(choice, rate_hz=publisher.rate_hz, block_frames=publisher.block_frames)
        engine = updater = audio = None
        try:
            request = LiveRequest(block_frames=choice.block_frames, hop_ms=None if isinstance(net, LowLatencyNet) else hop_ms)
            settings = engine_settings(net, film, choice.rate_hz, request)
            engine = Engine(net, film, settings, self.controls, excluded_count(query))
            updater = QueryUpdater(engine, self.embed, self._query_state)
            updater.active = query
            audio = self._audio_stream(engine, choice, publisher)
            audio.start()
        except BaseException:
            if updater is not None:
                updater.close()
            if engine is not None:
                engine.stop()
            if audio is not None:
                audio.close()
            elif publisher is not None:
                publisher.close()
            raise
        self.engine, self.updater, self.stream = engine, updater, audio
        self._lateness, self._running_since_s = RecentLateness(), time.monotonic()
        if hop_ms is None and not isinstance(net, LowLatencyNet):
            self._measured_hop_ms = samples_to_ms(settings.stream.hop_samples)
        engine.set_controls(**asdict(self.controls))  # changed while the stream was starting
        if self.query != query:  # typed while the stream was starting
            updater.request(self.query)
        self.phase, self.start_error = "running", None

    @staticmethod
    def _audio_stream(engine: Engine, choice: StreamChoice, publisher: Publisher | None) -> DuplexStream | FileInputStream | VirtualMic:
        mono = read_mono(choice.input_file, choice.rate_hz) if choice.input_file is not None else None
        if publisher is not None:
            return VirtualMic(publisher, engine, mono, loop=True)
        if mono is None:
            return DuplexStream(engine, choice.input_device, choice.output_device)
        return FileInputStream(engine, mono, choice.output_device)

    def stop(self) -> None:
        """Stop the stream and its helpers; a stopped session holds no engine and no threads."""
        if self._starter is not None:
            self._starter.join()
            self._starter = None
        self.stop_recording()
        if self.stream is not None:
            self.stream.stop()
        if self.updater is not None:
            self.updater.close()
        self.stream, self.updater, self.engine = None, None, None
        if self.phase != "failed":
            self.phase = "stopped"

    def embed(self, query: Query) -> torch.Tensor:
        """The query's condition; also notes how near the query is to a sound the model knows."""
        condition = self.separator.condition(query)
        self.query_match = (query, self.separator.nearest_sound(query))
        return condition

    def set_query(self, query: Query) -> None:
        """Encode ``query`` off the audio path; the previous query plays until it is ready (and stays
        the session's query if the new one fails). Before start, the query is encoded by ``start``."""
        if self.updater is None:
            self.query = query
        else:
            self.updater.request(query)

    def _query_state(self, state: State, query: Query) -> None:
        if state == "active":
            self.query = query
        self.on_query_state(state, query)

    def _active_match(self) -> NearestSound | None:
        """How near the active query is to a sound the model knows (None if it cannot say)."""
        match, active = self.query_match, self.updater.active if self.updater else None
        return match[1] if match is not None and match[0] == active else None

    def set_controls(self, **changes: object) -> None:
        self.controls = replace(self.controls, **changes)
        if self.engine is not None:
            self.engine.set_controls(**changes)

    def load_model(self, load: Callable[[], Separator], name: str) -> None:
        """Load a model in the background; on success restart the stream with it, else keep the old one.
        One load at a time (a second one raises); :meth:`close` waits for a load under way."""
        if self.loading:
            raise RuntimeError(f"{name}: another model is still loading; load it once that one is ready")

        def work() -> None:
            try:
                separator = load()
                with torch.inference_mode():
                    separator.condition(self.query)  # fail now, not when the stream restarts
            except Exception as error:  # reported to the user; the running model stays
                self.model_error = f"{name}: {error}"
                self.on_model(self.model_name, self.model_error)
                return
            self.separator, self.model_name, self.model_error = separator, name, None
            if self.choice is not None and self.running:
                self.start(self.choice)
            self.on_model(name, None)

        self._loader = threading.Thread(target=work, name="model-loader", daemon=True)
        self._loader.start()

    @property
    def loading(self) -> bool:
        return self._loader is not None and self._loader.is_alive()

    def close(self) -> None:
        """Wait for a model load under way, then stop: a closed session leaves no thread behind."""
        if self._loader is not None:
            self._loader.join()
            self._loader = None
        self.stop()

    def start_recording(self, folder: Path) -> list[Path]:
        """Record the output and the input into new files in ``folder`` (see :func:`recording_paths`)."""
        if self.engine is None:
            raise RuntimeError("start the stream before recording")
        folder.mkdir(parents=True, exist_ok=True)
        self.recorder = Recorder(self.engine, *recording_paths(folder, datetime.now()))
        self.recording_error = None
        return self.recorder.paths

    def stop_recording(self) -> list[Path]:
        """Stop recording and publish the files (after a failure, what was written before it); the
        failure, if any, stays in ``recording_error``."""
        if self.recorder is None:
            return []
        paths = self.recorder.stop()
        self.recording_error, self.recorder = self.recorder.error, None
        return paths

    def frames(self) -> SpectralFrames | None:
        return self.engine.separator.latest if self.engine is not None else None

    def status(self) -> SessionStatus:
        """What the window shows: the phase, the figures, and a warning when the machine cannot keep up."""
        if self.engine is None:
            return SessionStatus(self.model_name, self.phase, start_error=self.start_error)
        engine = self.engine
        stats = engine.stats.snapshot()
        behind = self._lateness.behind(stats.dropouts + stats.dropped_hops, time.monotonic())
        fallback = FALLBACK_DESCRIPTIONS[engine.fallback]
        audio = "separating"
        warning = None
        if engine.failure is not None:
            audio = f"stopped: playing {fallback}"
            warning = f"separation stopped ({engine.failure!r}): playing {fallback}; press Stop"
        elif behind or stats.rtf > KEEP_UP_RTF:
            audio = f"behind: playing {fallback} where late" if behind else audio
            warning = f"this machine is not keeping up (real-time factor {stats.rtf:.2f}): {_remedy(engine)}"
        elif stats.nonfinite_samples:
            warning = f"{stats.nonfinite_samples} NaN or infinite samples were silenced: check the input and the model"
        elif engine.separator.fallback_reason:
            warning = engine.separator.fallback_reason
        device_latency = self.stream.device_latency_s if self.stream is not None else 0.0
        updater = self.updater
        return SessionStatus(
            self.model_name,
            self.phase,
            running=self.running,
            stats=stats,
            device=_device_name(engine),
            latency_ms=engine.latency_ms + 1000 * device_latency,
            hop_ms=samples_to_ms(engine.settings.stream.hop_samples),
            input_peak=engine.stats.input_peak,
            output_peak=engine.stats.output_peak,
            query=describe(updater.active) if updater and updater.active else None,
            query_state=updater.state if updater else "idle",
            query_error=updater.error if updater and updater.state == "error" else None,
            query_match=self._active_match(),
            recording=(self.recorder.paths[0], self.recorder.seconds) if self.recorder is not None else None,
            recording_error=self.recorder.error if self.recorder is not None else self.recording_error,
            behind=behind,
            virtual_mic=self.stream.source if isinstance(self.stream, VirtualMic) else None,
            audio=audio,
            adaptation=self.adaptation,
            warning=warning,
        )


@dataclass(frozen=True)
class SessionStatus:
    """A live session at one moment, for the window's status line and warnings. Without an engine
    (stopped, starting, failed) only the first four say anything."""

    model: str
    phase: Phase
    running: bool = False
    start_error: str | None = None  # why the last start failed
    stats: StatsSnapshot | None = None
    device: str = ""  # where and how the separation net runs, e.g. "CPU, bfloat16"
    latency_ms: float = float("nan")  # the engine's, plus the device's own buffering
    hop_ms: float = float("nan")
    input_peak: float = 0.0
    output_peak: float = 0.0
    query: str | None = None  # the active query, described
    query_state: State = "idle"
    query_error: str | None = None
    query_match: NearestSound | None = None  # how near the active query is to a sound the model knows
    recording: tuple[Path, float] | None = None  # the output file being written, and for how long (s)
    recording_error: str | None = None
    behind: bool = False  # late within the last BEHIND_WINDOW_S
    virtual_mic: str | None = None  # what other apps record, when publishing
    audio: str = ""  # what is heard: "separating", or what plays where the output is late
    adaptation: str | None = None  # what keep_up changed, and why
    warning: str | None = None


def describe_match(match: NearestSound) -> str:
    """E.g. ``unknown to this model (nearest: siren, 0.49)`` or ``like speech (0.90)``."""
    if match.known:
        return f"like {match.label} ({match.text_similarity:.2f})"
    return f"unknown to this model (nearest: {match.label}, {match.text_similarity:.2f})"


def next_hop_ms(hop_samples: int) -> int | None:
    """The smallest hop the app offers above ``hop_samples`` (None at the largest)."""
    return next((hop_ms for hop_ms in HOP_CHOICES_MS if hop_ms > samples_to_ms(hop_samples)), None)


def _remedy(engine: Engine) -> str:
    """What to do when the engine cannot keep up: the next larger hop the app offers, or the
    low-latency model; with that model (a hop of its own), fewer programs at once."""
    if isinstance(engine.net, LowLatencyNet):
        return "close other busy programs (the low-latency model's hop is its own)"
    larger_ms = next_hop_ms(engine.settings.stream.hop_samples)
    if larger_ms is not None:
        return f"choose a hop of {larger_ms} ms or more, or the bundled low-latency model"
    return "choose the bundled low-latency model, or use a GPU (the hop is at its largest)"


def _device_name(engine: Engine) -> str:
    """E.g. ``CPU, bfloat16`` or ``GPU, bfloat16, CUDA graph``: where, in which precision and how the
    separation net runs."""
    net = engine.net
    dtype = str(net.compute_dtype or torch.float32).removeprefix("torch.")
    graph = ", CUDA graph" if runs_cuda_graph(engine.separator) else ""
    return f"{'GPU' if net.device.type == 'cuda' else 'CPU'}, {dtype}{graph}"
