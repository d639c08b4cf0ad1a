"""Data-parallel runs under ``accelerate launch`` (or ``torchrun``): who writes, who waits.

Every process of a launch trains the same cell on its share of the batches. The main process
alone takes the locks and writes run files and caches; the others wait for it at a barrier and
read what it wrote, so ``--out`` (and the cache in it) must be on a file system that every
process sees. In a plain process (no ``WORLD_SIZE`` or MPI size in the environment) nothing
here touches ``torch.distributed``: every helper is then a no-op or runs its argument directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# what accelerate reads to tell a launched process from a plain one (torchrun, then MPI)
_WORLD_ENV = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def world_size() -> int:
    """How many processes this launch has (1 outside a launcher)."""
    for name in _WORLD_ENV:
        if os.environ.get(name):
            return int(os.environ[name])
    return 1


def active() -> bool:
    """Whether this process is one of several of a data-parallel launch."""
    return world_size() > 1


# how long a process waits at a barrier: the others wait there while the main process builds
# the shared artefacts (translating a train split on CPUs takes hours; torch's default, 10 or
# 30 minutes, would end the launch)
BARRIER_TIMEOUT = timedelta(hours=12)


def state():
    """accelerate's process state, set up on first use: gloo on CPUs, NCCL on GPUs."""
    import torch
    from accelerate import PartialState

    flag = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return PartialState(cpu=flag or not torch.cuda.is_available(), timeout=BARRIER_TIMEOUT)


def rank() -> int:
    """This process's index in the launch (0 outside a launcher)."""
    return state().process_index if active() else 0


def local_size() -> int:
    """How many processes of the launch share this machine (its cores)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE") or world_size())


def is_main() -> bool:
    """Whether this process writes run files (always, outside a launcher)."""
    return not active() or state().is_main_process


def wait() -> None:
    """Wait until every process of the launch gets here."""
    if active():
        state().wait_for_everyone()


@contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (writing caches), then the others (reading them)."""
    if not active():
        yield
        return
    with state().main_process_first():
        yield


def main_lock(directory: str | Path):
    """``locks.hold(directory)`` in the main process; nothing in the others."""
    from xmner import locks

    return locks.hold(directory) if is_main() else nullcontext()


def from_main(compute: Callable[[], T]) -> T:
    """``compute()`` run by the main process alone, its result sent to every process."""
    if not active():
        return compute()
    from accelerate.utils import broadcast_object_list

    box = [compute() if is_main() else None]
    broadcast_object_list(box, from_process=0)
    return box[0]


def gather(items: list[Any]) -> list[Any]:
    """Every process's ``items`` concatenated in process order, in every process."""
    if not active():
        return items
    from accelerate.utils import gather_object

    state()  # set up with the CPU flag before accelerate's own PartialState() call
    return gather_object(items)


def finish() -> None:
    """Wait for every process, then close the launch's process group, so that none exits first.

    A process that exits while gloo's threads of the group still run aborts (``terminate called
    without an active exception``, SIGABRT), and the launcher then ends the others.
    """
    if active():
        state().wait_for_everyone()
        state().destroy_process_group()
