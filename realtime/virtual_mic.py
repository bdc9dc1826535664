"""A virtual microphone: the processed output published as a capture source that other apps record from.

It is a JACK client named NAME with one output port, ``NAME:capture_1``, driven by the server's
clock: each period, the process callback hands the engine the next input block (from a file, or from
the client's input port ``NAME:input_1``, wired to the server's first physical capture port) and
writes the engine's output straight into the port's buffer. Any JACK client lists and records it
(``jack_connect NAME:capture_1 ...``); on a PipeWire desktop the same client runs through PipeWire's
JACK library (pipewire-jack), as a node named NAME. Stopping closes the client: the ports are gone.

The engine must be built for the server's sample rate and period (:func:`open_client` gives both
before the model loads), so that its latency counts the blocks it really gets. The stream's latency
is the engine's plus one period of the server's own buffering (:attr:`VirtualMic.server_latency_s`).
"""

from __future__ import annotations

import numpy as np

from realtime.engine import Engine
from realtime.errors import VirtualMicError

OUTPUT_PORT = "capture_1"
INPUT_PORT = "input_1"


def open_client(name: str):
    """A JACK client named ``name`` on the running server (``JACK_DEFAULT_SERVER``, or the default)."""
    try:
        import jack
    except OSError as error:  # the package is there, the JACK library is not
        raise VirtualMicError(
            "a virtual microphone needs the JACK library: apt-get install libjack-jackd2-0 "
            "(or pipewire-jack on a PipeWire desktop)"
        ) from error
    try:
        client = jack.Client(name, no_start_server=True)
    except jack.JackOpenError as error:
        raise VirtualMicError(
            f"no JACK server to publish the virtual microphone {name!r} on: start one (jackd -d alsa, or "
            "jackd -d dummy to try it), or run PipeWire with pipewire-jack"
        ) from error
    if client.name != name:  # the server renamed it: another client holds the name
        client.close()
        raise VirtualMicError(f"a JACK client named {name!r} exists already: choose another --virtual-mic name")
    return client


class VirtualMic:
    """Drives ``engine`` from ``client``'s process callback; input from ``samples`` (mono, at the
    server's rate, then silence) or from the server's first physical capture port."""

    def __init__(self, client, engine: Engine, samples: np.ndarray | None = None) -> None:
        settings = engine.settings
        if (client.samplerate, client.blocksize) != (settings.device_rate_hz, settings.block_frames):
            raise VirtualMicError(
                f"the engine runs at {settings.device_rate_hz} Hz in blocks of {settings.block_frames}, the JACK "
                f"server at {client.samplerate} Hz in periods of {client.blocksize}: build it for the server"
            )
        self.client, self.engine = client, engine
        self.samples = None if samples is None else samples.astype(np.float32)
        self.position = 0  # input samples handed to the engine
        self._block = np.zeros(client.blocksize, dtype=np.float32)
        self.output = client.outports.register(OUTPUT_PORT)
        self.input = client.inports.register(INPUT_PORT) if samples is None else None
        client.set_process_callback(self._process)

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def server_latency_s(self) -> float:
        """The server's own buffering: one period."""
        return self.client.blocksize / self.client.samplerate

    @property
    def played_all(self) -> bool:
        """For file input: the whole file has come out of the engine (its latency included)."""
        return self.samples is not None and self.position >= len(self.samples) + self.engine.latency_samples

    def start(self) -> None:
        self.engine.start()
        self.client.activate()
        if self.input is not None:
            captures = self.client.get_ports(is_physical=True, is_output=True, is_audio=True)
            if not captures:
                self.stop()
                raise VirtualMicError("the JACK server has no capture port to listen to: use --input-file")
            self.client.connect(captures[0], self.input)

    def stop(self) -> None:
        """Close the client (its ports disappear), then stop the engine's worker."""
        self.client.deactivate()
        self.client.close()
        self.engine.stop()

    def _process(self, frames: int) -> None:
        block = self._block[:frames]
        if self.input is not None:
            block[:] = self.input.get_array()
        else:
            piece = self.samples[self.position : self.position + frames]
            block[: len(piece)] = piece
            block[len(piece) :] = 0.0
        self.position += frames
        self.engine.process_block(block, self.output.get_array())
