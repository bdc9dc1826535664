"""What a benchmark needs to know about the machine: its name, and whether anyone else was using it.

Timings on a shared machine are only meaningful when the machine was quiet: ``ForeignLoad`` reads
/proc/stat around a run and subtracts the CPU time of this process and of the subprocesses it ran,
so a run can be rejected when other processes took more than a fraction of the cores.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

import torch

QUIET_FOREIGN_CORES = 0.2


def describe() -> dict[str, str | int]:
    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that over from the parent through fork and exec,
    so a child started by a large benchmark process would report the parent's peak.
    """
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _busy_jiffies() -> int:
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle


def _own_cpu_s() -> float:
    """CPU seconds of this process and of the child processes it has waited for (a benchmark's own
    subprocesses are not foreign load)."""
    return sum(os.times()[:4])


@dataclass
class ForeignLoad:
    """Context manager: ``cores`` is the average number of cores other processes kept busy."""

    cores: float = float("nan")

    def __enter__(self) -> ForeignLoad:
        self._busy, self._own, self._wall = _busy_jiffies(), _own_cpu_s(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        busy_s = (_busy_jiffies() - self._busy) / ticks
        own_s = _own_cpu_s() - self._own
        self.cores = max(0.0, busy_s - own_s) / max(1e-9, time.monotonic() - self._wall)

    @property
    def quiet(self) -> bool:
        return self.cores <= QUIET_FOREIGN_CORES
