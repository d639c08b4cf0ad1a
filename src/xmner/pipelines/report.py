"""Tables 3 and 4, the results CSV, significance tests and an F1 chart from run directories.

Everything is generated from the ``results.json`` (and ``predictions.txt``) files under a runs
directory; nothing is typed by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from xmner.eval.reference import TABLE_OF_DIRECTION, load_reference
from xmner.eval.tables import render_csv, render_markdown, render_table_csv, table_cells
from xmner.io import read_json, write_text
from xmner.pipelines.schedules import SCHEDULES

log = logging.getLogger(__name__)

UMT_NOTE = (
    "not run: UMT needs multilingual BERT weights (`--model umt --set umt.bert=PATH_OR_HUB_ID`)."
)


@dataclass
class Significance:
    """A paired bootstrap of one schedule against ``-`` for one (direction, model, seed)."""

    direction: str
    model: str
    schedule: str
    seed: int
    delta: float
    low: float
    high: float
    p_value: float


@dataclass
class Report:
    """Where the report files went and what they were made from."""

    out_dir: Path
    results: list[dict]
    significance: list[Significance] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def collect_results(runs_dir: str | Path) -> list[dict]:
    """Every ``results.json`` under ``runs_dir`` (the report folder excluded), with its path."""
    out = []
    for path in sorted(Path(runs_dir).glob("*/*/*/seed*/results.json")):
        result = read_json(path)
        result["path"] = str(path.parent)
        out.append(result)
    return out


def significance(results: list[dict], samples: int = 1000) -> list[Significance]:
    """Paired bootstrap of each schedule against ``-`` on the same test posts."""
    from xmner.data.corpus import read_corpus
    from xmner.eval.bootstrap import paired_bootstrap

    base = {(r["direction"], r["model"], r["seed"]): r for r in results if r["schedule"] == "-"}
    out = []
    for r in results:
        ref = base.get((r["direction"], r["model"], r["seed"]))
        if r["schedule"] == "-" or ref is None:
            continue
        gold_path = Path(r["gold_test"])
        pa, pb = Path(ref["path"]) / "predictions.txt", Path(r["path"]) / "predictions.txt"
        if not (gold_path.exists() and pa.exists() and pb.exists()):
            continue
        gold = [p.tags for p in read_corpus(gold_path)]
        a = [p.tags for p in read_corpus(pa)]
        b = [p.tags for p in read_corpus(pb)]
        test = paired_bootstrap(gold, a, b, samples=samples, seed=r["seed"])
        out.append(
            Significance(
                r["direction"],
                r["model"],
                r["schedule"],
                r["seed"],
                test.delta,
                test.low,
                test.high,
                test.p_value,
            )
        )
    return out


def _significance_md(rows: list[Significance], direction: str) -> str:
    rows = [s for s in rows if s.direction == direction]
    if not rows:
        return ""
    lines = [
        "",
        "Paired bootstrap (1000 resamples of test posts) of each schedule against `-`, same seed:",
        "",
        "| Model | Schedule | Seed | Δ F1 | 95 % interval | p (no gain) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in sorted(rows, key=lambda s: (s.model, SCHEDULES.index(s.schedule), s.seed)):
        verdict = "gain" if s.p_value < 0.05 and s.delta > 0 else "could be noise"
        lines.append(
            f"| {s.model.upper()} | {s.schedule} | {s.seed} | {100 * s.delta:+.2f} "
            f"| [{100 * s.low:+.2f}, {100 * s.high:+.2f}] | {s.p_value:.3f} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def plot_f1(results: list[dict], reference: dict, path: Path) -> None:
    """Bar chart of F1 per schedule: ours (mean ± std) beside the paper's, per direction, model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(d, m) for d in TABLE_OF_DIRECTION for m in ("ACN", "UMT")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), sharey=False)
    for ax, (direction, model) in zip(axes, panels):
        table = TABLE_OF_DIRECTION[direction]
        cells = table_cells(direction, results)
        paper = {
            r["schedule"]: r["f1"]
            for r in reference["tables"][table]["rows"]
            if r["model"] == model
        }
        xs = range(len(SCHEDULES))
        ours = [cells[model, s].mean["f1"] if cells[model, s] else 0.0 for s in SCHEDULES]
        err = [cells[model, s].std["f1"] if cells[model, s] else 0.0 for s in SCHEDULES]
        theirs = [paper.get(s) or 0.0 for s in SCHEDULES]
        ax.bar([x - 0.2 for x in xs], ours, 0.4, yerr=err, label="ours")
        ax.bar([x + 0.2 for x in xs], theirs, 0.4, label="paper")
        ax.set_xticks(list(xs), SCHEDULES)
        ax.set_title(f"{direction} {model}")
        ax.set_ylabel("F1 (test, x100)")
        if not any(ours):
            ax.text(0.5, 0.5, "not run", transform=ax.transAxes, ha="center")
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(
    runs_dir: str | Path,
    reference: dict | None = None,
    extra_notes: list[str] | None = None,
    bootstrap_samples: int = 1000,
) -> Report:
    """Write ``report/``: table3.md, table4.md (+ .csv), results.csv, f1.png, significance."""
    runs_dir = Path(runs_dir)
    out_dir = runs_dir / "report"
    reference = reference or load_reference()
    results = collect_results(runs_dir)
    report = Report(out_dir, results, significance(results, bootstrap_samples))
    for direction, table in TABLE_OF_DIRECTION.items():
        md = render_markdown(table, results, reference, notes={"UMT": UMT_NOTE})
        md += _significance_md(report.significance, direction)
        if extra_notes:
            md += "\n" + "\n".join(extra_notes) + "\n"
        write_text(out_dir / f"{table}.md", md)
        write_text(out_dir / f"{table}.csv", render_table_csv(table, results, reference))
        report.files += [out_dir / f"{table}.md", out_dir / f"{table}.csv"]
    write_text(out_dir / "results.csv", render_csv(results))
    plot_f1(results, reference, out_dir / "f1.png")
    report.files += [out_dir / "results.csv", out_dir / "f1.png"]
    return report
