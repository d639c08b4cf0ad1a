"""Which GPU each parallel worker (``--jobs``) uses: one each, round-robin over those visible.

Worker ``k`` (numbered as the workers start) sees only GPU ``k mod n`` of the ``n`` visible
ones, through ``CUDA_VISIBLE_DEVICES`` set before it touches CUDA, so its ``cuda:0`` is its own
GPU. With one GPU or none nothing is changed (workers share the one GPU, or run on CPUs).
"""

from __future__ import annotations

import os
from typing import Any


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names them (ids or UUIDs)."""
    import torch

    count = torch.cuda.device_count()
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(count)]
    return [name.strip() for name in listed.split(",") if name.strip()][:count]


def gpu_for_worker(index: int, gpus: list[str]) -> str | None:
    """The GPU of worker ``index`` (round-robin), or None to leave it be (fewer than two GPUs)."""
    if len(gpus) < 2:
        return None
    return gpus[index % len(gpus)]


def claim_gpu(counter: Any, gpus: list[str]) -> str | None:
    """Show this process only the GPU of the next worker number in ``counter`` (a shared Value)."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    gpu = gpu_for_worker(index, gpus)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    return gpu
