"""How long a user waits: `lass --help`, a separated 5 s file, and in the app the window shown, the model
loaded and the first processed audio. Each is a fresh process, timed from its launch (wall clock).
With ``--baseline REV`` the command-line rows are also taken from a checkout of REV, side by side.
Prints a table and writes JSON.

    python -m benchmarks.startup --baseline 52eae4f --out benchmarks/results/startup.json

The app rows use Qt's offscreen platform and a JACK server with the dummy driver (started here under
its own name), with the hop on "auto", as a new user has it: the first audio waits for the hop to be
measured on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import ForeignLoad, describe
from testing.jack_server import jack_server

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "speech_and_beeps.wav"
JACK_SERVER_NAME = "lass-startup"
APP_TIMEOUT_S = 300
# Opens the app as `lass-gui` (gui.app.main) does, and prints the wall-clock time of each step it reaches.
APP_PROBE = """
import json, sys, time
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication
from gui.app import open_window, starting_screen

app = QApplication(sys.argv[:1])
starting = starting_screen()
times = {"something on screen": time.time()}
window = open_window(None, QSettings(sys.argv[1], QSettings.Format.IniFormat))
starting.close()
app.processEvents()
times["window shown"] = time.time()

def wait(condition):
    while not condition():
        app.processEvents()
        time.sleep(0.005)

wait(lambda: window.session.separator is not None)
times["model loaded"] = time.time()
window.hop.setCurrentIndex(window.hop.findData(None))
window.toggle_running()
wait(lambda: window.session.phase != "starting")
wait(lambda: window.session.engine.stats.hops > 0)
times["first processed audio"] = time.time()
window.session.stop()
print(json.dumps(times))
"""


def command_times_s(root: Path, argv: list[str], repeats: int) -> list[float]:
    """Wall time of ``python -m cli.main ARGV`` run in ``root``, ``repeats`` times."""
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "cli.main", *argv], cwd=root, env=_env(root), check=True, capture_output=True)
        times.append(time.monotonic() - started)
    return times


def app_times_s(folder: Path) -> dict[str, float]:
    """Seconds from launching the app's process to each step of :data:`APP_PROBE`."""
    env = _env(ROOT) | {"QT_QPA_PLATFORM": "offscreen"}
    launched = time.time()
    result = subprocess.run(
        [sys.executable, "-c", APP_PROBE, str(folder / "settings.ini")], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True, timeout=APP_TIMEOUT_S,
    )
    return {step: at - launched for step, at in json.loads(result.stdout.strip().splitlines()[-1]).items()}


def _env(root: Path) -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(root)}


def checkout(revision: str, folder: Path) -> Path:
    """A worktree of ``revision`` in ``folder`` (removed by :func:`remove_checkout`)."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), revision], cwd=ROOT, check=True, capture_output=True)
    return folder


def remove_checkout(folder: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision to time the command-line rows of, beside this tree")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/startup.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ForeignLoad() as load:
        folder = Path(tmp)
        commands = {
            "lass --help": ["--help"],
            "lass separate (5 s file)": ["separate", str(EXAMPLE), "-q", "speech", "-o", str(folder / "out.wav")],
        }
        trees = [("this tree", ROOT)]
        if args.baseline:
            trees.append((args.baseline, checkout(args.baseline, folder / "baseline")))
        try:
            for name, argv in commands.items():
                for tree, root in trees:
                    times = command_times_s(root, argv, args.repeats)
                    rows.append({"step": name, "tree": tree, "median_s": statistics.median(times), "times_s": times})
        finally:
            if args.baseline:
                remove_checkout(folder / "baseline")
        with jack_server(JACK_SERVER_NAME):
            runs = [app_times_s(folder) for _ in range(args.repeats)]
        for step in runs[0]:
            times = [run[step] for run in runs]
            rows.append({"step": f"app: {step}", "tree": "this tree", "median_s": statistics.median(times), "times_s": times})
    for row in rows:
        print(f"{row['step']:32s} {row['tree']:10s} {row['median_s']:7.2f} s  (runs {', '.join(f'{t:.2f}' for t in row['times_s'])})")
    print(f"foreign load {load.cores:.2f} cores ({'quiet' if load.quiet else 'NOT quiet'})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": describe(), "foreign_cores": load.cores, "quiet": load.quiet, "rows": rows}
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
