"""Learning curves: dev F1 by epoch of every cell and stage, one figure per direction.

Read from each cell's ``metrics.jsonl`` (one line per epoch). A stage's best epoch is the first
with its highest dev F1, the one ``train.fit`` keeps. Epochs are 1-based, F1 x100, as the
progress lines print them. The figure has one panel per model x schedule (Table 2's image
modes too), one colour per stage, one thin line per seed and a dot on each stage's best epoch,
so that a curve still rising at its last epoch (not converged) is seen at once.
"""

from __future__ import annotations

import json
import logging
import textwrap
from dataclasses import dataclass
from pathlib import Path

from xmner.eval.reference import SCHEDULES

log = logging.getLogger(__name__)

STAGE_COLOURS = {"pretrain": "tab:orange", "finetune": "tab:blue", "train": "tab:green"}


@dataclass
class Curve:
    """One stage of one cell: dev F1 (x100) at each epoch (1-based) and its best epoch."""

    direction: str
    model: str
    variant: str  # the schedule, or "- images one" for a Table 2 cell
    seed: int
    stage: str
    epochs: list[int]
    dev_f1: list[float]
    best_epoch: int


def direction_of(result: dict) -> str:
    """A result's direction (Table 2 cells are CMNER's, en2zh, even where not recorded)."""
    return result.get("direction") or ("en2zh" if result.get("table") == "table2" else "?")


def _variant(result: dict) -> str:
    if result.get("table") == "table2":
        return f"- images {result.get('images', '?')}"
    return str(result.get("schedule", "?"))


def stage_series(lines: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """Per stage, its epochs (1-based) and dev F1 (x100), in epoch order.

    Stages without dev F1 (selection off) are left out; a repeated epoch keeps its last line.
    """
    by_stage: dict[str, dict[int, float]] = {}
    for record in lines:
        if "dev_f1" in record and "stage" in record and "epoch" in record:
            by_stage.setdefault(record["stage"], {})[int(record["epoch"]) + 1] = record["dev_f1"]
    return {
        stage: (sorted(f1), [100 * f1[e] for e in sorted(f1)]) for stage, f1 in by_stage.items()
    }


def _read_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a kill
    return out


def curves(runs_dir: str | Path, results: list[dict]) -> tuple[list[Curve], list[str]]:
    """Every stage's dev F1 curve of the cells in ``results`` (each with its ``path``).

    Also returns one note per cell left out (no ``metrics.jsonl``, or no dev F1 in it).
    """
    runs_dir = Path(runs_dir)
    found, notes = [], []
    for r in results:
        metrics = runs_dir / r["path"] / "metrics.jsonl"
        series = stage_series(_read_lines(metrics)) if metrics.exists() else {}
        if not series:
            why = "no dev F1 in metrics.jsonl" if metrics.exists() else "no metrics.jsonl"
            notes.append(f"{r['path']}: {why}")
            continue
        for stage, (epochs, f1) in series.items():
            best = epochs[f1.index(max(f1))]  # first of the highest, as selection keeps
            found.append(
                Curve(
                    direction_of(r),
                    r["model"],
                    _variant(r),
                    int(r["seed"]),
                    stage,
                    epochs,
                    f1,
                    best,
                )
            )
    return found, notes


def _panels(found: list[Curve]) -> list[tuple[str, str]]:
    order = {s: i for i, s in enumerate(SCHEDULES)}
    keys = {(c.model, c.variant) for c in found}
    return sorted(keys, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))


def plot_curves(found: list[Curve], direction: str, path: Path, notes: list[str] = ()) -> None:
    """Write ``direction``'s learning curves to ``path`` (PNG); ``notes`` go under the panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [c for c in found if c.direction == direction]
    panels = _panels(mine) or [("", "")]
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    wrapped = textwrap.wrap("left out: " + "; ".join(notes), int(cols * 3.6 * 22)) if notes else []
    foot = 0.12 * len(wrapped) + 0.05 * bool(wrapped)  # inches of notes under the panels
    height = 2.8 * rows + 0.4 + foot
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, height), squeeze=False)
    for ax, (model, variant) in zip(axes.flat, panels):
        stages_seen = set()
        for c in (c for c in mine if (c.model, c.variant) == (model, variant)):
            colour = STAGE_COLOURS.get(c.stage, "tab:gray")
            label = c.stage if c.stage not in stages_seen else None
            stages_seen.add(c.stage)
            ax.plot(c.epochs, c.dev_f1, color=colour, linewidth=0.8, alpha=0.8, label=label)
            ax.plot([c.best_epoch], [c.dev_f1[c.epochs.index(c.best_epoch)]], "o", color=colour,
                    markersize=3)  # fmt: skip
        ax.set_title(f"{direction} {model} {variant}".strip(), fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("dev F1 (x100)", fontsize=8)
        ax.tick_params(labelsize=7)
        if stages_seen:
            ax.legend(fontsize=7, loc="lower right")
        else:
            ax.text(0.5, 0.5, "no curves", transform=ax.transAxes, ha="center")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    if wrapped:
        fig.text(0.01, 0.01, "\n".join(wrapped), fontsize=6, va="bottom")
    fig.suptitle(f"{direction}: dev F1 by epoch (thin line: one seed; dot: best epoch)", fontsize=9)
    fig.tight_layout(rect=(0, (foot + 0.05) / height if wrapped else 0, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
