"""How much freed memory the C heap keeps: glibc's mmap threshold, set from inside the process.

glibc serves an allocation at or above its mmap threshold with its own ``mmap`` and gives it
back to the system when freed; below it, freed blocks stay in the heap for reuse. The
threshold grows on its own up to 32 MiB, so a training step's activations (tens of MiB each on
a long batch) stay in the heap after the step, and the peak resident memory becomes the sum of
several steps' worth. Fixing the threshold (``mallopt(M_MMAP_THRESHOLD)``, what the
``MALLOC_MMAP_THRESHOLD_`` variable does at start-up) returns them at once, for a few page
faults more per step (docs/umt.md, "Against the authors' regime").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc if hasattr(libc, "mallopt") else None  # glibc; musl has none
    except OSError:
        return None


def set_mmap_threshold(mib: int) -> bool:
    """Serve allocations of ``mib`` MiB or more by mmap (glibc); whether it was set (0: leave)."""
    if mib <= 0:
        return False
    libc = _libc()
    if libc is None:
        log.info("no glibc mallopt here: the mmap threshold stays the allocator's own")
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mib << 20))


def trim() -> bool:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``); whether any went."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
