"""Run ``xmner reproduce`` and SIGKILL this process at a chosen point (test helper).

    python killed_run.py POINT N -- ARGS...

POINT is where the process dies, on the N-th time it gets there (1-based):
``translate`` (a call to the lexicon engine), ``embed`` (a fastText training run),
``step`` (an optimiser step), ``eval`` (a decoding call, dev or test), ``state`` (half-way
through writing a resume state); ``none`` runs to the end. Nothing is cleaned up on the way
down: SIGKILL is what a crash, an OOM kill or a power cut looks like to the run directory.
"""

from __future__ import annotations

import io
import os
import signal
import sys

import torch

from xmner import cli
from xmner.align import space
from xmner.models.acn import ACN
from xmner.pipelines import resume
from xmner.translate.lexicon import LexiconTranslator


def die() -> None:
    """SIGKILL: no handler, no flush, no atexit."""
    os.kill(os.getpid(), signal.SIGKILL)


def counting(original, n: int):
    """``original`` that kills the process on its n-th call, before doing anything."""
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            die()
        return original(*args, **kwargs)

    return wrapper


def torn_state_writes(n: int) -> None:
    """The n-th resume state is written half-way (through its atomic temp file), then death."""
    real_save, calls = resume.torch.save, [0]

    def save(obj, f, *args, **kwargs):
        calls[0] += 1
        if calls[0] != n:
            return real_save(obj, f, *args, **kwargs)
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
        die()

    class TornTorch:
        def __getattr__(self, name):
            return save if name == "save" else getattr(torch, name)

    resume.torch = TornTorch()


def main() -> int:
    point, n, args = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
    if point == "translate":
        LexiconTranslator.translate = counting(LexiconTranslator.translate, n)
    elif point == "embed":
        space.train_fasttext = counting(space.train_fasttext, n)
    elif point == "step":
        torch.optim.Adam.step = counting(torch.optim.Adam.step, n)
    elif point == "eval":
        ACN.decode = counting(ACN.decode, n)
    elif point == "state":
        torn_state_writes(n)
    elif point != "none":
        raise SystemExit(f"unknown kill point {point!r}")
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
