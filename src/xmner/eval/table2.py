"""Table 2, the CMNER image ablation (text only / one image / all images), beside the paper's.

Cells are ``results.json`` dicts with ``"table": "table2"``, ``model``, ``images`` (none, one,
all), ``seed``, ``precision``/``recall``/``f1`` (fractions 0-1) and ``per_type`` as
``Scores.to_dict()`` writes it (``{TYPE: {"f1": ...}}``). Several seeds: mean ± std.
"""

from __future__ import annotations

import csv
import io
import statistics

from xmner.eval.protocol import protocol_line
from xmner.eval.reference import IMAGES, MODELS, Table2Row, load_reference, table2_rows
from xmner.eval.tables import Cell, fmt_cell, fmt_delta, fmt_paper, make_cell

TYPES = ("PER", "LOC", "ORG", "MISC")
_ALIASES = {"OTHER": "MISC"}  # Twitter-2015 spelling of the fourth type
TITLE = "Table 2: CMNER baselines, text only / text + one random image / text + all images"


def table2_cells(results: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Table 2 results grouped by (MODEL, images)."""
    cells: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        cells.setdefault((str(r.get("model", "")).upper(), str(r.get("images"))), []).append(r)
    return cells


def per_type_f1(results: list[dict]) -> dict[str, tuple[float, float]]:
    """Mean and sample std (percent) of each entity type's F1 over ``results``."""
    values: dict[str, list[float]] = {}
    for r in results:
        for name, row in (r.get("per_type") or {}).items():
            values.setdefault(_ALIASES.get(name, name), []).append(100.0 * float(row["f1"]))
    return {
        name: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
        for name, v in values.items()
    }


def row_keys(results: list[dict], reference: dict) -> list[tuple[str, str, Table2Row | None]]:
    """(MODEL, images, paper row or None) of every Table 2 row: the paper's, then any others."""
    paper = {(r.model, r.images): r for r in table2_rows(reference)}
    keys = list(paper) or [(m, i) for m in MODELS for i in IMAGES]
    keys += [k for k in table2_cells(results) if k not in keys]
    return [(model, images, paper.get((model, images))) for model, images in keys]


def _types(results: list[dict], reference: dict) -> list[str]:
    seen = {t for r in table2_rows(reference) for t in r.per_type_f1}
    seen |= {t for cell in table2_cells(results).values() for t in per_type_f1(cell)}
    return [t for t in TYPES if t in seen] + sorted(seen - set(TYPES))


def _type_cell(ours: dict[str, tuple[float, float]], name: str, n: int) -> str:
    if name not in ours:
        return "—"
    mean, std = ours[name]
    return f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"


def render_table2_markdown(results: list[dict], reference: dict | None = None) -> str:
    """Markdown of Table 2: our P/R/F1 and per-type F1 beside the paper's, with Δ F1."""
    reference = reference or load_reference()
    spec = reference["tables"].get("table2", {})
    cells, types = table2_cells(results), _types(results, reference)
    lines = [
        f"### {spec.get('title', TITLE)}",
        "",
        protocol_line(results, spec.get("target", "cmner"), images=False),
        "",
        "| Model | Images | P | R | F1 | Paper P | Paper R | Paper F1 | Δ F1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    per_type_lines = []
    for model, images, paper in row_keys(results, reference):
        runs = cells.get((model, images), [])
        cell: Cell | None = make_cell(runs)
        p = paper or Table2Row(model, images, None, None, None, {})
        lines.append(
            f"| {model} | {images} | {fmt_cell(cell, 'precision')} | {fmt_cell(cell, 'recall')} "
            f"| {fmt_cell(cell, 'f1')} | {fmt_paper(p.precision)} | {fmt_paper(p.recall)} "
            f"| {fmt_paper(p.f1)} | {fmt_delta(cell, p.f1)} |"
        )
        ours = per_type_f1(runs)
        pairs = [
            f"{_type_cell(ours, t, len(runs))} | {fmt_paper(p.per_type_f1.get(t))}" for t in types
        ]
        per_type_lines.append(f"| {model} | {images} | " + " | ".join(pairs) + " |")
    lines += [
        "",
        "Per-type F1, ours beside the paper's:",
        "",
        "| Model | Images | " + " | ".join(f"{t} | Paper {t}" for t in types) + " |",
        "| --- | --- | " + " | ".join("--- | ---" for _ in types) + " |",
        *per_type_lines,
    ]
    return "\n".join(lines) + "\n"


def render_table2_csv(results: list[dict], reference: dict | None = None) -> str:
    """CSV of Table 2: ours (mean, percent) and the paper's P/R/F1 and per-type F1, Δ F1."""
    reference = reference or load_reference()
    cells, types = table2_cells(results), _types(results, reference)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = ["model", "images", "runs", "precision", "recall", "f1", "f1_std"]
    head += ["paper_precision", "paper_recall", "paper_f1", "delta_f1"]
    head += [f"{t}_{who}f1" for t in types for who in ("", "paper_")]
    writer.writerow(head)
    for model, images, paper in row_keys(results, reference):
        runs = cells.get((model, images), [])
        cell = make_cell(runs)
        p = paper or Table2Row(model, images, None, None, None, {})
        ours = (
            [f"{cell.mean[k]:.2f}" for k in ("precision", "recall", "f1")]
            + [f"{cell.std['f1']:.2f}"]
            if cell
            else ["", "", "", ""]
        )
        theirs = ["" if v is None else f"{v:.2f}" for v in (p.precision, p.recall, p.f1)]
        delta = "" if cell is None or p.f1 is None else f"{cell.mean['f1'] - p.f1:+.2f}"
        by_type = per_type_f1(runs)
        types_out = []
        for t in types:
            types_out.append(f"{by_type[t][0]:.2f}" if t in by_type else "")
            value = p.per_type_f1.get(t)
            types_out.append("" if value is None else f"{value:.2f}")
        writer.writerow([model, images, len(runs), *ours, *theirs, delta, *types_out])
    return out.getvalue()
