"""Per-post error breakdown into the CMNER paper's four kinds of error.

Each gold entity not predicted exactly is one of: ``wrong_type`` (same span, other type),
``wrong_span`` (an overlapping prediction of another extent), ``missed`` (no overlapping
prediction). Each prediction that overlaps no gold entity is ``spurious``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from xmner.data.tags import Span, spans_from_tags

KINDS = ("wrong_span", "wrong_type", "missed", "spurious")


@dataclass
class PostErrors:
    """Errors of one post: counts per kind and the spans involved."""

    post_id: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    examples: list[dict] = field(default_factory=list)


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def post_errors(post_id: str, gold: list[str], pred: list[str]) -> PostErrors:
    """Classify the entity errors of one post (see the module docstring)."""
    gold_spans, pred_spans = set(spans_from_tags(gold)), set(spans_from_tags(pred))
    out = PostErrors(post_id)
    for g in sorted(gold_spans - pred_spans, key=lambda s: s.start):
        same_extent = [p for p in pred_spans if (p.start, p.end) == (g.start, g.end)]
        overlapping = [p for p in pred_spans if _overlaps(p, g)]
        kind = "wrong_type" if same_extent else "wrong_span" if overlapping else "missed"
        out.counts[kind] += 1
        out.examples.append(
            {"kind": kind, "gold": asdict(g), "pred": [asdict(p) for p in overlapping]}
        )
    for p in sorted(pred_spans - gold_spans, key=lambda s: s.start):
        if not any(_overlaps(p, g) for g in gold_spans):
            out.counts["spurious"] += 1
            out.examples.append({"kind": "spurious", "gold": None, "pred": [asdict(p)]})
    return out


def error_breakdown(
    ids: list[str], gold: list[list[str]], pred: list[list[str]]
) -> tuple[dict[str, int], list[PostErrors]]:
    """Totals per kind and the per-post errors of posts with at least one error."""
    totals: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
    posts = []
    for post_id, g, p in zip(ids, gold, pred, strict=True):
        errors = post_errors(post_id, g, p)
        totals.update(errors.counts)
        if any(errors.counts.values()):
            posts.append(errors)
    return dict(totals), posts
