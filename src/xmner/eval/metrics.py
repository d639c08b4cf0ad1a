"""Entity-level precision, recall and F1, exactly as seqeval's default (conlleval) mode.

One pinned mode: seqeval's default, where an ``I-X`` that continues no ``X`` chunk starts a
chunk of its own (what conlleval does). Strict IOB2 mode would drop such chunks; we never use it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

MODE = "seqeval default (conlleval-compatible), micro-averaged over entity chunks"


@dataclass
class TypeScore:
    """Precision, recall, F1 (fractions 0-1) and gold support of one entity type."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Scores:
    """Micro-averaged entity scores (fractions 0-1) plus per-type scores."""

    precision: float
    recall: float
    f1: float
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    mode: str = MODE

    def to_dict(self) -> dict:
        """JSON-ready dict with ``precision``, ``recall``, ``f1``, ``per_type`` and ``mode``."""
        return asdict(self)


def _check_aligned(gold: list[list[str]], pred: list[list[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sequences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sequence {i}: {len(g)} gold tags but {len(p)} predicted")


def score(gold: list[list[str]], pred: list[list[str]]) -> Scores:
    """Micro P/R/F1 and per-type scores of ``pred`` against ``gold`` (tag sequences)."""
    from seqeval.metrics import classification_report

    _check_aligned(gold, pred)
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {
        name: TypeScore(
            float(row["precision"]),
            float(row["recall"]),
            float(row["f1-score"]),
            int(row["support"]),
        )
        for name, row in sorted(report.items())
        if not name.endswith(" avg")
    }
    return Scores(
        float(micro["precision"]), float(micro["recall"]), float(micro["f1-score"]), per_type
    )


def score_files(gold_path: str | Path, pred_path: str | Path) -> Scores:
    """Score two corpus files of the same posts and tokens (any supported format)."""
    from xmner.data.corpus import read_corpus

    gold, pred = read_corpus(gold_path), read_corpus(pred_path)
    if len(gold) != len(pred):
        raise ValueError(f"{gold_path} has {len(gold)} posts but {pred_path} has {len(pred)}")
    for g, p in zip(gold, pred):
        if g.id != p.id or g.tokens != p.tokens:
            what = "id" if g.id != p.id else "tokens"
            raise ValueError(
                f"{pred_path}: post {p.id} does not match gold post {g.id} ({what} differ); "
                "expected the same posts and tokens in the same order"
            )
    return score([g.tags for g in gold], [p.tags for p in pred])
