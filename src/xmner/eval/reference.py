"""The paper's reference figures (one JSON data file shipped in the package)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SCHEDULES = ("-", "SRC", "TGT", "SRC&TGT")
MODELS = ("ACN", "UMT")
TABLE_OF_DIRECTION = {"en2zh": "table3", "zh2en": "table4"}


@dataclass(frozen=True)
class ReferenceRow:
    """One cell row of the paper: model, schedule and P/R/F1 in percent (None if unknown)."""

    model: str
    schedule: str
    precision: float | None
    recall: float | None
    f1: float | None


def load_reference(path: str | Path | None = None) -> dict:
    """The reference JSON: the packaged paper figures, or a file of the same shape."""
    if path is not None:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    text = resources.files("xmner.eval").joinpath("paper_reference.json").read_text("utf-8")
    return json.loads(text)


def reference_rows(table: str, reference: dict | None = None) -> list[ReferenceRow]:
    """The rows of ``table3`` or ``table4``."""
    reference = reference or load_reference()
    try:
        rows = reference["tables"][table]["rows"]
    except KeyError:
        raise ValueError(f"reference has no table {table!r}; expected table3 or table4") from None
    return [ReferenceRow(**row) for row in rows]
