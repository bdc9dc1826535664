"""`lass separate` over many machines and processes, on torchrun (PyTorch's own launcher) and
torch.distributed: each process takes every ``WORLD_SIZE``-th file from its ``RANK`` (the same sorted
list everywhere, so each file is separated exactly once), and at the end the reports are gathered
and rank 0 writes the one log. The gloo process group starts before any work: a rank that fails at any
point closes its connections, and the others' gathering fails at once instead of waiting out the timeout.

    torchrun --nproc-per-node 8 -m cli.main separate archive/ -q speech -o out/          # 8 GPUs
    torchrun --nnodes 2 --node-rank N --nproc-per-node 8 --master-addr HOST --master-port 29500 \\
        -m cli.main separate archive/ -q speech -o out/                                  # 2 nodes

Without torchrun (no ``WORLD_SIZE``), a run is one process and none of this is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from models.many_files import BatchReport

Item = TypeVar("Item")


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes, as torchrun sets them (0 and 1 alone)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def local_device(device: str) -> str:
    """``auto`` on a machine with GPUs under torchrun: this process's own GPU (``LOCAL_RANK``)."""
    import torch

    if device == "auto" and "LOCAL_RANK" in os.environ and torch.cuda.is_available():
        return f"cuda:{int(os.environ['LOCAL_RANK']) % torch.cuda.device_count()}"
    return device


def share(items: Sequence[Item], rank: int, world: int) -> list[Item]:
    """This rank's items: every ``world``-th from ``rank``; together the ranks take each item once."""
    return list(items[rank::world])


@contextmanager
def process_group(world: int) -> Iterator[None]:
    """The gloo process group of the whole run (nothing when ``world`` is 1), stopped however it ends."""
    if world == 1:
        yield
        return
    import torch.distributed as dist

    dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def gathered(report: BatchReport) -> BatchReport:
    """Every rank's report merged into one (on every rank), inside :func:`process_group`."""
    import torch.distributed as dist

    reports: list[BatchReport | None] = [None] * dist.get_world_size()
    dist.all_gather_object(reports, report)
    return BatchReport(
        separated=[source for r in reports for source in r.separated],
        skipped=[source for r in reports for source in r.skipped],
        failed={source: error for r in reports for source, error in r.failed.items()},
        audio_s=sum(r.audio_s for r in reports),
        wall_s=max(r.wall_s for r in reports),
        passes=sum(r.passes for r in reports),
    )
