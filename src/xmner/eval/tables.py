"""Tables 3 and 4 as Markdown and CSV: our P/R/F1 beside the paper's, with the difference.

Results are dicts as written to ``results.json`` by runs: ``direction``, ``model``,
``schedule``, ``seed`` and ``precision``/``recall``/``f1`` as fractions 0-1. Several seeds of
one cell are shown as mean ± standard deviation. Figures are printed x100 with two decimals.
A protocol line built from the runs' recorded settings heads each table; systems the paper only
cites are listed in a block of their own, never mixed with ours.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass

from xmner.eval.protocol import protocol_line
from xmner.eval.reference import (
    MODELS,
    SCHEDULES,
    load_reference,
    other_systems,
    reference_rows,
)


@dataclass
class Cell:
    """Our figures for one (model, schedule): means and standard deviations in percent."""

    n: int
    mean: dict[str, float]
    std: dict[str, float]


def make_cell(results: list[dict]) -> Cell | None:
    """Mean and sample std (percent) of P/R/F1 over ``results`` (None if there are none)."""
    if not results:
        return None
    mean, std = {}, {}
    for key in ("precision", "recall", "f1"):
        values = [100.0 * float(r[key]) for r in results]
        mean[key] = statistics.fmean(values)
        std[key] = statistics.stdev(values) if len(values) > 1 else 0.0
    return Cell(len(results), mean, std)


def fmt_cell(cell: Cell | None, key: str) -> str:
    """``mean ± std`` of one key of ``cell`` (just the mean for one run, — for none)."""
    if cell is None:
        return "—"
    if cell.n > 1:
        return f"{cell.mean[key]:.2f} ± {cell.std[key]:.2f}"
    return f"{cell.mean[key]:.2f}"


def fmt_paper(value: float | None) -> str:
    """A paper figure with two decimals, n/a if unknown."""
    return "n/a" if value is None else f"{value:.2f}"


def fmt_delta(cell: Cell | None, paper: float | None) -> str:
    """Our mean F1 minus the paper's, signed (— if either is missing)."""
    if cell is None or paper is None:
        return "—"
    return f"{cell.mean['f1'] - paper:+.2f}"


def table_cells(direction: str, results: list[dict]) -> dict[tuple[str, str], Cell | None]:
    """Our cells of one direction keyed by (MODEL, schedule)."""
    cells = {}
    for model in MODELS:
        for schedule in SCHEDULES:
            rows = [
                r
                for r in results
                if r.get("direction") == direction
                and str(r.get("model", "")).upper() == model
                and r.get("schedule") == schedule
            ]
            cells[model, schedule] = make_cell(rows)
    return cells


def render_markdown(
    table: str, results: list[dict], reference: dict | None = None, notes: dict | None = None
) -> str:
    """Markdown of ``table3`` or ``table4`` from run results and the paper's figures.

    ``notes`` maps a model name to a line printed for its rows when they have no results
    (e.g. "needs multilingual BERT weights").
    """
    reference = reference or load_reference()
    spec = reference["tables"][table]
    cells = table_cells(spec["direction"], results)
    ours = [r for r in results if r.get("direction") == spec["direction"]]
    lines = [
        f"### {spec['title']}",
        "",
        protocol_line(ours, spec.get("target")),
        "",
        "| Model | Schedule | P | R | F1 | Paper P | Paper R | Paper F1 | Δ F1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for ref in reference_rows(table, reference):
        cell = cells.get((ref.model, ref.schedule))
        lines.append(
            f"| {ref.model} | {ref.schedule} | {fmt_cell(cell, 'precision')} "
            f"| {fmt_cell(cell, 'recall')} | {fmt_cell(cell, 'f1')} "
            f"| {fmt_paper(ref.precision)} | {fmt_paper(ref.recall)} | {fmt_paper(ref.f1)} "
            f"| {fmt_delta(cell, ref.f1)} |"
        )
    seeds = {c.n for c in cells.values() if c is not None}
    if seeds and max(seeds) > 1:
        lines += ["", "Ours: mean ± standard deviation over seeds."]
    for model, note in (notes or {}).items():
        if all(cells.get((model, s)) is None for s in SCHEDULES):
            lines += ["", f"{model}: {note}"]
    return "\n".join(lines + _published(table, reference)) + "\n"


def _published(table: str, reference: dict) -> list[str]:
    rows = other_systems(table, reference)
    if not rows:
        return []
    lines = [
        "",
        "Published systems (figures from the paper, not run here):",
        "",
        "| System (published) | Paper P | Paper R | Paper F1 |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {fmt_paper(r.precision)} | {fmt_paper(r.recall)} | {fmt_paper(r.f1)} |"
        )
    return lines


def render_csv(results: list[dict]) -> str:
    """One CSV row per (direction, model, schedule, seed) with precision, recall, f1 (0-1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["direction", "model", "schedule", "seed", "precision", "recall", "f1"])
    key = lambda r: (r["direction"], r["model"], SCHEDULES.index(r["schedule"]), r.get("seed", 0))  # noqa: E731
    for r in sorted(results, key=key):
        writer.writerow(
            [
                r["direction"],
                r["model"],
                r["schedule"],
                r.get("seed", ""),
                f"{r['precision']:.6f}",
                f"{r['recall']:.6f}",
                f"{r['f1']:.6f}",
            ]
        )
    return out.getvalue()


def render_table_csv(table: str, results: list[dict], reference: dict | None = None) -> str:
    """CSV of one paper table: our mean P/R/F1 (percent), the paper's, and the F1 difference."""
    reference = reference or load_reference()
    cells = table_cells(reference["tables"][table]["direction"], results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "model",
            "schedule",
            "runs",
            "precision",
            "recall",
            "f1",
            "f1_std",
            "paper_precision",
            "paper_recall",
            "paper_f1",
            "delta_f1",
        ]
    )
    for ref in reference_rows(table, reference):
        cell = cells.get((ref.model, ref.schedule))
        ours = (
            [cell.n]
            + [f"{cell.mean[k]:.2f}" for k in ("precision", "recall", "f1")]
            + [f"{cell.std['f1']:.2f}"]
            if cell
            else [0, "", "", "", ""]
        )
        paper = ["" if v is None else f"{v:.2f}" for v in (ref.precision, ref.recall, ref.f1)]
        delta = "" if cell is None or ref.f1 is None else f"{cell.mean['f1'] - ref.f1:+.2f}"
        writer.writerow([ref.model, ref.schedule, *ours, *paper, delta])
    return out.getvalue()
