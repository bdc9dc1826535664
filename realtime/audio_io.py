"""Sound-card I/O through sounddevice (PortAudio): device listing and the duplex stream.

The PortAudio callback mixes the input down to mono into a preallocated buffer, hands it to
:meth:`Engine.process_block`, copies the mono output to every output channel, and records status
flags (xruns) and PortAudio's timestamps (the measured input-to-output latency). Nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from models.errors import UserError
from realtime.engine import Engine
from realtime.errors import AudioDeviceError
from realtime.file_blocks import FileBlocks


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_rate_hz: float


NO_PORTAUDIO = (
    "the PortAudio library is not installed, so no sound card can be opened: install it (Debian and Ubuntu: "
    "sudo apt-get install libportaudio2; Fedora: sudo dnf install portaudio; macOS: brew install portaudio). "
    "Files need no sound card: lass separate, or lass stream --input-file ... --output-file ..."
)


def portaudio() -> ModuleType:
    """sounddevice; :class:`AudioDeviceError` saying what to install when the PortAudio library is missing."""
    try:
        import sounddevice
    except OSError as error:  # sounddevice loads PortAudio when it is imported
        raise AudioDeviceError(f"{NO_PORTAUDIO} ({error})") from None
    return sounddevice


def list_devices() -> list[Device]:
    sd = portaudio()
    apis = sd.query_hostapis()
    return [
        Device(i, d["name"], apis[d["hostapi"]]["name"], d["max_input_channels"], d["max_output_channels"], d["default_samplerate"])
        for i, d in enumerate(sd.query_devices())
    ]


NO_DEVICES = (
    "no audio devices: is an audio server running? Start PipeWire, PulseAudio or JACK (or plug in a sound "
    "card); 'lass stream --input-file' works without one"
)


def find_device(name_or_index: str | int | None, kind: str) -> int | None:
    """A device index by index or (part of its) name; ``None`` for the system default. Raises
    :class:`UserError` saying what exists, and what to start when nothing does."""
    sd = portaudio()

    devices = list_devices()
    if not devices:
        raise UserError(NO_DEVICES)
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    names = ", ".join(f"{d.index}: {d.name}" for d in devices if getattr(d, channels) > 0) or "none"
    if name_or_index is None:
        try:
            sd.query_devices(kind=kind)
        except sd.PortAudioError:
            raise UserError(f"there is no default {kind} device; choose one of the {kind} devices: {names}") from None
        return None
    if isinstance(name_or_index, int) or str(name_or_index).isdigit():
        index = int(name_or_index)
        if not any(d.index == index and getattr(d, channels) > 0 for d in devices):
            raise UserError(f"{index} is not an {kind} device; {kind} devices: {names}")
        return index
    for device in devices:
        if str(name_or_index).lower() in device.name.lower() and getattr(device, channels) > 0:
            return device.index
    raise UserError(f"no {kind} device matches {name_or_index!r}; {kind} devices: {names}")


def check_rate(input_device: int | None, output_device: int | None, rate_hz: int, channels: tuple[int, int] = (1, 2)) -> None:
    """Raise :class:`UserError` before any work if the devices do not open at ``rate_hz``, naming the rate
    they do open at (an audio server runs at one rate)."""
    sd = portaudio()
    for kind, device, count, check in (("input", input_device, channels[0], sd.check_input_settings),
                                       ("output", output_device, channels[1], sd.check_output_settings)):
        try:
            check(device=device, samplerate=rate_hz, channels=count, dtype="float32")
        except sd.PortAudioError as error:
            own_hz = sd.query_devices(device, kind=kind)["default_samplerate"]
            raise UserError(
                f"the {kind} device does not open at {rate_hz} Hz ({error}); its own rate is {own_hz:.0f} Hz: choose that rate"
            ) from None


class _EngineStream:
    """A PortAudio stream driving an engine; ``start``/``stop`` also start/stop the engine's worker."""

    engine: Engine
    stream: object

    @property
    def device_latency_s(self) -> float:
        """PortAudio's reported latency of the open stream (input + output for a duplex stream)."""
        latency = self.stream.latency
        return float(sum(latency)) if isinstance(latency, tuple) else float(latency)

    def start(self) -> None:
        self.engine.start()
        self.stream.start()

    def stop(self) -> None:
        self.stream.stop()
        self.stream.close()
        self.engine.stop()

    def close(self) -> None:
        """Close the stream (a stream that failed to start)."""
        self.stream.close()


class DuplexStream(_EngineStream):
    """Runs ``engine`` on a PortAudio duplex stream."""

    def __init__(self, engine: Engine, input_device: int | None = None, output_device: int | None = None,
                 channels: tuple[int, int] = (1, 2)) -> None:
        sd = portaudio()
        settings = engine.settings
        self.engine = engine
        frames = settings.block_frames
        self._mono_in = np.zeros(frames, dtype=np.float32)
        self._mono_out = np.zeros(frames, dtype=np.float32)
        self.stream = sd.Stream(
            samplerate=settings.device_rate_hz,
            blocksize=frames,
            device=(input_device, output_device),
            channels=channels,
            dtype="float32",
            callback=self._callback,
        )

    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info, status) -> None:
        stats = self.engine.stats
        if status.input_overflow or status.input_underflow:
            stats.input_xruns += 1
        if status.output_underflow or status.output_overflow:
            stats.output_xruns += 1
        mono_in, mono_out = self._mono_in[:frames], self._mono_out[:frames]
        np.mean(indata, axis=1, out=mono_in)
        self.engine.process_block(mono_in, mono_out)
        outdata[:] = mono_out[:, None]
        device_s = time_info.outputBufferDacTime - time_info.inputBufferAdcTime
        stats.measured_latency_s = device_s + self.engine.latency_s


class FileInputStream(_EngineStream):
    """A file (looped) stands in for the microphone: an output-only PortAudio stream whose callback
    takes the next block of the file as the engine's input. Paced by the sound card."""

    def __init__(self, engine: Engine, samples: np.ndarray, output_device: int | None = None, channels: int = 2) -> None:
        sd = portaudio()
        self.engine = engine
        self.file = FileBlocks(samples)
        frames = engine.settings.block_frames
        self._mono_in = np.zeros(frames, dtype=np.float32)
        self._mono_out = np.zeros(frames, dtype=np.float32)
        self.stream = sd.OutputStream(
            samplerate=engine.settings.device_rate_hz, blocksize=frames, device=output_device,
            channels=channels, dtype="float32", callback=self._callback,
        )

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        if status.output_underflow:
            self.engine.stats.output_xruns += 1
        mono_in, mono_out = self._mono_in[:frames], self._mono_out[:frames]
        self.file.read_into(mono_in)
        self.engine.process_block(mono_in, mono_out)
        outdata[:] = mono_out[:, None]
        output_s = time_info.outputBufferDacTime - time_info.currentTime  # the file's block is taken now
        self.engine.stats.measured_latency_s = output_s + self.engine.latency_s
