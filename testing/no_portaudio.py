"""Running a command on this machine as if the PortAudio library were not installed: in a mount
namespace of its own, the library file is covered by an empty one (needs root, as CI has)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

LIBRARY_NAME = "libportaudio.so.2"


def portaudio_library() -> Path | None:
    """The PortAudio library file the dynamic loader finds, links resolved; None if there is none."""
    listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        if line.strip().startswith(LIBRARY_NAME) and "=>" in line:
            return Path(line.split("=>", 1)[1].strip()).resolve()
    return None


def can_hide_portaudio() -> bool:
    """Whether :func:`without_portaudio` works here (root, ``unshare``, and a library to hide)."""
    return os.geteuid() == 0 and portaudio_library() is not None and subprocess.run(
        ["unshare", "-m", "true"], capture_output=True
    ).returncode == 0


def without_portaudio(command: list[str]) -> list[str]:
    """``command`` wrapped so that it runs with the PortAudio library unloadable."""
    script = f"mount --bind /dev/null {shlex.quote(str(portaudio_library()))} && exec \"$@\""
    return ["unshare", "-m", "sh", "-c", script, "sh", *command]
