"""Tables 2, 3 and 4, the results CSV, stages, significance tests, an F1 chart and learning curves.

Everything is generated from the ``results.json`` (and ``predictions.txt``) files under a runs
directory; nothing is typed by hand. Main cells (Tables 3/4) live under
``<runs>/<direction>/<model>/<schedule>/seed<k>/``, Table 2 cells under
``<runs>/table2/<model>/<images>/seed<k>/``; the two are never mixed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from xmner import manifest
from xmner.eval.chart import plot_f1
from xmner.eval.curves import curves, direction_of, plot_curves
from xmner.eval.latex import render_latex, render_table2_latex
from xmner.eval.reference import TABLE_OF_DIRECTION, load_reference
from xmner.eval.significance import Significance, render_significance, significance
from xmner.eval.stages import cap_warning, render_stages, stage_rows
from xmner.eval.table2 import render_table2_csv, render_table2_markdown
from xmner.eval.tables import render_csv, render_markdown, render_table_csv
from xmner.io import read_json, write_text

log = logging.getLogger(__name__)

TABLE2_DIR = "table2"
UMT_NOTE = (
    "not run: UMT needs multilingual BERT weights (`--model umt --set umt.bert=PATH_OR_HUB_ID`)."
)

__all__ = ["Report", "Significance", "collect_results", "collect_table2", "write_report"]


@dataclass
class Report:
    """Where the report files went and what they were made from."""

    out_dir: Path
    results: list[dict]
    significance: list[Significance] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    table2: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _collect(
    runs_dir: Path, current: dict[str, str] | None = None, warnings: list[str] | None = None
) -> tuple[list[dict], list[dict]]:
    """Main and Table 2 results, each verified; cells made from other ``current`` inputs left out.

    ``path`` (added) is the cell's folder relative to ``runs_dir``, so a copied runs directory
    reports the same.
    """
    main, table2 = [], []
    for path in sorted(runs_dir.glob("*/*/*/seed*/results.json")):
        top = path.relative_to(runs_dir).parts[0]
        if top != TABLE2_DIR and top not in TABLE_OF_DIRECTION:
            log.debug("skipping %s: not under a direction or %s/", path, TABLE2_DIR)
            continue
        result = read_json(manifest.verify(path))
        if (path.parent / "predictions.txt").exists():  # what the scores were computed from
            manifest.verify(path.parent / "predictions.txt")
        is_table2 = result.get("table") == TABLE2_DIR
        if is_table2 != (top == TABLE2_DIR):
            raise ValueError(
                f"{path}: 'table' is {result.get('table')!r} but the file lies under {top}/; "
                f'expected Table 2 cells ("table": "table2") only under {TABLE2_DIR}/'
            )
        stale = _stale(result.get("inputs", {}), current or {})
        if stale:
            message = f"{path.parent}: left out, made from other inputs ({stale})"
            log.warning("%s", message)
            if warnings is not None:
                warnings.append(message)
            continue
        result["path"] = path.parent.relative_to(runs_dir).as_posix()
        (table2 if is_table2 else main).append(result)
    return main, table2


def _stale(made_from: dict[str, str], current: dict[str, str]) -> str:
    """The inputs a cell was made from that differ now ("" when none)."""
    return ", ".join(n for n in sorted(made_from) if n in current and current[n] != made_from[n])


def current_inputs(runs_dir: Path) -> dict[str, str]:
    """The input fingerprints of the last run in ``runs_dir`` (``environment.json``), if any."""
    env = runs_dir / "environment.json"
    return read_json(manifest.verify(env)).get("inputs", {}) if env.exists() else {}


def collect_results(runs_dir: str | Path) -> list[dict]:
    """Every Table 3/4 ``results.json`` under ``runs_dir/<direction>/``, with its ``path``."""
    return _collect(Path(runs_dir))[0]


def collect_table2(runs_dir: str | Path) -> list[dict]:
    """Every Table 2 ``results.json`` under ``runs_dir/table2/``, with its ``path``."""
    return _collect(Path(runs_dir))[1]


def _warn(report: Report, results: list[dict], table: str, variant_key: str) -> None:
    warning = cap_warning(stage_rows(results, variant_key))
    if warning:
        log.warning("%s: %s", table, warning)
        report.warnings.append(f"{table}: {warning}")


def write_report(
    runs_dir: str | Path,
    reference: dict | None = None,
    extra_notes: list[str] | None = None,
    bootstrap_samples: int = 1000,
) -> Report:
    """Write ``report/``: table3/4 (and table2 if run) .md/.csv/.tex, results.csv, f1.png and
    curves-<direction>.png (dev F1 by epoch) for each direction with results."""
    runs_dir = Path(runs_dir)
    out_dir = runs_dir / "report"
    reference = reference or load_reference()
    stale: list[str] = []
    results, table2 = _collect(runs_dir, current_inputs(runs_dir), stale)
    sig = significance(results, runs_dir, bootstrap_samples)
    report = Report(out_dir, results, sig, table2=table2, warnings=stale)
    for direction, table in TABLE_OF_DIRECTION.items():
        ours = [r for r in results if r.get("direction") == direction]
        md = render_markdown(table, results, reference, notes={"UMT": UMT_NOTE})
        md += render_stages(ours) + render_significance(sig, direction)
        if extra_notes:
            md += "\n" + "\n".join(extra_notes) + "\n"
        _warn(report, ours, table, "schedule")
        _write(out_dir / f"{table}.md", md)
        _write(out_dir / f"{table}.csv", render_table_csv(table, results, reference))
        _write(out_dir / f"{table}.tex", render_latex(table, results, reference))
        report.files += [out_dir / f"{table}.{ext}" for ext in ("md", "csv", "tex")]
    if table2:
        md = render_table2_markdown(table2, reference) + render_stages(table2, "images")
        _warn(report, table2, "table2", "images")
        _write(out_dir / "table2.md", md)
        _write(out_dir / "table2.csv", render_table2_csv(table2, reference))
        _write(out_dir / "table2.tex", render_table2_latex(table2, reference))
        report.files += [out_dir / f"table2.{ext}" for ext in ("md", "csv", "tex")]
    _write(out_dir / "results.csv", render_csv(results))
    plot_f1(results, reference, out_dir / "f1.png")
    manifest.record(out_dir / "f1.png")
    report.files += [out_dir / "results.csv", out_dir / "f1.png"]
    report.files += _curves(runs_dir, out_dir, results + table2)
    return report


def _curves(runs_dir: Path, out_dir: Path, results: list[dict]) -> list[Path]:
    """One learning-curve figure per direction with results; cells without metrics noted."""
    written = []
    for direction in TABLE_OF_DIRECTION:
        cells = [r for r in results if direction_of(r) == direction]
        if not cells:
            continue
        found, notes = curves(runs_dir, cells)
        for note in notes:
            log.warning("learning curves: left out %s", note)
        path = out_dir / f"curves-{direction}.png"
        plot_curves(found, direction, path, notes)
        manifest.record(path)
        written.append(path)
    return written


def _write(path: Path, text: str) -> None:
    write_text(path, text)
    manifest.record(path)
