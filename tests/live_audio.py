"""A test client wired to the app's ports on the JACK server of :mod:`testing.jack_server`."""

from __future__ import annotations

import time

import numpy as np

from testing.jack_server import PERIOD_FRAMES, RATE_HZ, SERVER_NAME

__all__ = ["PERIOD_FRAMES", "RATE_HZ", "LoopbackTester", "delay_samples"]


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
