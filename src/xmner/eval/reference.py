"""The paper's reference figures (one JSON data file shipped in the package), checked on load.

The packaged ``paper_reference.json`` is a copy of the published cells of Ji et al. (2024):
``tables.table2`` (CMNER by image mode, with per-type F1), ``tables.table3`` / ``tables.table4``
(rows ``{model, schedule, precision, recall, f1}``) and ``tables.table4.other_systems``. Figures
are percent; ``null`` means unknown and prints as n/a.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SCHEDULES = ("-", "SRC", "TGT", "SRC&TGT")
MODELS = ("ACN", "UMT")
IMAGES = ("none", "one", "all")
TABLE_OF_DIRECTION = {"en2zh": "table3", "zh2en": "table4"}
PACKAGED = "paper_reference.json"
_PRF = ("precision", "recall", "f1")


@dataclass(frozen=True)
class ReferenceRow:
    """One cell row of the paper: model, schedule and P/R/F1 in percent (None if unknown)."""

    model: str
    schedule: str
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class Table2Row:
    """One row of the paper's Table 2: model, image mode, P/R/F1 and per-type F1 (percent)."""

    model: str
    images: str
    precision: float | None
    recall: float | None
    f1: float | None
    per_type_f1: dict[str, float | None]


@dataclass(frozen=True)
class PublishedRow:
    """A system the paper only cites (Table 4's other systems): name and P/R/F1 in percent."""

    model: str
    precision: float | None
    recall: float | None
    f1: float | None


def load_reference(path: str | Path | None = None) -> dict:
    """The reference JSON: the packaged paper figures, or a file of the same shape (checked)."""
    if path is None:
        where = f"packaged {PACKAGED}"
        text = resources.files("xmner.eval").joinpath(PACKAGED).read_text("utf-8")
    else:
        where = str(path)
        text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: not valid JSON ({err.msg}, line {err.lineno})") from None
    check_reference(data, where)
    return data


def check_reference(data: object, where: str = "reference") -> None:
    """Raise a one-line ValueError naming ``where`` unless ``data`` has the reference's shape."""

    def fail(what: str, expected: str) -> None:
        raise ValueError(f"{where}: {what}; expected {expected}")

    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict):
        fail("no 'tables' object", '{"tables": {"table3": ..., "table4": ...}}')
    for direction, table in TABLE_OF_DIRECTION.items():
        spec = tables.get(table)
        if not isinstance(spec, dict) or not isinstance(spec.get("rows"), list):
            fail(
                f"no table {table!r} with a 'rows' list",
                f"tables.{table}.rows (the {direction} cells)",
            )
        if spec.get("direction") != direction:
            fail(f"tables.{table}.direction is {spec.get('direction')!r}", repr(direction))
        for i, row in enumerate(spec["rows"]):
            _check_row(row, f"tables.{table}.rows[{i}]", ("model", "schedule", *_PRF), fail)
            if row["model"] not in MODELS:
                fail(f"tables.{table}.rows[{i}] has unknown model {row['model']!r}", str(MODELS))
            if row["schedule"] not in SCHEDULES:
                fail(
                    f"tables.{table}.rows[{i}] has unknown schedule {row['schedule']!r}",
                    f"one of {list(SCHEDULES)}",
                )
        for i, row in enumerate(spec.get("other_systems", [])):
            _check_row(row, f"tables.{table}.other_systems[{i}]", ("model", *_PRF), fail)
    if "table2" in tables:
        rows = tables["table2"].get("rows") if isinstance(tables["table2"], dict) else None
        if not isinstance(rows, list):
            fail(
                "tables.table2 has no 'rows' list", "rows of {model, images, P, R, F1, per_type_f1}"
            )
        for i, row in enumerate(rows):
            keys = ("model", "images", *_PRF, "per_type_f1")
            _check_row(row, f"tables.table2.rows[{i}]", keys, fail)
            if row["images"] not in IMAGES:
                fail(f"tables.table2.rows[{i}] has images {row['images']!r}", str(IMAGES))
            per_type = row["per_type_f1"]
            if not isinstance(per_type, dict) or not all(map(_number, per_type.values())):
                fail(f"tables.table2.rows[{i}].per_type_f1 is {per_type!r}", "{TYPE: number}")


def _number(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _check_row(row: object, name: str, keys: tuple[str, ...], fail) -> None:
    if not isinstance(row, dict):
        fail(f"{name} is not an object", f"an object with keys {list(keys)}")
    missing = [k for k in keys if k not in row]
    if missing:
        fail(f"{name} lacks {missing}", f"keys {list(keys)}")
    for key in _PRF:
        if not _number(row[key]):
            fail(f"{name}.{key} is {row[key]!r}", "a number (percent) or null")


def reference_rows(table: str, reference: dict | None = None) -> list[ReferenceRow]:
    """The rows of ``table3`` or ``table4``."""
    reference = reference or load_reference()
    try:
        rows = reference["tables"][table]["rows"]
    except KeyError:
        raise ValueError(f"reference has no table {table!r}; expected table3 or table4") from None
    return [ReferenceRow(*(row[k] for k in ("model", "schedule", *_PRF))) for row in rows]


def table2_rows(reference: dict | None = None) -> list[Table2Row]:
    """The rows of the paper's Table 2 (empty if the reference has none)."""
    reference = reference or load_reference()
    rows = reference["tables"].get("table2", {}).get("rows", [])
    return [
        Table2Row(r["model"], r["images"], *(r[k] for k in _PRF), dict(r["per_type_f1"]))
        for r in rows
    ]


def other_systems(table: str, reference: dict | None = None) -> list[PublishedRow]:
    """The published systems a table cites but this project does not run (may be empty)."""
    reference = reference or load_reference()
    rows = reference["tables"].get(table, {}).get("other_systems", [])
    return [PublishedRow(r["model"], *(r[k] for k in _PRF)) for r in rows]
