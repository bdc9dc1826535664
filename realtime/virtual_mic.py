"""A virtual microphone: the processed output published as a capture source that other apps record from.

The engine runs in the process callback of a JACK client, on the server's clock: each period it
takes the next input block (from a file, or from the client's input port ``input_1``, wired to the
server's first physical capture port) and writes its output straight into the client's port.
- On JACK the client is named NAME and its port ``NAME:capture_1`` is the source: any JACK client
  lists and records it.
- On PipeWire (the client runs through PipeWire's JACK library, found by itself where PipeWire runs
  and no JACK server is named: no ``pw-jack`` needed) a JACK client's node cannot be an Audio/Source
  (WirePlumber finds no format to configure it with), so ``pw-loopback`` makes the pair a virtual
  microphone is made of: a sink ``NAME-input`` and an Audio/Source ``NAME`` fed by it. The engine's
  client (``NAME-engine``) plays into the sink; apps record ``NAME`` (``pw-record --target NAME``).
Stopping closes the client and ends the loopback: the nodes and ports are gone.

The engine must be built for the server's sample rate and period (:func:`open_client` gives both
before the model loads), so that its latency counts the blocks it really gets. The stream's latency
is the engine's plus one period of the server's own buffering (:attr:`VirtualMic.server_latency_s`).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.engine import Engine
from realtime.errors import VirtualMicError
from realtime.file_blocks import FileBlocks

OUTPUT_PORT = "capture_1"
INPUT_PORT = "input_1"
LOOPBACK_TIMEOUT_S = 10.0
PIPEWIRE_SOCKET = "pipewire-0"
PIPEWIRE_JACK = Path("pipewire-0.3") / "jack" / "libjack.so.0"


@dataclass
class Loopback:
    """PipeWire's half of a virtual microphone: the ``pw-loopback`` process and the sink's input port."""

    process: subprocess.Popen
    input_port: str

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def pipewire_jack_library() -> Path | None:
    """PipeWire's JACK library, when PipeWire runs here (its socket is there), it is installed
    (pipewire-jack), and no JACK server was named (``JACK_DEFAULT_SERVER``); else None."""
    runtime = os.environ.get("PIPEWIRE_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR")
    if "JACK_DEFAULT_SERVER" in os.environ or not runtime or not (Path(runtime) / PIPEWIRE_SOCKET).exists():
        return None
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    places = (Path("/usr/lib") / multiarch, Path("/usr/lib64"), Path("/usr/lib"))
    return next((place / PIPEWIRE_JACK for place in places if (place / PIPEWIRE_JACK).is_file()), None)


def _load_jack():
    """The ``jack`` package, on PipeWire's JACK library where :func:`pipewire_jack_library` finds it (as
    ``pw-jack`` would give it: loaded first, it is the libjack the package then opens), with libjack's
    own messages kept out of the terminal (a missing server is said once, by us)."""
    if "jack" not in sys.modules:
        library = pipewire_jack_library()
        if library is not None:
            ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    try:
        import jack
    except OSError as error:  # the package is there, the JACK library is not
        raise VirtualMicError(
            "a virtual microphone needs the JACK library: apt-get install libjack-jackd2-0 "
            "(or pipewire-jack on a PipeWire desktop)"
        ) from error
    jack.set_error_function(lambda message: None)
    jack.set_info_function(lambda message: None)
    return jack


@dataclass
class Publisher:
    """What :func:`open_client` opens: the JACK client the engine runs in, and on PipeWire the
    :class:`Loopback` it plays into. ``close`` closes both."""

    client: object  # a jack.Client (the jack package loads only when a virtual microphone is asked for)
    loopback: Loopback | None

    @property
    def rate_hz(self) -> int:
        return self.client.samplerate

    @property
    def block_frames(self) -> int:
        return self.client.blocksize

    def close(self) -> None:
        self.client.close()
        if self.loopback is not None:
            self.loopback.close()


def open_client(name: str) -> Publisher:
    """A JACK client for the virtual microphone ``name`` on the running server (``JACK_DEFAULT_SERVER``,
    or the default; PipeWire's where it runs), and on PipeWire the :class:`Loopback` it plays into."""
    jack = _load_jack()
    on_pipewire = "PipeWire" in jack.version_string()
    try:
        client = jack.Client(f"{name}-engine" if on_pipewire else name, no_start_server=True)
    except jack.JackOpenError as error:
        raise VirtualMicError(
            f"no JACK server to publish the virtual microphone {name!r} on: start one (jackd -d alsa, or "
            "jackd -d dummy to try it), or run PipeWire with pipewire-jack"
        ) from error
    if not on_pipewire:
        if client.name != name:  # the server renamed it: another client holds the name
            client.close()
            raise VirtualMicError(f"a JACK client named {name!r} exists already: choose another --virtual-mic name")
        return Publisher(client, None)
    try:
        return Publisher(client, _loopback(client, name))
    except BaseException:
        client.close()
        raise


def _loopback(client, name: str) -> Loopback:
    if client.get_ports(f"^{name}:"):
        raise VirtualMicError(f"PipeWire has a node named {name!r} already: choose another --virtual-mic name")
    command = [
        "pw-loopback", "-n", name,
        f"--capture-props=media.class=Audio/Sink node.name={name}-input audio.position=[MONO]",
        f"--playback-props=media.class=Audio/Source node.name={name} audio.position=[MONO]",
    ]
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError as error:
        raise VirtualMicError("pw-loopback is missing: apt-get install pipewire-bin") from error
    deadline = time.monotonic() + LOOPBACK_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        inputs = client.get_ports(f"^{name}:", is_input=True, is_audio=True)
        if inputs:
            return Loopback(process, inputs[0].name)
        time.sleep(0.05)
    process.kill()
    raise VirtualMicError(f"pw-loopback did not make the virtual microphone {name!r}: {process.communicate()[1].strip()}")


class VirtualMic:
    """Drives ``engine`` from the process callback of ``publisher``'s client; input from ``samples``
    (mono, at the server's rate; then silence, or again from the start with ``loop``) or from the
    server's first physical capture port."""

    def __init__(self, publisher: Publisher, engine: Engine, samples: np.ndarray | None = None, loop: bool = False) -> None:
        client, loopback = publisher.client, publisher.loopback
        settings = engine.settings
        if (client.samplerate, client.blocksize) != (settings.device_rate_hz, settings.block_frames):
            raise VirtualMicError(
                f"the engine runs at {settings.device_rate_hz} Hz in blocks of {settings.block_frames}, the JACK "
                f"server at {client.samplerate} Hz in periods of {client.blocksize}: build it for the server"
            )
        self.publisher, self.client, self.engine, self.loopback = publisher, client, engine, loopback
        self.file = None if samples is None else FileBlocks(samples, loop)
        self._block = np.zeros(client.blocksize, dtype=np.float32)
        self.input = self.output = None  # registered in start(), once the client is active
        client.set_process_callback(self._process)

    @property
    def source(self) -> str:
        """What other apps record: the PipeWire node, or the JACK port."""
        return self.loopback.input_port.split(":")[0] if self.loopback else f"{self.client.name}:{OUTPUT_PORT}"

    @property
    def server_latency_s(self) -> float:
        """The server's own buffering: one period."""
        return self.client.blocksize / self.client.samplerate

    @property
    def device_latency_s(self) -> float:
        """What the server adds to the engine's latency (as PortAudio streams report theirs)."""
        return self.server_latency_s

    @property
    def played_all(self) -> bool:
        """For file input played once: the whole file has come out of the engine (its latency included)."""
        file = self.file
        return file is not None and not file.loop and file.position >= len(file.samples) + self.engine.latency_samples

    def start(self) -> None:
        self.engine.start()
        self.client.activate()
        # JACK refuses connections to an inactive client's ports, so they are made only now: other
        # apps never list a virtual microphone they cannot connect to. The input first, since the
        # process callback starts running blocks once the output exists.
        if self.file is None:
            self.input = self.client.inports.register(INPUT_PORT)
        self.output = self.client.outports.register(OUTPUT_PORT)
        if self.loopback is not None:
            self.client.connect(self.output, self.loopback.input_port)
        if self.input is not None:
            captures = self.client.get_ports(is_physical=True, is_output=True, is_audio=True)
            if not captures:
                self.stop()
                raise VirtualMicError("the JACK server has no capture port to listen to: use --input-file")
            self.client.connect(captures[0], self.input)

    def stop(self) -> None:
        """Close the client (its ports disappear) and the loopback, then stop the engine's worker."""
        self.client.deactivate()
        self.close()
        self.engine.stop()

    def close(self) -> None:
        """Close the client and the loopback (what :meth:`stop` does besides stopping the engine)."""
        self.publisher.close()

    def _process(self, frames: int) -> None:
        if self.output is None:
            return
        block = self._block[:frames]
        if self.input is not None:
            block[:] = self.input.get_array()
        else:
            self.file.read_into(block)
        self.engine.process_block(block, self.output.get_array())
