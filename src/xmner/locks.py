"""One writer per directory: a ``filelock`` lock file that names its holder.

``hold(directory)`` takes ``<directory>/.lock`` (a kernel lock: released when the holder's
process dies, so a stale lock of a dead process is simply taken over) and writes the holder's
pid, host and start time into it. A second process waits ``wait`` seconds, then stops with a
message naming the holder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK = ".lock"


class Busy(OSError):
    """Another live process holds the lock."""


def holder(lock_path: str | Path) -> str:
    """Who wrote ``lock_path`` last: ``pid 123 on host (since ...)``, or ``unknown``."""
    try:
        info = json.loads(Path(lock_path).read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']} (since {info['since']}: {info['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown process"


@contextmanager
def hold(
    directory: str | Path, wait: float | None = 0.0, command: str = "", name: str = LOCK
) -> Iterator[Path]:
    """Hold ``directory``'s lock for the block; ``Busy`` if another process keeps it ``wait`` s.

    ``wait=None`` waits as long as it takes (shared caches); ``name`` picks the lock file.
    """
    from filelock import FileLock, Timeout

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=-1 if wait is None else wait)
    except Timeout:
        raise Busy(
            f"{directory} is in use by {holder(path)}; wait for it to finish, or use another --out"
        ) from None
    try:
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
        command = command or " ".join(sys.argv)
        with open(path, "r+", encoding="utf-8") as f:  # the kernel lock is on the inode: keep it
            f.truncate(0)
            f.write(json.dumps({**info, "command": command}) + "\n")
        yield path
    finally:
        lock.release()
