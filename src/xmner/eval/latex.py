"""Tables 2, 3 and 4 as LaTeX (booktabs), the same cells as the Markdown, best per column bold.

Each ``.tex`` file is a ``table`` float to ``\\input`` into a paper (it needs
``\\usepackage{booktabs}``). Our P/R/F1 and the paper's are bold where a column is highest
(every tie); the Δ F1 column, a difference rather than a score, is never bold.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmner.eval.reference import Table2Row, load_reference, reference_rows
from xmner.eval.table2 import TITLE, row_keys, table2_cells
from xmner.eval.tables import Cell, fmt_cell, fmt_delta, fmt_paper, make_cell, table_cells

_SPECIAL = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    "±": r"$\pm$", "—": "--", "Δ": r"$\Delta$", "→": r"$\rightarrow$",
}  # fmt: skip
HEADER = ["Model", "", "P", "R", "F1", "Paper P", "Paper R", "Paper F1", "Δ F1"]
SCORES = range(2, 8)  # the columns whose highest value is bold


@dataclass
class Entry:
    """One table cell: its text and, for a score, the value it shows (None: not a score)."""

    text: str
    value: float | None = None


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters (and ±, —, Δ, ->) written for LaTeX."""
    return "".join(_SPECIAL.get(ch, ch) for ch in text).replace("->", r"$\rightarrow$")


def booktabs(caption: str, label: str, header: list[str], rows: list[list[Entry]]) -> str:
    """A ``table`` float with \\toprule/\\midrule/\\bottomrule; each score column's best bold."""
    best = {}
    for col in SCORES:
        values = [round(r[col].value, 2) for r in rows if r[col].value is not None]
        best[col] = max(values) if values else None
    lines = [
        r"% needs \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{escape(caption)}}}",
        rf"\label{{tab:{label}}}",
        r"\begin{tabular}{ll" + "r" * (len(header) - 2) + "}",
        r"\toprule",
        " & ".join(escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    for row in rows:
        cells = []
        for col, entry in enumerate(row):
            text = escape(entry.text)
            top = col in best and entry.value is not None and round(entry.value, 2) == best[col]
            cells.append(rf"\textbf{{{text}}}" if top else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _scores(cell: Cell | None, paper: tuple[float | None, ...]) -> list[Entry]:
    keys = ("precision", "recall", "f1")
    ours = [Entry(fmt_cell(cell, k), cell.mean[k] if cell else None) for k in keys]
    theirs = [Entry(fmt_paper(v), v) for v in paper]
    return ours + theirs + [Entry(fmt_delta(cell, paper[2]))]


def render_latex(table: str, results: list[dict], reference: dict | None = None) -> str:
    """LaTeX of ``table3`` or ``table4``: the Markdown table's rows, best per column bold."""
    reference = reference or load_reference()
    spec = reference["tables"][table]
    cells = table_cells(spec["direction"], results)
    rows = []
    for ref in reference_rows(table, reference):
        cell = cells.get((ref.model, ref.schedule))
        paper = (ref.precision, ref.recall, ref.f1)
        rows.append([Entry(ref.model), Entry(ref.schedule), *_scores(cell, paper)])
    return booktabs(spec["title"], table, ["Model", "Schedule", *HEADER[2:]], rows)


def render_table2_latex(results: list[dict], reference: dict | None = None) -> str:
    """LaTeX of Table 2's P/R/F1 rows (text only, one image, all images), best per column bold."""
    reference = reference or load_reference()
    spec = reference["tables"].get("table2", {})
    cells = table2_cells(results)
    rows = []
    for model, images, paper in row_keys(results, reference):
        p = paper or Table2Row(model, images, None, None, None, {})
        cell = make_cell(cells.get((model, images), []))
        rows.append([Entry(model), Entry(images), *_scores(cell, (p.precision, p.recall, p.f1))])
    return booktabs(spec.get("title", TITLE), "table2", ["Model", "Images", *HEADER[2:]], rows)
