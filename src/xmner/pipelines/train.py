"""One training loop for every model, on Hugging Face ``accelerate``.

A model has ``loss(batch) -> Tensor`` and ``decode(batch) -> list[list[str]]``; a collator
turns a list of examples into that batch. The same code runs on CPU, on one GPU with mixed
precision, or data-parallel under ``accelerate launch``: each process trains on its share of
the batches, dev and test predictions are gathered in input order, and the main process alone
writes the stage's files (``distributed``). Batches are bucketed by length.

Each stage (pretraining, fine-tuning) keeps in its run directory:
``<stage>.state.pt`` (model, optimiser, scheduler, every RNG, epoch: see ``resume``),
``<stage>.best.pt`` (the selected weights), ``<stage>.done.json`` (the stage is finished and is
skipped on a rerun), and one line per epoch in ``metrics.jsonl``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xmner import allocator, manifest, scalars
from xmner.eval.metrics import score
from xmner.io import append_text, atomic_open, read_json, read_text, write_json, write_text
from xmner.pipelines import distributed
from xmner.pipelines.resume import load_state, rng_state, save_state, set_rng_state
from xmner.progress import Task

log = logging.getLogger(__name__)


@dataclass
class StageConfig:
    """How one stage trains: epochs, optimiser, schedule, selection and batching."""

    epochs: int = 10
    lr: float = 1e-3
    optimizer: str = "adam"  # adam | adamw
    weight_decay: float = 0.0
    warmup: float = 0.0  # fraction of steps with linear warm-up, then linear decay (0: constant)
    batch_size: int = 16
    eval_batch_size: int = 64
    patience: int = 0  # stop after this many epochs without dev improvement (0: never)
    select: bool = True  # keep the epoch with the best dev F1; False: keep the last epoch
    grad_clip: float = 5.0
    mixed_precision: str = "no"  # no | fp16 | bf16 (GPU)


@dataclass
class StageResult:
    """What a finished stage reports: best epoch and dev scores, epochs run, wall time."""

    stage: str
    best_epoch: int
    best_dev_f1: float
    epochs_run: int
    seconds: float
    epochs_cap: int = 0
    patience: int = 0
    stopped: str = "cap"  # patience: dev F1 stopped improving | cap: ran out of epochs


class BucketBatchSampler:
    """Batches of similar length: shuffle, sort within pools of ``pool`` batches, shuffle batches.

    The order depends only on (seed, epoch), so a resumed run sees the same batches. Batches
    vary in size (the last of each pool is short), so ``batch_size`` is None: accelerate's
    sharding then deals whole batches round-robin instead of assuming full ones (with a size
    it would drop every round whose last batch is short).
    """

    batch_size = None  # what accelerate's BatchSamplerShard reads; ``size`` is the real one

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, pool: int = 50):
        self.lengths, self.size, self.seed, self.pool = list(lengths), batch_size, seed, pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order is produced next."""
        self.epoch = epoch

    def __iter__(self):
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        size = self.size * self.pool
        batches = []
        for start in range(0, len(order), size):
            chunk = sorted(order[start : start + size], key=lambda i: -self.lengths[i])
            batches += [chunk[i : i + self.size] for i in range(0, len(chunk), self.size)]
        rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.size)


def _optimizer(model: torch.nn.Module, cfg: StageConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    # one fused kernel per step instead of ~10 passes over each tensor: on CPU the dense
    # gradient of a trainable 36k x 300 embedding table made Adam a third of ACN's step
    fused = bool(params) and all(
        p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params
    )
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected adam or adamw")


def _scheduler(optimizer: torch.optim.Optimizer, cfg: StageConfig, total_steps: int):
    warmup = int(cfg.warmup * total_steps)

    def factor(step: int) -> float:
        if cfg.warmup <= 0:
            return 1.0
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        return max(0.0, (total_steps - step) / max(total_steps - warmup, 1))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def predict(
    model: torch.nn.Module,
    examples: Sequence[Any],
    collate: Callable[[list], dict],
    batch_size: int = 64,
    lengths: Sequence[int] | None = None,
) -> list[list[str]]:
    """Predicted tag strings per example (in input order), batched by length, no gradients.

    Under a data-parallel launch (every process calls it) each process decodes every
    ``world``-th batch, and every process gets all predictions, each example's once.
    """
    from accelerate.utils import send_to_device

    device = next(model.parameters()).device
    order = sorted(range(len(examples)), key=lambda i: -(lengths[i] if lengths else 0))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    mine: list[tuple[int, list[str]]] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for idx in batches[distributed.rank() :: distributed.world_size()]:
            batch = send_to_device(collate([examples[i] for i in idx]), device)
            mine += zip(idx, model.decode(batch))
    model.train(was_training)
    out: list[list[str] | None] = [None] * len(examples)
    for i, tags in distributed.gather(mine):
        out[i] = tags
    return out  # type: ignore[return-value]


class LossModule(torch.nn.Module):
    """Exposes ``model.loss`` as ``forward`` so that data-parallel wrappers see the call."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict) -> torch.Tensor:
        return self.model.loss(batch)


def fit(
    model: torch.nn.Module,
    train: Sequence[Any],
    dev: Sequence[Any],
    collate: Callable[[list], dict],
    cfg: StageConfig,
    run_dir: str | Path,
    stage: str,
    seed: int,
    lengths: Sequence[int],
    dev_gold: list[list[str]] | None = None,
    dev_lengths: Sequence[int] | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    progress: bool = False,
    name: str = "",
    log_to: scalars.Target | None = None,
) -> StageResult:
    """Train ``model`` in place for one stage; resumes or skips from files in ``run_dir``.

    ``dev_gold`` (tag sequences of ``dev``) enables selection on dev F1. On return the model
    holds the selected weights. ``on_epoch_end`` is called after each epoch's state is saved.
    ``progress`` draws a bar (on a terminal) and prints a line per epoch naming ``name``;
    ``log_to`` logs each epoch's scalars (TensorBoard or MLflow, ``xmner.scalars``). Under a
    data-parallel launch every process calls it; the main process alone writes files and shows
    progress (the others wait for it where they read them).
    """
    from accelerate import Accelerator
    from accelerate.utils import send_to_device
    from torch.utils.data import DataLoader

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    done, state_path, best_path = (
        run_dir / f"{stage}.done.json",
        run_dir / f"{stage}.state.pt",
        run_dir / f"{stage}.best.pt",
    )
    if done.exists():
        result = StageResult(**read_json(manifest.verify(done)))
        model.load_state_dict(load_weights(best_path))
        log.info("%s: stage %s already finished; loaded its weights", run_dir, stage)
        return result

    main = distributed.is_main()
    progress = progress and main
    accelerator = Accelerator(
        mixed_precision=cfg.mixed_precision if torch.cuda.is_available() else "no"
    )
    if accelerator.device.type == "cpu":  # a model may ask the C heap to keep less (UMT)
        threshold = getattr(getattr(model, "config", None), "cpu_mmap_threshold_mib", 0)
        allocator.set_mmap_threshold(threshold)
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    sampler = BucketBatchSampler(lengths, cfg.batch_size, seed)
    loader = DataLoader(list(train), batch_sampler=sampler, collate_fn=collate)
    optimizer = _optimizer(model, cfg)
    scheduler = _scheduler(optimizer, cfg, max(1, cfg.epochs * len(sampler)))
    trainer, optimizer, scheduler, loader = accelerator.prepare(
        LossModule(model), optimizer, scheduler, loader
    )
    start_epoch, best_f1, best_epoch, stale, elapsed = 0, -1.0, -1, 0, 0.0
    metrics_path = run_dir / "metrics.jsonl"
    with distributed.main_first():  # a damaged state is deleted by the main process alone
        state = load_state(state_path)
    if state is not None:
        if (state["sampler_seed"], state["stage"]) != (seed, stage):
            raise ValueError(f"{state_path}: saved for another seed or stage; delete it")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(_own_rng(state))
        start_epoch, best_f1, best_epoch = state["epoch"] + 1, state["best_f1"], state["best_epoch"]
        stale, elapsed = state["stale"], state["seconds"]
        if main:  # lines of epochs after the state: redone
            _truncate(metrics_path, state["metrics_size"])
        log.info("%s: resuming stage %s at epoch %d", run_dir, stage, start_epoch)
    elif main:
        _drop_stage_lines(metrics_path, stage)  # a stage restarting from scratch
    name = name or run_dir.name
    per_epoch = len(loader)  # this process's share of the batches
    what = f"{cfg.epochs} epochs of {per_epoch} batches"
    what += f", resuming at epoch {start_epoch + 1}" if start_epoch else ""
    # a bar on a terminal; off it, a line when 10 s pass without one (checked at each batch)
    task = Task(
        f"{name} · {stage}", cfg.epochs * per_epoch, "batches", what=what, every=1.0,
        initial=start_epoch * per_epoch, enabled=progress, ticker=False,
    ).start()  # fmt: skip
    board = scalars.writer(log_to, run_dir, stage, start_epoch, asdict(cfg)) if main else None
    epochs_run, stopped = start_epoch, "cap"
    if cfg.patience and stale >= cfg.patience:  # killed after its last epoch was saved
        stopped = "patience"
    for epoch in range(start_epoch, cfg.epochs if stopped == "cap" else start_epoch):
        t0 = time.perf_counter()
        trainer.train()
        # accelerate's loader sets its sampler's epoch from its own count of iterations, which
        # restarts at 0 in a resumed process: set the loader's, so batch order follows ``epoch``;
        # a sharded loader (several processes) does not pass it on to our sampler: set it too
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        sampler.set_epoch(epoch)
        total, steps = 0.0, 0
        for batch in loader:
            batch = send_to_device(batch, accelerator.device)
            with accelerator.autocast():
                loss = trainer(batch)
            optimizer.zero_grad()
            accelerator.backward(loss)
            if cfg.grad_clip > 0:
                accelerator.clip_grad_norm_(trainer.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            total, steps = total + loss.item(), steps + 1
            task.update()
        if distributed.active():  # the mean loss over every process's batches
            sums = torch.tensor([total, steps], dtype=torch.float64, device=accelerator.device)
            total, steps = accelerator.reduce(sums, reduction="sum").tolist()
        record: dict[str, Any] = {"stage": stage, "epoch": epoch, "loss": total / max(steps, 1)}
        improved = True
        if cfg.select and dev_gold is not None:
            pred = predict(model, dev, collate, cfg.eval_batch_size, dev_lengths)
            s = score(dev_gold, pred)
            record.update(dev_precision=s.precision, dev_recall=s.recall, dev_f1=s.f1)
            improved = s.f1 > best_f1
        elapsed += time.perf_counter() - t0
        record["seconds"] = round(elapsed, 2)
        if improved:
            best_f1, best_epoch, stale = record.get("dev_f1", best_f1), epoch, 0
            if main:
                save_weights(best_path, model.state_dict())
        else:
            stale += 1
        epochs_run = epoch + 1
        # each process's generators, so that a resumed launch continues as this one would
        rng_ranks = distributed.gather([rng_state()]) if distributed.active() else None
        if main:
            append_text(metrics_path, json.dumps(record) + "\n")
            manifest.record(metrics_path)
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "stage": stage,
                "sampler_seed": seed,
                "epoch": epoch,
                "best_f1": best_f1,
                "best_epoch": best_epoch,
                "stale": stale,
                "seconds": elapsed,
                "metrics_size": metrics_path.stat().st_size,
            }
            if rng_ranks is not None:
                state["rng_ranks"] = rng_ranks
            save_state(state_path, state)
        log.info("%s %s epoch %d: %s", run_dir, stage, epoch, record)
        task.line(epoch_line(name, stage, record, cfg.epochs, best_f1, best_epoch))
        if board is not None:
            board.log_epoch(record, optimizer.param_groups[0]["lr"])
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        if cfg.patience and stale >= cfg.patience:
            log.info("%s %s: no dev improvement for %d epochs; stopping", run_dir, stage, stale)
            stopped = "patience"
            break
    task.result = f"best dev F1 {100 * best_f1:.1f} @ {best_epoch + 1}" if best_f1 >= 0 else ""
    task.close()
    if board is not None:
        board.close()
    result = StageResult(
        stage, best_epoch, best_f1, epochs_run, round(elapsed, 2), cfg.epochs, cfg.patience,
        stopped,
    )  # fmt: skip
    if main:
        write_json(done, asdict(result))
        manifest.record(done)
        state_path.unlink(missing_ok=True)
    distributed.wait()  # the others read the best weights once the main process wrote them all
    model.load_state_dict(load_weights(best_path))
    return result


def _own_rng(state: dict) -> dict:
    """This process's saved generators: its own under the same launch size, else the main's."""
    ranks = state.get("rng_ranks")
    if ranks and len(ranks) == distributed.world_size():
        return ranks[distributed.rank()]
    return state["rng"]


def epoch_line(
    name: str, stage: str, record: dict, epochs: int, best_f1: float, best_epoch: int
) -> str:
    """``en2zh/acn/TGT seed 1 · pretrain epoch 3/12 · loss 1.23 · dev F1 61.2 (best 62.0 @ 2)``."""
    line = f"{name} · {stage} epoch {record['epoch'] + 1}/{epochs} · loss {record['loss']:.2f}"
    if "dev_f1" in record:
        line += f" · dev F1 {100 * record['dev_f1']:.1f}"
        line += f" (best {100 * best_f1:.1f} @ {best_epoch + 1})"
    return line


def save_weights(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Write a state dict atomically and record it in the manifest."""
    with atomic_open(path, "wb") as f:
        torch.save(state_dict, f)
    manifest.record(path)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict written by ``save_weights``, verified; else a ``ValueError`` naming it."""
    manifest.verify(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise ValueError(f"{path}: not a readable weights file ({type(err).__name__})") from None


def _truncate(path: Path, size: int) -> None:
    """Cut ``path`` back to ``size`` bytes (lines written after the resume state was saved)."""
    if path.exists() and path.stat().st_size > size:
        with open(path, "r+b") as f:
            f.truncate(size)
        manifest.record(path)


def _drop_stage_lines(path: Path, stage: str) -> None:
    """Remove ``stage``'s lines from ``metrics.jsonl`` (its earlier, abandoned attempt)."""
    if not path.exists():
        return
    lines = read_text(path).splitlines(keepends=True)
    kept = [line for line in lines if _stage_of(line) not in (stage, None)]
    if kept != lines:
        write_text(path, "".join(kept))
        manifest.record(path)


def _stage_of(line: str) -> str | None:
    try:
        return json.loads(line).get("stage")
    except ValueError:
        return None  # a line cut by a crash: dropped with its stage
