"""The virtual microphone on JACK: another client sees NAME:capture_1, records what the engine makes
of the file (the same samples the offline stream gives), and the ports are gone once it stops."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from audio.files import read_audio, resample, write_audio
from cli.main import main
from realtime.virtual_mic import OUTPUT_PORT
from tests.live_audio import RATE_HZ

ROOT = Path(__file__).resolve().parent.parent
NAME = "lass-live"
BLOCK_S = 0.5


class PortRecorder:
    """A JACK client that records one port of another client once it appears."""

    def __init__(self, port: str, seconds: float) -> None:
        import jack

        self.client = jack.Client("lass-mic-tester", no_start_server=True)
        self.inport = self.client.inports.register("in")
        self.recorded = np.zeros(int(seconds * RATE_HZ), dtype=np.float32)
        self.position = 0
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.port = port

    def connect_when_there(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.client.get_ports(self.port):
                self.client.connect(self.port, self.inport)
                return True
            time.sleep(0.02)
        return False

    def _process(self, frames: int) -> None:
        piece = self.inport.get_array()[: max(0, len(self.recorded) - self.position)]
        self.recorded[self.position : self.position + len(piece)] = piece
        self.position += frames

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def _median_block_snr_db(reference: np.ndarray, recorded: np.ndarray) -> tuple[float, float]:
    """Align ``recorded`` to ``reference`` by cross-correlation (either may start first); the median
    and the best SNR over 0.5 s blocks where both have sound."""
    n = len(reference) + len(recorded)
    correlation = np.fft.irfft(np.fft.rfft(recorded, n) * np.conj(np.fft.rfft(reference, n)), n)
    lag = int(np.argmax(correlation))
    lag = lag if lag < len(recorded) else lag - n
    recorded, reference = (recorded[lag:], reference) if lag >= 0 else (recorded, reference[-lag:])
    length = min(len(recorded), len(reference))
    recorded, reference = recorded[:length], reference[:length]
    block = int(BLOCK_S * RATE_HZ)
    snrs = [
        10 * np.log10(np.sum(reference[i : i + block] ** 2) / max(np.sum((reference - recorded)[i : i + block] ** 2), 1e-20))
        for i in range(0, length - block + 1, block)
        if np.sum(reference[i : i + block] ** 2) > 0 and np.sum(recorded[i : i + block] ** 2) > 0
    ]
    return float(np.median(snrs)), float(np.max(snrs))


def _example_at_device_rate(tmp_path):
    clip = read_audio(ROOT / "examples" / "speech_and_beeps.wav")
    mix = tmp_path / "mix.wav"
    write_audio(mix, resample(clip.samples.mean(0, keepdims=True), clip.sample_rate_hz, RATE_HZ), RATE_HZ, "FLOAT")
    return mix


def _offline(mix, out, block, settings):
    assert main(["stream", "--input-file", str(mix), "--output-file", str(out), "--block", str(block), *settings]) == 0
    return sf.read(out, dtype="float32")[0]


def test_the_virtual_mic_is_a_jack_client_that_records_like_the_offline_stream(jack, tmp_path):
    import jack as jack_client

    mix = _example_at_device_rate(tmp_path)
    settings = ["-q", "speech", "--hop-ms", "100"]
    offline = _offline(mix, tmp_path / "offline.wav", 512, settings)

    recorder = PortRecorder(f"{NAME}:{OUTPUT_PORT}", seconds=len(offline) / RATE_HZ + 15)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "stream", "--input-file", str(mix), "--virtual-mic", NAME, *settings],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert recorder.connect_when_there(timeout_s=60), process.stderr.read() if process.poll() is not None else "no port"
        port = recorder.client.get_port_by_name(f"{NAME}:{OUTPUT_PORT}")
        assert port.is_output and port.is_audio and not port.is_physical  # a source other clients can take
        assert process.wait(timeout=120) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        recorder.close()
    checker = jack_client.Client("lass-mic-checker", no_start_server=True)
    assert checker.get_ports(f"{NAME}:") == []  # stopping removed it
    checker.close()
    median_db, best_db = _median_block_snr_db(offline, recorder.recorded)
    assert median_db >= 15, (median_db, best_db)
    assert best_db >= 200, (median_db, best_db)  # sample-exact: where the engine kept up, the very same samples


def test_without_a_server_the_virtual_mic_says_what_to_start(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "lass-no-such-server")
    mix = ROOT / "examples" / "speech_and_beeps.wav"
    assert main(["stream", "--input-file", str(mix), "--virtual-mic", NAME, "-q", "speech"]) == 2
    said = capsys.readouterr().err
    assert "no JACK server to publish the virtual microphone 'lass-live' on: start one" in said and "Traceback" not in said


def test_on_pipewire_the_virtual_mic_is_an_audio_source_that_pw_record_records(pipewire, tmp_path):
    """As on a plain PipeWire desktop: no pw-jack in front, no JACK server named; PipeWire's JACK
    library is found, and libjack prints nothing."""
    from testing.pipewire_server import node_names

    env = {key: value for key, value in pipewire.items() if key != "JACK_DEFAULT_SERVER"}
    mix = _example_at_device_rate(tmp_path)
    settings = ["-q", "speech", "--hop-ms", "100"]
    quantum = 1024  # PipeWire's default period at 48 kHz: the engine runs in blocks of it
    offline = _offline(mix, tmp_path / "offline.wav", quantum, settings)
    stream = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "stream", "--input-file", str(mix), "--virtual-mic", NAME, *settings],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    recording = None
    try:
        deadline = time.monotonic() + 60
        while NAME not in node_names(env) and stream.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert NAME in node_names(env), stream.stderr.read() if stream.poll() is not None else "no node"
        listing = subprocess.run(["pw-cli", "ls", "Node"], env=env, capture_output=True, text=True).stdout
        assert f'node.name = "{NAME}"\n \t\tmedia.class = "Audio/Source"' in listing.replace("\r", ""), listing
        recording = subprocess.Popen(
            ["pw-record", "--target", NAME, "--rate", str(RATE_HZ), "--channels", "1", "--format", "f32", str(tmp_path / "rec.wav")],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        assert stream.wait(timeout=120) == 0, stream.stderr.read()
        said = stream.stderr.read()
        assert "Cannot connect" not in said and "jack" not in said.lower().replace("--virtual-mic", ""), said
    finally:
        for process in (stream, recording):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
    assert NAME not in node_names(env) and f"{NAME}-input" not in node_names(env)  # gone once stopped
    recorded = sf.read(tmp_path / "rec.wav", dtype="float32")[0]
    median_db, best_db = _median_block_snr_db(offline, recorded)
    assert median_db >= 15 and best_db >= 200, (median_db, best_db)
