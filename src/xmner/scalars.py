"""Per-epoch scalars of each training stage, as TensorBoard event files or MLflow runs.

``fit`` logs ``loss``, ``dev/precision``, ``dev/recall``, ``dev/f1`` (fractions 0-1) and ``lr``
at steps 1, 2, ... (the epoch, 1-based) through a logger from :func:`writer`:

- ``tensorboard``: ``torch.utils.tensorboard.SummaryWriter`` on ``<run dir>/tensorboard/<stage>/``
  (``tensorboard --logdir runs``); a resumed stage purges the events past its saved epoch.
- ``mlflow``: one MLflow run per cell stage (``en2zh/acn/TGT seed 1 · pretrain``) in the
  experiment named after the preset, in the file store ``<out>/mlruns`` unless
  ``MLFLOW_TRACKING_URI`` names another; params are the stage's settings, tags its cell. The
  run id is kept in ``<run dir>/<stage>.mlflow.json``: a resumed stage continues that run and
  logs only epochs past the last one it holds; a stage restarting from scratch replaces it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xmner.io import write_text

log = logging.getLogger(__name__)

CHOICES = ("auto", "tensorboard", "mlflow", "none")


def available(package: str = "tensorboard") -> bool:
    """Whether ``package`` (``tensorboard`` or ``mlflow``) can be imported."""
    return importlib.util.find_spec(package) is not None


def resolve(log_with: str) -> str:
    """The backend ``log_with`` asks for: ``auto`` is tensorboard when installed, else none."""
    if log_with not in CHOICES:
        raise ValueError(f"log_with: expected one of {list(CHOICES)}, got {log_with!r}")
    if log_with == "tensorboard" and not available("tensorboard"):
        raise ValueError(
            "log_with = tensorboard needs the tensorboard package (pip install tensorboard); "
            "or --log-with none"
        )
    if log_with == "mlflow" and not available("mlflow"):
        raise ValueError(
            "log_with = mlflow needs the mlflow package (pip install 'xmner[mlflow]'); "
            "or --log-with none"
        )
    if log_with == "auto":
        return "tensorboard" if available("tensorboard") else "none"
    return log_with


@dataclass(frozen=True)
class Target:
    """Where a cell's stages log: the backend and, for MLflow, the store, experiment and run."""

    backend: str = "none"  # tensorboard | mlflow | none (resolved)
    out: str = ""  # the runs directory; the MLflow store is <out>/mlruns
    experiment: str = ""  # the MLflow experiment: the preset's name
    name: str = ""  # the cell, e.g. "en2zh/acn/TGT seed 1"
    tags: dict[str, str] = field(default_factory=dict)  # direction, model, schedule, seed


class Logger(Protocol):
    """What ``fit`` calls: one record per epoch, then ``close`` when the stage ends."""

    def log_epoch(self, record: dict, lr: float) -> None: ...

    def close(self) -> None: ...


def values(record: dict, lr: float) -> dict[str, float]:
    """The scalars of one ``metrics.jsonl`` record (loss, dev P/R/F1) and the learning rate."""
    dev = {f"dev/{k}": record[f"dev_{k}"] for k in ("precision", "recall", "f1")
           if f"dev_{k}" in record}  # fmt: skip
    return {"loss": record["loss"], **dev, "lr": lr}


class TensorBoardLogger:
    """Event files on ``log_dir``, dropping those of epochs from ``first_epoch`` on."""

    def __init__(self, log_dir: Path, first_epoch: int = 0) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.board = SummaryWriter(log_dir=str(log_dir), purge_step=first_epoch + 1)

    def log_epoch(self, record: dict, lr: float) -> None:
        """Write one epoch's scalars at step ``epoch + 1``."""
        for key, value in values(record, lr).items():
            self.board.add_scalar(key, value, record["epoch"] + 1)
        self.board.flush()  # an interrupted run keeps what it logged

    def close(self) -> None:
        """Flush and close the event file."""
        self.board.close()


def tracking_uri(out: str | Path) -> str:
    """``MLFLOW_TRACKING_URI``, else the file store ``<out>/mlruns``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"file:{Path(out).resolve() / 'mlruns'}"


class MlflowLogger:
    """One MLflow run for one cell stage, continued across resumes (see the module's notes)."""

    def __init__(
        self, target: Target, run_dir: Path, stage: str, first_epoch: int, params: dict[str, Any]
    ) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        uri = tracking_uri(target.out)
        if uri.startswith("file:"):  # MLflow 3 asks to opt in to its file store
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(uri)
        self.id_path = Path(run_dir) / f"{stage}.mlflow.json"
        saved = json.loads(self.id_path.read_text()) if self.id_path.exists() else {}
        self.last_step = 0
        if first_epoch and saved.get("tracking_uri") == uri:
            self.run_id = saved["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            history = self.client.get_metric_history(self.run_id, "loss")
            self.last_step = max((m.step for m in history), default=0)
            return
        if saved.get("tracking_uri") == uri:  # restarted from scratch: its old run goes
            self.client.delete_run(saved["run_id"])
        run = self.client.create_run(
            self._experiment(target.experiment),
            run_name=f"{target.name} · {stage}",
            tags={**target.tags, "stage": stage},
        )
        self.run_id = run.info.run_id
        self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in params.items()])
        write_text(self.id_path, json.dumps({"run_id": self.run_id, "tracking_uri": uri}) + "\n")

    def _experiment(self, name: str) -> str:
        """The id of experiment ``name``, created if missing (another worker may race us)."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except MlflowException:
            return self.client.get_experiment_by_name(name).experiment_id

    def log_epoch(self, record: dict, lr: float) -> None:
        """Log one epoch's scalars at step ``epoch + 1``, unless the run holds it already."""
        from mlflow.entities import Metric

        step = record["epoch"] + 1
        if step <= self.last_step:
            return
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values(record, lr).items()]
        self.client.log_batch(self.run_id, metrics=metrics)
        self.last_step = step

    def close(self) -> None:
        """Mark the run finished."""
        self.client.set_terminated(self.run_id, "FINISHED")


def writer(
    target: Target | None,
    run_dir: Path,
    stage: str,
    first_epoch: int = 0,
    params: dict[str, Any] | None = None,
) -> Logger | None:
    """The logger of ``stage`` resuming at ``first_epoch`` (0-based), or None when not logging."""
    if target is None or target.backend == "none":
        return None
    if target.backend == "tensorboard":
        return TensorBoardLogger(Path(run_dir) / "tensorboard" / stage, first_epoch)
    if target.backend == "mlflow":
        return MlflowLogger(target, Path(run_dir), stage, first_epoch, params or {})
    raise ValueError(f"log backend: expected tensorboard, mlflow or none, got {target.backend!r}")


def discard(run_dir: Path) -> int:
    """Delete the MLflow runs of ``run_dir``'s stages (its work is being recomputed); how many."""
    deleted = 0
    for id_path in sorted(Path(run_dir).glob("*.mlflow.json")):
        saved = json.loads(id_path.read_text())
        try:
            from mlflow.tracking import MlflowClient

            if saved["tracking_uri"].startswith("file:"):
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            MlflowClient(saved["tracking_uri"]).delete_run(saved["run_id"])
            deleted += 1
        except Exception as err:  # mlflow gone, or the run already deleted: keep recomputing
            log.warning("could not delete MLflow run %s: %s", saved.get("run_id"), err)
    return deleted
