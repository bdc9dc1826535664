"""Without an audio server, or without the PortAudio library, the command line says so and what to
start or install: no traceback, no late error."""

import os
import subprocess
import sys

import pytest

from testing.no_portaudio import can_hide_portaudio, without_portaudio

NO_SERVER_ENV = {k: v for k, v in os.environ.items() if k != "JACK_DEFAULT_SERVER"} | {"JACK_NO_START_SERVER": "1"}


def _lass(*args, wrap=lambda command: command):
    command = wrap([sys.executable, "-m", "cli.main", *args])
    return subprocess.run(command, capture_output=True, text=True, env=NO_SERVER_ENV, timeout=120)


def test_list_devices_says_there_are_none():
    done = _lass("stream", "--list-devices")
    assert done.returncode == 0 and "no audio devices" in done.stdout and "PipeWire" in done.stdout


@pytest.mark.parametrize("device", ["1", "mic"])
def test_a_device_without_a_server_is_a_clear_error_before_the_model_loads(device):
    done = _lass("stream", "-q", "speech", "--input-device", device)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("lass: error: no audio devices") and "Traceback" not in done.stderr
    assert "Loading weights" not in done.stderr  # refused before the model was read


@pytest.mark.skipif(not can_hide_portaudio(), reason="hiding the PortAudio library needs root and unshare")
@pytest.mark.parametrize("args", [("stream", "--list-devices"), ("stream", "-q", "speech", "--input-device", "1")])
def test_without_portaudio_the_command_says_what_to_install(args):
    done = _lass(*args, wrap=without_portaudio)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lass: error: the PortAudio library is not installed")
    assert "apt-get install libportaudio2" in lines[0]
