"""A JACK server with the dummy driver: the app's audio path without a sound card.

Test support, never imported by the runtime. Tests and benchmarks start it under their own name, so they run the same way on a developer's machine
and in CI (``.ci/run`` installs jackd2 and libportaudio2). PortAudio (sounddevice) and JACK clients
find it through ``JACK_DEFAULT_SERVER``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager

SERVER_NAME = "lass-test"
RATE_HZ = 48_000
PERIOD_FRAMES = 512
STOP_TIMEOUT_S = 10.0


@contextmanager
def jack_server(name: str = SERVER_NAME):
    """Start ``jackd -d dummy`` named ``name`` for the duration; PortAudio and JACK-Client connect to it
    by name. Servers of other names (a benchmark's beside the tests') run side by side."""
    if shutil.which("jackd") is None:
        raise RuntimeError("jackd is not installed: apt-get install jackd2 libportaudio2 (see .ci/run)")
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    process = subprocess.Popen(
        ["jackd", "-n", name, "-R", "-d", "dummy", "-r", str(RATE_HZ), "-p", str(PERIOD_FRAMES)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        subprocess.run(["jack_wait", "-s", name, "-w", "-t", "10"], check=True, capture_output=True)
        _restart_portaudio()
        yield process
    finally:
        try:
            _release_portaudio()  # PortAudio must let go of the server before it stops
        finally:
            stop(process)
            if previous is None:
                os.environ.pop("JACK_DEFAULT_SERVER", None)
            else:
                os.environ["JACK_DEFAULT_SERVER"] = previous


def stop(process: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop ``process``: SIGTERM, then SIGKILL if it has not ended within ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _release_portaudio() -> None:
    """Make PortAudio let go of the server; without the PortAudio library nothing holds it."""
    try:
        import sounddevice as sd
    except OSError:
        return
    sd._terminate()


def _restart_portaudio() -> None:
    """PortAudio enumerates JACK when it is initialised: do it again now that the server runs."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
