"""GUI benchmark: the views' frame rate and the audio dropouts while the app runs, side by side with the
same stream and no window, in one run. Prints a table, writes JSON.

    python -m benchmarks.gui --seconds 30 --load none busy-core --out benchmarks/results/gui.json
    python -m benchmarks.gui --model lowlatency --seconds 30 --load none busy-core --out benchmarks/results/gui_lowlatency.json

Audio goes through a JACK server with the dummy driver (started here; no sound card needed), the
bundled model plays the example file as input, and Qt renders offscreen. With the window, reported:
view updates drawn per second (the spectrograms and mask scroll), repaints of the views per second,
and the time the view timer's work takes (p50/p99); for both runs: the engine's real-time factor, hop
time p99 and dropouts, and the view timer's interval at the end (it slows down when drawing takes more
than its share of a core: :mod:`gui.view_rate`). ``--load busy-core`` runs both again with a busy
process on one core, as a user's other program would be; the rows name the load. Runs during which
other processes used the machine are marked ``quiet: false``. ``--model lowlatency`` runs the bundled
low-latency model at its own hop instead (``--hop-ms`` is then unused), the stream whose margin is a
few milliseconds: the views share the interpreter with its worker. ``--switch-intervals-ms 5 1``
runs everything once per interval, set as the stream starts in place of the engine's own
(:data:`realtime.engine.WORKER_SWITCH_INTERVAL_S`; Python's default is 5 ms): how often the
interpreter lock changes hands between the views and the worker, side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from benchmarks.machine import ForeignLoad, describe
from benchmarks.streaming import LOADS, BusyCore
from models.separator import Separator, default_checkpoint, lowlatency_checkpoint
from testing.jack_server import RATE_HZ, jack_server
from realtime.live_session import LiveSession, StreamChoice

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "speech_and_beeps.wav"
MODELS = {"default": (default_checkpoint, "bundled default"), "lowlatency": (lowlatency_checkpoint, "bundled low-latency")}


def new_session(model: str) -> LiveSession:
    checkpoint, name = MODELS[model]
    return LiveSession(Separator.from_checkpoint(checkpoint()), name)


def engine_figures(session: LiveSession) -> dict:
    stats = asdict(session.engine.stats.snapshot())
    figures = {k: stats[k] for k in ("rtf", "hop_ms_p50", "hop_ms_p99", "dropouts", "dropped_hops", "output_xruns")}
    return figures | {"latency_ms": session.engine.latency_ms, "switch_interval_ms": 1000 * sys.getswitchinterval()}


def set_switch_interval(interval_ms: float | None) -> None:
    """In place of the engine's own interval (None: keep the engine's)."""
    if interval_ms is not None:
        sys.setswitchinterval(interval_ms / 1000)


def headless_run(choice: StreamChoice, seconds: float, model: str, interval_ms: float | None) -> dict:
    session = new_session(model)
    with ForeignLoad() as load:
        session.start(choice)
        set_switch_interval(interval_ms)
        time.sleep(seconds)
        figures = engine_figures(session)
        session.stop()
    return {"run": "engine only (no window)", **figures, "foreign_load_cores": load.cores, "quiet": load.quiet}


def window_run(choice: StreamChoice, seconds: float, model: str, interval_ms: float | None) -> dict:
    from PyQt6.QtCore import QEvent, QEventLoop, QObject, QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    session = new_session(model)
    settings = QSettings(os.devnull, QSettings.Format.IniFormat)
    window = MainWindow(session, settings)
    window.resize(1200, 800)
    window.show()
    refresh_s: list[float] = []
    original_refresh = window.refresh

    def timed_refresh() -> None:
        started = time.perf_counter()
        original_refresh()
        refresh_s.append(time.perf_counter() - started)

    window.timer.timeout.disconnect()
    window.timer.timeout.connect(timed_refresh)

    class PaintCounter(QObject):
        paints = 0

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                PaintCounter.paints += 1
            return False

    counter = PaintCounter()
    window.graphics.viewport().installEventFilter(counter)
    window.input_file = choice.input_file
    window.hop.setCurrentIndex(window.hop.findData(choice.hop_ms))
    with ForeignLoad() as load:
        window.toggle_running()
        while session.phase == "starting":  # the stream starts in the background; the window keeps drawing
            app.processEvents()
            time.sleep(0.01)
        assert session.running, session.start_error
        set_switch_interval(interval_ms)
        drawn_before, paints_before, started = window.frames_drawn, PaintCounter.paints, time.monotonic()
        wait = QEventLoop()  # not app.exec/quit: Qt 6's quit closes the window, and the session with it
        QTimer.singleShot(int(seconds * 1000), wait.quit)
        wait.exec()
        elapsed = time.monotonic() - started
        figures = engine_figures(session)
        window.close()
    return {
        "run": "with the window",
        "view_updates_per_s": (window.frames_drawn - drawn_before) / elapsed,
        "repaints_per_s": (PaintCounter.paints - paints_before) / elapsed,
        "view_timer_ms_p50": 1000 * float(np.median(refresh_s)),
        "view_timer_ms_p99": 1000 * float(np.percentile(refresh_s, 99)),
        "view_interval_ms_at_end": window.timer.interval(),
        **figures,
        "foreign_load_cores": load.cores,
        "quiet": load.quiet,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--hop-ms", type=float, default=100.0, help="the default model's hop")
    parser.add_argument("--model", choices=tuple(MODELS), default="default", help="the bundled model to stream with")
    parser.add_argument(
        "--switch-intervals-ms", type=float, nargs="*", default=[],
        help="run everything once per interpreter switch interval (ms) set in place of the engine's own",
    )
    parser.add_argument("--load", nargs="+", choices=LOADS, default=["none"], help="busy-core: both runs again with a busy process on one core")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gui.json"))
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    hop_ms = args.hop_ms if args.model == "default" else None  # the low-latency model's hop is its own
    choice = StreamChoice(rate_hz=RATE_HZ, input_file=EXAMPLE, hop_ms=hop_ms)
    rows = []
    with jack_server():
        for load in args.load:
            with BusyCore() if load == "busy-core" else contextlib.nullcontext():
                for interval_ms, run in itertools.product(args.switch_intervals_ms or [None], (headless_run, window_run)):
                    row = {"model": args.model, "load": load} | run(choice, args.seconds, args.model, interval_ms) | {"seconds": args.seconds, "hop_ms": hop_ms}
                    rows.append(row)
                    print("  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
