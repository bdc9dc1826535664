"""Without an audio server, the command line says so and what to start: no traceback, no late error."""

import os
import subprocess
import sys

import pytest

NO_SERVER_ENV = {k: v for k, v in os.environ.items() if k != "JACK_DEFAULT_SERVER"} | {"JACK_NO_START_SERVER": "1"}


def _lass(*args):
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=NO_SERVER_ENV, timeout=120)


def test_list_devices_says_there_are_none():
    done = _lass("stream", "--list-devices")
    assert done.returncode == 0 and "no audio devices" in done.stdout and "PipeWire" in done.stdout


@pytest.mark.parametrize("device", ["1", "mic"])
def test_a_device_without_a_server_is_a_clear_error_before_the_model_loads(device):
    done = _lass("stream", "-q", "speech", "--input-device", device)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("lass: error: no audio devices") and "Traceback" not in done.stderr
    assert "Loading weights" not in done.stderr  # refused before the model was read
