"""How long, and with how much memory, the cells left of a run will take: from measured costs.

A stage costs ``posts x epochs x seconds per post-epoch`` (dev evaluation included). Seconds
per post-epoch and the epochs a stage runs before early stopping are measured per (direction,
model, stage) on the stages finished in the runs directory: every ``results.json``'s stages,
and the ``<stage>.done.json`` of a planned cell still running (its posts from the plan). Where
the runs directory has none for a key, the packaged ``costs.json`` (measured on the reference
machine, which it names) is used. A stage half done counts only its epochs left. Cells are laid
on the workers in plan order, each to the first worker free (as ``run_cells`` hands them out);
the wall time is when the last one ends. Peak memory is the parent process plus one worker per
cell running at once (``report/timings.json``, else the packaged figures). Approximate: early
stopping decides the epochs, and test prediction, start-up and the shared steps are not counted.
"""

from __future__ import annotations

import heapq
import json
import math
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

from xmner.pipelines.schedules import DIRECTIONS, plan

if TYPE_CHECKING:
    from xmner.pipelines.config import ExperimentConfig
    from xmner.pipelines.experiment import Cell

PACKAGED = Path(__file__).with_name("costs.json")

Key = tuple[str, str, str]  # (direction, model, stage)


@dataclass
class Sample:
    """One finished stage: what it trained on and how long it took."""

    key: Key
    posts: int
    epochs: int
    seconds: float


@dataclass
class StageCost:
    """Seconds per (post x epoch) and mean epochs run, over ``stages`` finished stages."""

    seconds_per_post_epoch: float
    epochs: float
    stages: int


@dataclass
class Costs:
    """Stage costs per key, peak RSS (MB) per worker by model and of the parent process."""

    stages: dict[Key, StageCost] = field(default_factory=dict)
    worker_rss_mb: dict[str, float] = field(default_factory=dict)
    parent_rss_mb: float = 0.0
    source: str = ""


@dataclass
class Estimate:
    """Wall time and peak memory of the cells left, and where the figures came from."""

    seconds: float
    peak_rss_mb: float
    cells: int  # cells left that were estimated
    workers: int
    source: str
    unknown: list[str] = field(default_factory=list)  # cells left with no cost for a stage
    no_memory: list[str] = field(default_factory=list)  # models left with no peak RSS measured


def stage_posts(cell: Cell, train_posts: dict[str, int]) -> dict[str, int]:
    """The training posts of each of ``cell``'s stages, from the corpora's train sizes.

    A translated split has as many posts as the source split it was translated from.
    """
    d, p = DIRECTIONS[cell.direction], plan(cell.direction, cell.schedule)
    corpus = {"source": d.source, "translated": d.source, "target": d.target}
    stages = {"pretrain": p.pretrain, "finetune": p.finetune}
    if not p.pretrain:
        stages = {"train": p.finetune}  # "-": trained from scratch
    return {stage: sum(train_posts[corpus[n]] for n in names) for stage, names in stages.items()}


def _json(path: Path) -> Any:
    """A JSON file's content, or None when missing or unreadable (an estimate never fails)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _lines(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a kill
    return out


def samples(out: Path, cells: list[Cell] = (), train_posts: dict[str, int] | None = None):
    """Every finished stage under ``out``: results.json's, and done stages of ``cells`` running."""
    found: list[Sample] = []
    for path in sorted(out.glob("*/*/*/seed*/results.json")):
        result = _json(path) or {}
        for s in result.get("stages", []):
            try:
                key = (result["direction"], result["model"], s["stage"])
                posts, epochs = int(s["posts"]), int(s["epochs_run"])
                found.append(Sample(key, posts, epochs, float(s["seconds"])))
            except (KeyError, TypeError, ValueError):
                continue
    for cell in cells if train_posts else ():
        run_dir = cell.run_dir(out)
        if (run_dir / "results.json").exists():
            continue  # counted above
        for stage, posts in stage_posts(cell, train_posts).items():
            done = _json(run_dir / f"{stage}.done.json")
            if done and done.get("epochs_run"):
                key = (cell.direction, cell.model, stage)
                found.append(Sample(key, posts, int(done["epochs_run"]), float(done["seconds"])))
    return found


def stage_costs(found: list[Sample]) -> dict[Key, StageCost]:
    """Pooled seconds per post-epoch (total seconds / total post-epochs) and mean epochs per key."""
    by_key: dict[Key, list[Sample]] = {}
    for s in found:
        by_key.setdefault(s.key, []).append(s)
    costs = {}
    for key, group in by_key.items():
        work = sum(s.posts * s.epochs for s in group)
        if work > 0:
            seconds = sum(s.seconds for s in group) / work
            costs[key] = StageCost(seconds, mean(s.epochs for s in group), len(group))
    return costs


READ_BACK = "read the shared artefacts back"  # the parent's own step when a child built them


def memory(out: Path) -> tuple[dict[str, float], float]:
    """Peak RSS per worker by model and the parent's before the cells, from timings.json.

    When a child process built the shared artefacts (its steps come before ``READ_BACK``), the
    parent's figure is that of its own read-back step: the child has ended before any worker
    starts.
    """
    timings = _json(out / "report" / "timings.json") or []
    workers: dict[str, float] = {}
    parent, cells_started = 0.0, False
    for t in timings:
        step, rss = str(t.get("step", "")), float(t.get("peak_rss_mb", 0.0))
        if step.startswith("cell "):
            cells_started = True
            model = step.split()[1].split("/")[1]
            workers[model] = max(workers.get(model, 0.0), rss)
        elif step == READ_BACK:
            parent = rss
        elif not cells_started:
            parent = max(parent, rss)
    return workers, parent


def measured(out: Path, cells: list[Cell] = (), train_posts: dict[str, int] | None = None):
    """The costs measured in the runs directory ``out`` (empty where it has none)."""
    found = samples(out, cells, train_posts)
    workers, parent = memory(out)
    where = f"{len(found)} finished stage{'s' * (len(found) != 1)} in {out}/"
    return Costs(stage_costs(found), workers, parent, where)


def packaged(path: Path = PACKAGED) -> Costs:
    """The costs measured on the reference machine, shipped with the package."""
    data = json.loads(path.read_text(encoding="utf-8"))
    stages = {tuple(k.split("/")): StageCost(**v) for k, v in data["stages"].items()}
    where = f"the packaged reference-machine costs ({data['machine']}, {data['date']})"
    return Costs(stages, data["worker_rss_mb"], data["parent_rss_mb"], where)  # type: ignore[arg-type]


def to_json(costs: Costs, machine: str, date: str, command: str) -> dict:
    """``costs`` as the packaged ``costs.json`` holds them."""
    return {
        "machine": machine,
        "date": date,
        "command": command,
        "stages": {
            "/".join(k): {
                **asdict(v),
                "seconds_per_post_epoch": round(v.seconds_per_post_epoch, 6),
                "epochs": round(v.epochs, 2),
            }
            for k, v in sorted(costs.stages.items())
        },
        "worker_rss_mb": costs.worker_rss_mb,
        "parent_rss_mb": costs.parent_rss_mb,
    }


def _epochs_left(cost: StageCost, cap: int, fixed: bool, done: int) -> float:
    """Epochs still to run: the measured mean (the cap if the stage never stops early)."""
    expected = cap if fixed else min(cost.epochs, cap)
    if done < expected:
        return expected - done
    return 1.0 if done < cap else 0.0  # past the usual stop: at least one more epoch


def cell_seconds(
    cfg: ExperimentConfig, cell: Cell, costs: dict[Key, StageCost], posts: dict[str, int],
    run_dir: Path | None,
) -> float | None:  # fmt: skip
    """Seconds of training ``cell`` still needs (``run_dir``: its saved work); None if unknown."""
    total = 0.0
    saved = _lines(run_dir / "metrics.jsonl") if run_dir else []
    for stage, n in posts.items():
        if run_dir and (run_dir / f"{stage}.done.json").exists():
            continue
        cost = costs.get((cell.direction, cell.model, stage))
        if cost is None:
            return None
        stage_cfg = getattr(getattr(cfg, cell.model), stage)
        fixed = not stage_cfg.patience or (stage == "pretrain" and cfg.pretrain_select == "fixed")
        done = sum(1 for r in saved if r.get("stage") == stage)
        total += _epochs_left(cost, stage_cfg.epochs, fixed, done) * n * cost.seconds_per_post_epoch
    return total


def wall_time(seconds: list[float], workers: int) -> float:
    """When the last of ``seconds`` ends, each started in order on the first of ``workers`` free."""
    free = [0.0] * max(1, workers)
    for s in seconds:
        heapq.heapreplace(free, free[0] + s)
    return max(free)


def estimate(
    cfg: ExperimentConfig, out: Path, cells: list[Cell], statuses: list[str],
    train_posts: dict[str, int], workers: int, reference: Costs | None = None,
) -> Estimate:  # fmt: skip
    """The wall time and peak memory of the cells whose status is ``to do``, on ``workers``.

    ``statuses`` are ``experiment.cell_status``'s; only a ``to do (resumes ...)`` cell's saved
    epochs are counted as done (the runner clears the others). ``reference`` (default: the
    packaged costs) fills keys and memory the runs directory has not measured.
    """
    here = measured(out, cells, train_posts)
    reference = reference or packaged()
    costs = {**reference.stages, **here.stages}
    used_here = any(k in here.stages for c in cells for k in _keys(c, train_posts))
    used_ref = False
    seconds: list[float] = []
    unknown: list[Cell] = []
    left: list[Cell] = []
    for cell, status in zip(cells, statuses, strict=True):
        if not status.startswith("to do"):
            seconds.append(0.0)  # done (skipped at once) or stops the run
            continue
        run_dir = cell.run_dir(out) if status.startswith("to do (resumes") else None
        posts = stage_posts(cell, train_posts)
        s = cell_seconds(cfg, cell, costs, posts, run_dir)
        if s is None:
            unknown.append(cell)
            s = 0.0
        else:
            left.append(cell)
            used_ref |= any(k not in here.stages for k in _keys(cell, train_posts))
        seconds.append(s)
    jobs = max(1, min(workers, len(cells)))  # as run_cells: one in-process when 1
    running = min(jobs, len(left) + len(unknown))
    models = {c.model for c in left + unknown}
    rss = {**reference.worker_rss_mb, **here.worker_rss_mb}
    worker = max([rss[m] for m in models if m in rss] or [0.0])
    parent = here.parent_rss_mb or reference.parent_rss_mb
    peak = 0.0 if not running else parent + running * worker if jobs > 1 else max(parent, worker)
    source = " and ".join(
        [here.source] * used_here + [reference.source] * (used_ref or not used_here)
    )
    names = [c.name for c in unknown]
    no_memory = sorted(m for m in models if m not in rss)
    return Estimate(wall_time(seconds, jobs), peak, len(left), jobs, source, names, no_memory)


def _keys(cell: Cell, train_posts: dict[str, int]) -> list[Key]:
    return [(cell.direction, cell.model, s) for s in stage_posts(cell, train_posts)]


def rounded_minutes(seconds: float) -> str:
    """``<1 min``, ``35 min`` or ``2 h 05 min``."""
    minutes = math.floor(seconds / 60 + 0.5)
    if minutes < 1:
        return "<1 min"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def render(e: Estimate) -> list[str]:
    """The plan's lines for an estimate: time, memory, where from, what it leaves out."""
    if not e.cells and not e.unknown:
        return ["estimate: nothing left to train"]
    gb = e.peak_rss_mb / 1024
    head = (
        f"estimate: about {rounded_minutes(e.seconds)} for {e.cells} "
        f"cell{'s' * (e.cells != 1)} left "
        f"on {e.workers} worker{'s' * (e.workers != 1)}, peak memory about {gb:.1f} GB"
    )
    if e.no_memory:
        head += f" ({', '.join(e.no_memory)} not measured)"
    why = (
        f"from {e.source}; approximate: early stopping decides the epochs, and the shared steps, "
        "start-up and test prediction are not counted"
    )
    if e.unknown:
        models = sorted({name.split("/")[1] for name in e.unknown})
        why += f"; not counted, no cost measured yet: {len(e.unknown)} {'/'.join(models)} cell"
        why += "s" * (len(e.unknown) != 1)
    return [head, *textwrap.wrap(why, 96, initial_indent="  ", subsequent_indent="  ")]


def overall_line(done: int, total: int, elapsed: float, left: Estimate | None) -> str:
    """``cells 3/8 · 21 min elapsed · about 35 min left`` (no "left" when unknown or finished)."""
    line = f"cells {done}/{total} · {rounded_minutes(elapsed)} elapsed"
    if left is not None and done < total and not left.unknown:
        line += f" · about {rounded_minutes(left.seconds)} left"
    return line


def main(argv: list[str] | None = None) -> int:
    """Print the costs measured in a runs directory as a ``costs.json`` (to package them)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m xmner.pipelines.estimate", description=main.__doc__)
    p.add_argument("runs", type=Path)
    p.add_argument("--machine", required=True, help='e.g. "2 CPU cores, torch 2.13 (cpu)"')
    p.add_argument("--date", required=True)
    p.add_argument("--command", required=True, help="the command that made the runs directory")
    args = p.parse_args(argv)
    costs = measured(args.runs)
    print(json.dumps(to_json(costs, args.machine, args.date, args.command), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
