"""Bar chart of test F1 per schedule: ours (mean ± std) beside the paper's, per direction, model.

A cell without results is labelled "not run"; a cell that ran and scored 0 shows its 0.
"""

from __future__ import annotations

from pathlib import Path

from xmner.eval.reference import MODELS, SCHEDULES, TABLE_OF_DIRECTION
from xmner.eval.tables import Cell, table_cells

NOT_RUN = "not run"


def bar_labels(cells: dict[tuple[str, str], Cell | None], model: str) -> list[str]:
    """One label per schedule: our mean F1, or "not run" only where the cell has no results."""
    out = []
    for schedule in SCHEDULES:
        cell = cells.get((model, schedule))
        out.append(NOT_RUN if cell is None else f"{cell.mean['f1']:.1f}")
    return out


def plot_f1(results: list[dict], reference: dict, path: Path) -> None:
    """Write the chart of both directions and models to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(d, m) for d in TABLE_OF_DIRECTION for m in MODELS]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), sharey=False)
    for ax, (direction, model) in zip(axes, panels):
        cells = table_cells(direction, results)
        paper = {
            r["schedule"]: r["f1"]
            for r in reference["tables"][TABLE_OF_DIRECTION[direction]]["rows"]
            if r["model"] == model
        }
        xs = list(range(len(SCHEDULES)))
        ours = [cells[model, s].mean["f1"] if cells[model, s] else 0.0 for s in SCHEDULES]
        err = [cells[model, s].std["f1"] if cells[model, s] else 0.0 for s in SCHEDULES]
        ax.bar([x - 0.2 for x in xs], ours, 0.4, yerr=err, label="ours")
        ax.bar([x + 0.2 for x in xs], [paper.get(s) or 0.0 for s in SCHEDULES], 0.4, label="paper")
        for x, label in zip(xs, bar_labels(cells, model)):
            ax.text(x - 0.2, 1.0, label, ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks(xs, SCHEDULES)
        ax.set_title(f"{direction} {model}")
        ax.set_ylabel("F1 (test, x100)")
        if all(cells[model, s] is None for s in SCHEDULES):
            ax.text(0.5, 0.5, NOT_RUN, transform=ax.transAxes, ha="center")
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
