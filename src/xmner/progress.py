"""Progress on stderr: tqdm bars on a terminal, plain lines everywhere (one per event).

Off a terminal (a log file, a pipe, CI) bars are switched off, since their carriage returns
make unreadable logs; the plain lines (an epoch's loss and dev F1, a finished cell) are printed
either way, above any bar.
"""

from __future__ import annotations

import sys


def interactive() -> bool:
    """Whether stderr is a terminal (bars are drawn) rather than a file or a pipe."""
    return sys.stderr.isatty()


def bar(total: int, initial: int, desc: str, unit: str = "batch"):
    """A tqdm bar on stderr that disappears when done; disabled off a terminal."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, desc=desc, unit=unit, leave=False, file=sys.stderr,
        disable=not interactive(),
    )  # fmt: skip


def say(text: str) -> None:
    """One progress line on stderr (above any bar on a terminal)."""
    from tqdm.auto import tqdm

    tqdm.write(text, file=sys.stderr)
