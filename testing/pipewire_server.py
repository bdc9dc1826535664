"""A private PipeWire server (with WirePlumber, on a session bus of its own): a desktop's audio path
without a desktop, for tests and CI (``.ci/run`` installs pipewire, pipewire-bin, pipewire-jack,
wireplumber and dbus); test support, never imported by the runtime. Without a sound card it runs on
PipeWire's dummy driver.

Everything lives under one runtime folder; the environment that reaches the server (and PipeWire's
JACK library, through ``pw-jack``) is returned by :func:`pipewire_server` for subprocesses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testing.jack_server import stop

START_TIMEOUT_S = 10.0
NEEDED = ("dbus-daemon", "pipewire", "wireplumber", "pw-cli", "pw-jack", "pw-loopback", "pw-record")


def missing_programs() -> list[str]:
    return [name for name in NEEDED if shutil.which(name) is None]


@contextmanager
def pipewire_server() -> Iterator[dict[str, str]]:
    """Start dbus, pipewire and wireplumber in a fresh runtime folder; yield the environment to reach
    them; stop all three after."""
    missing = missing_programs()
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: apt-get install pipewire pipewire-bin pipewire-jack wireplumber dbus")
    with tempfile.TemporaryDirectory(prefix="lass-pipewire-") as folder:
        runtime, config = Path(folder) / "run", Path(folder) / "config"
        runtime.mkdir(mode=0o700)
        # Without systemd-logind and BlueZ, WirePlumber's bluetooth monitor stops it from starting.
        (config / "wireplumber" / "bluetooth.lua.d").mkdir(parents=True)
        (config / "wireplumber" / "bluetooth.lua.d" / "90-off.lua").write_text("bluez_monitor.enabled = false\n")
        env = os.environ | {"XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(config)}
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, text=True, env=env)
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        processes = [bus]
        try:
            for program in ("pipewire", "wireplumber"):
                processes.append(subprocess.Popen([program], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            _wait_for_nodes(env)
            yield env
        finally:
            for process in reversed(processes):
                stop(process)


def node_names(env: dict[str, str]) -> list[str]:
    """The ``node.name`` of every node on the server."""
    listing = subprocess.run(["pw-cli", "ls", "Node"], env=env, capture_output=True, text=True).stdout
    return [line.split("=", 1)[1].strip().strip('"') for line in listing.splitlines() if line.strip().startswith("node.name")]


def _wait_for_nodes(env: dict[str, str]) -> None:
    """Until the server answers with its driver nodes and WirePlumber (which links streams) is on it."""
    deadline = time.monotonic() + START_TIMEOUT_S
    clients = lambda: subprocess.run(["pw-cli", "ls", "Client"], env=env, capture_output=True, text=True).stdout
    while not node_names(env) or "WirePlumber" not in clients():
        if time.monotonic() > deadline:
            raise RuntimeError(f"PipeWire did not come up within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.1)
