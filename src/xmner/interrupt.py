"""Ctrl-C and SIGTERM as one path: both end a run as ``KeyboardInterrupt`` in the main process.

``sigterm_as_interrupt()`` makes SIGTERM raise ``KeyboardInterrupt`` (as SIGINT does), so a
killed run unwinds like an interrupted one: locks released, atomic writes discarded, the last
saved epoch kept. Worker processes call ``ignore_interrupt()`` so that a Ctrl-C, which reaches
the whole process group, is handled by the parent alone; the parent then stops them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_CODE = 130  # 128 + SIGINT, what shells report for a Ctrl-C


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` (call from the main thread)."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def shielded() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM are ignored: clean-up that must not be cut short."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def ignore_interrupt() -> None:
    """Leave Ctrl-C to the parent process: this (worker) process ignores SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
