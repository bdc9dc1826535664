"""A real JACK server (dummy driver, no sound card) and a test client wired to the app's ports.

The server is started and stopped by the test itself, under its own name, so the suite runs the same
way on a developer's machine and in CI (``.ci/run`` installs jackd2 and libportaudio2).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager

import numpy as np

SERVER_NAME = "lass-test"
RATE_HZ = 48_000
PERIOD_FRAMES = 512


@contextmanager
def jack_server():
    """Start ``jackd -d dummy`` for the duration; PortAudio and JACK-Client connect to it by name."""
    if shutil.which("jackd") is None:
        raise RuntimeError("jackd is not installed: apt-get install jackd2 libportaudio2 (see .ci/run)")
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = SERVER_NAME
    process = subprocess.Popen(
        ["jackd", "-n", SERVER_NAME, "-R", "-d", "dummy", "-r", str(RATE_HZ), "-p", str(PERIOD_FRAMES)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        subprocess.run(["jack_wait", "-s", SERVER_NAME, "-w", "-t", "10"], check=True, capture_output=True)
        _restart_portaudio()
        yield process
    finally:
        import sounddevice as sd

        sd._terminate()  # PortAudio must let go of the server before it stops
        process.terminate()
        process.wait(timeout=10)
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous


def _restart_portaudio() -> None:
    """PortAudio enumerates JACK when it is initialised: do it again now that the server runs."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


class LoopbackTester:
    """A JACK client that plays ``signal`` into the app's input and records the app's output."""

    def __init__(self, signal: np.ndarray, app_client: str = "PortAudio") -> None:
        import jack

        self.signal = signal.astype(np.float32)
        self.recorded = np.zeros(len(signal), dtype=np.float32)
        self.position = 0
        self.client = jack.Client("lass-tester", servername=SERVER_NAME)
        self.out_port = self.client.outports.register("out")
        self.in_port = self.client.inports.register("in")
        self.client.set_process_callback(self._process)
        self.client.activate()
        # PortAudio numbers its ports per stream (in_0, in_1, ...): take the open stream's first ones.
        app_in = self.client.get_ports(f"^{app_client}:", is_audio=True, is_input=True)[0]
        app_out = self.client.get_ports(f"^{app_client}:", is_audio=True, is_output=True)[0]
        for source in self.client.get_all_connections(app_in):
            self.client.disconnect(source, app_in)
        for target in self.client.get_all_connections(app_out):
            self.client.disconnect(app_out, target)
        self.client.connect(self.out_port, app_in)
        self.client.connect(app_out, self.in_port)

    def _process(self, frames: int) -> None:
        start = min(self.position, len(self.signal))
        end = min(start + frames, len(self.signal))
        out = self.out_port.get_array()
        out[:] = 0.0
        out[: end - start] = self.signal[start:end]
        self.recorded[start:end] = self.in_port.get_array()[: end - start]
        self.position += frames

    def wait(self) -> np.ndarray:
        while self.position < len(self.signal):
            time.sleep(0.05)
        self.client.deactivate()
        self.client.close()
        return self.recorded


def delay_samples(sent: np.ndarray, received: np.ndarray) -> int:
    """Delay of ``received`` behind ``sent`` by cross-correlation (FFT)."""
    n = len(sent) + len(received)
    spectrum = np.fft.rfft(received, n) * np.conj(np.fft.rfft(sent, n))
    correlation = np.fft.irfft(spectrum, n)
    return int(np.argmax(correlation[: len(received)]))
