"""Resume state of a training stage: tensors and plain numbers only, read with ``weights_only``.

``<stage>.state.pt`` holds the model, optimiser and scheduler state dicts, the epoch, the
selection bookkeeping, the length of ``metrics.jsonl`` at that point and every random
generator (torch CPU and CUDA, numpy, Python's ``random``) as tensors and numbers, so that a
resumed run continues exactly where an uninterrupted one would be. Nothing in it is pickled
code: ``torch.load(..., weights_only=True)`` reads it, and refuses anything else.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xmner import manifest
from xmner.io import atomic_open

log = logging.getLogger(__name__)


def rng_state() -> dict[str, Any]:
    """Every random generator's state as tensors and numbers."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    assert kind == "MT19937"
    return {
        "python": torch.tensor(mt, dtype=torch.int64),
        "python_version": int(version),
        "python_gauss": gauss,  # None or a float
        "numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_gauss": float(cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by ``rng_state``."""
    mt = tuple(int(x) for x in state["python"].tolist())
    random.setstate((state["python_version"], mt, state["python_gauss"]))
    keys = state["numpy"].numpy().astype(np.uint32)
    np.random.set_state(
        ("MT19937", keys, state["numpy_pos"], state["numpy_has_gauss"], state["numpy_gauss"])
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the generators) atomically and record it in the manifest."""
    with atomic_open(path, "wb") as f:
        torch.save({**state, "rng": rng_state()}, f)
    manifest.record(path)


def load_state(path: Path) -> dict[str, Any] | None:
    """The resume state in ``path``; None (with a warning) if absent, cut or unrecorded.

    A file that verifies against the manifest but holds anything besides tensors and plain
    values (pickled code) is a ``ValueError`` naming it: it is never executed.
    """
    if not path.exists():
        return None
    if not manifest.usable(path):  # a cut or foreign file: the stage restarts
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{path}: not a plain resume state (tensors and numbers); refusing to load it: {first}"
        ) from None
