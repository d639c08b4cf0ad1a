"""Per-epoch scalars of each training stage as TensorBoard event files, when tensorboard is there.

``fit`` writes ``loss``, ``dev/precision``, ``dev/recall``, ``dev/f1`` (fractions 0-1) and
``lr`` at steps 1, 2, ... (the epoch, 1-based) into ``<run dir>/tensorboard/<stage>/``, through
``torch.utils.tensorboard.SummaryWriter``; ``tensorboard --logdir runs`` shows every cell. A
resumed stage purges the events past its saved epoch, so each epoch appears once.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CHOICES = ("auto", "tensorboard", "none")


def available() -> bool:
    """Whether the ``tensorboard`` package can be imported."""
    return importlib.util.find_spec("tensorboard") is not None


def enabled(log_with: str) -> bool:
    """Whether to write event files: ``tensorboard``, or ``auto`` with the package installed."""
    if log_with not in CHOICES:
        raise ValueError(f"log_with: expected one of {list(CHOICES)}, got {log_with!r}")
    if log_with == "tensorboard" and not available():
        raise ValueError(
            "log_with = tensorboard needs the tensorboard package (pip install tensorboard); "
            "or --log-with none"
        )
    return log_with != "none" and available()


def writer(log_dir: Path, first_epoch: int = 0):
    """A ``SummaryWriter`` on ``log_dir`` that drops events of epochs from ``first_epoch`` on."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(log_dir), purge_step=first_epoch + 1)


def log_epoch(board, record: dict, lr: float) -> None:
    """Write one epoch's ``metrics.jsonl`` record (loss, dev P/R/F1) and learning rate."""
    step = record["epoch"] + 1
    board.add_scalar("loss", record["loss"], step)
    for key in ("precision", "recall", "f1"):
        if f"dev_{key}" in record:
            board.add_scalar(f"dev/{key}", record[f"dev_{key}"], step)
    board.add_scalar("lr", lr, step)
    board.flush()  # an interrupted run keeps what it logged
