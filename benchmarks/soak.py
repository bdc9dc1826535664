"""A long live session on a JACK server: paced streaming with the query changed every few seconds and
the stream stopped and started every few minutes, as a user of the app would. Every sample period it
records resident memory, threads, open files, dropouts and the longest callback, so that growth over
the hour shows. Prints a table and writes JSON.

    python -m benchmarks.soak --minutes 60 --out benchmarks/results/soak.json

The example mixture is the microphone (looped); the output goes to JACK's dummy driver, which paces
the callbacks like a sound card. Every row records how many cores other processes kept busy in its
period (``foreign_cores``): a row taken while something else ran on the machine says so, and the
summary counts dropouts in quiet periods apart.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np

from audio.places import write_atomically
from benchmarks.machine import QUIET_FOREIGN_CORES, ForeignLoad, describe, peak_rss_mb
from cli.main import exit_on_sigterm
from models.separator import Separator, default_checkpoint
from testing.jack_server import RATE_HZ, jack_server
from realtime.live_session import LiveSession, StreamChoice

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "speech_and_beeps.wav"
JACK_SERVER_NAME = "lass-soak"  # its own server: the tests can run beside it
QUERIES = ("speech", "beeps", "a man speaking", "beeping tone", "noise")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Resident memory of this process now (MiB, as peak_rss_mb)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * PAGE_BYTES / 2**20


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


class Soak:
    """Drives a :class:`LiveSession` and keeps running totals across its restarts."""

    def __init__(self, session: LiveSession, choice: StreamChoice) -> None:
        self.session, self.choice = session, choice
        self.engines: weakref.WeakSet = weakref.WeakSet()
        self.totals = {"dropouts": 0, "dropped_hops": 0, "callbacks": 0, "hops": 0, "nonfinite_samples": 0}
        self.starts = 0
        self.query_changes = 0
        self.query_errors = 0
        self._load = ForeignLoad().__enter__()  # other processes' CPU use in the current sample period

    def start(self) -> None:
        self.session.start(self.choice)
        self.engines.add(self.session.engine)
        self.starts += 1

    def stop(self) -> None:
        stats = self.session.engine.stats.snapshot()
        for name in self.totals:
            self.totals[name] += int(getattr(stats, name))
        self.session.stop()

    def change_query(self) -> None:
        if self.session.updater is not None and self.session.updater.state == "error":
            self.query_errors += 1
        self.query_changes += 1
        self.session.set_query(QUERIES[self.query_changes % len(QUERIES)])

    def sample(self, elapsed_s: float) -> dict:
        """Figures since the start (running totals) and the longest callback since the last sample."""
        engine = self.session.engine
        stats = engine.stats.snapshot()
        callback_max_ms = stats.callback_max_ms
        engine.stats.callback_max_s = 0.0  # the next row reports its own period's maximum
        self._load.__exit__()
        foreign_cores, self._load = self._load.cores, ForeignLoad().__enter__()
        gc.collect()
        return {
            "minutes": elapsed_s / 60,
            "rss_mb": rss_mb(),
            "threads": threading.active_count(),
            "open_files": open_files(),
            "engines_alive": len(self.engines),
            "starts": self.starts,
            "query_changes": self.query_changes,
            "query_errors": self.query_errors,
            "dropouts": self.totals["dropouts"] + stats.dropouts,
            "dropped_hops": self.totals["dropped_hops"] + stats.dropped_hops,
            "nonfinite_samples": self.totals["nonfinite_samples"] + stats.nonfinite_samples,
            "callbacks": self.totals["callbacks"] + stats.callbacks,
            "callback_max_ms": callback_max_ms,
            "hop_ms_p99": stats.hop_ms_p99,
            "foreign_cores": foreign_cores,
            "quiet": foreign_cores <= QUIET_FOREIGN_CORES,
        }


def soak(
    minutes: float, hop_ms: float, query_every_s: float, restart_every_s: float, sample_every_s: float,
    on_row: Callable[[list[dict]], None],
) -> list[dict]:
    """Run the session for ``minutes``; ``on_row`` gets the rows so far after each sample."""
    session = LiveSession(Separator.from_checkpoint(default_checkpoint()), "bundled default")
    driver = Soak(session, StreamChoice(rate_hz=RATE_HZ, hop_ms=hop_ms, input_file=EXAMPLE))
    rows = []
    driver.start()
    started = time.monotonic()
    next_query, next_restart, next_sample = query_every_s, restart_every_s, sample_every_s
    try:
        while (elapsed := time.monotonic() - started) < 60 * minutes:
            if elapsed >= next_sample:
                rows.append(driver.sample(elapsed))
                on_row(rows)
                next_sample += sample_every_s
            if elapsed >= next_restart:
                driver.stop()
                driver.start()
                next_restart += restart_every_s
            if elapsed >= next_query:
                driver.change_query()
                next_query += query_every_s
            time.sleep(max(0.0, min(next_sample, next_restart, next_query) - (time.monotonic() - started)))
        rows.append(driver.sample(time.monotonic() - started))
        on_row(rows)
    finally:
        session.stop()
    return rows


def _row_text(row: dict) -> str:
    return (
        f"{row['minutes']:6.1f} min  RSS {row['rss_mb']:6.0f} MB  threads {row['threads']:2d}  files {row['open_files']:3d}  "
        f"engines {row['engines_alive']}  starts {row['starts']:3d}  queries {row['query_changes']:4d} "
        f"(errors {row['query_errors']})  dropouts {row['dropouts']:4d}  callback max {row['callback_max_ms']:5.2f} ms  "
        f"foreign load {row['foreign_cores']:.2f} cores"
    )


def summarize(rows: list[dict]) -> dict:
    """Growth after the first sample (the first start loads what lives as long as the process)."""
    steady = rows[1:] if len(rows) > 2 else rows
    minutes = np.array([row["minutes"] for row in steady])
    rss = np.array([row["rss_mb"] for row in steady])
    slope = float(np.polyfit(minutes, rss, 1)[0] * 60) if len(steady) > 1 else float("nan")
    return {
        "rss_mb_first_last": [steady[0]["rss_mb"], steady[-1]["rss_mb"]],
        "rss_mb_per_hour": slope,
        "threads_min_max": [min(row["threads"] for row in steady), max(row["threads"] for row in steady)],
        "open_files_min_max": [min(row["open_files"] for row in steady), max(row["open_files"] for row in steady)],
        "engines_alive_max": max(row["engines_alive"] for row in steady),
        "starts": rows[-1]["starts"],
        "query_changes": rows[-1]["query_changes"],
        "query_errors": rows[-1]["query_errors"],
        "dropouts": rows[-1]["dropouts"],
        "callbacks": rows[-1]["callbacks"],
        "callback_max_ms": max(row["callback_max_ms"] for row in rows),
        "dropouts_in_quiet_periods": sum(
            row["dropouts"] - previous["dropouts"] for previous, row in zip([{"dropouts": 0}] + rows, rows) if row["quiet"]
        ),
        "quiet_periods": f"{sum(row['quiet'] for row in rows)} of {len(rows)}",
        "foreign_cores_max": max(row["foreign_cores"] for row in rows),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--hop-ms", type=float, default=400.0, help="the hop the app keeps up with on a busy 2-core machine")
    parser.add_argument("--query-every-s", type=float, default=5.0)
    parser.add_argument("--restart-every-s", type=float, default=180.0)
    parser.add_argument("--sample-every-s", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()
    exit_on_sigterm()  # a stopped run still stops its JACK server and keeps the rows so far
    settings = {name: getattr(args, name) for name in ("minutes", "hop_ms", "query_every_s", "restart_every_s", "sample_every_s")}

    def save(rows: list[dict]) -> None:
        print(_row_text(rows[-1]), flush=True)
        report = {"machine": describe(), "settings": settings, "summary": summarize(rows), "rows": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.out, json.dumps(report, indent=1).encode())

    with jack_server(JACK_SERVER_NAME):
        rows = soak(args.minutes, args.hop_ms, args.query_every_s, args.restart_every_s, args.sample_every_s, save)
    for name, value in summarize(rows).items():
        print(f"{name:22s} {value}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
