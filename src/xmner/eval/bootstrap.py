"""Paired bootstrap test of two systems' entity F1 on the same test posts.

Posts are resampled with replacement; both systems are scored on each resample from per-post
chunk counts (the same counts seqeval's micro F1 sums), so a resample costs O(posts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmner.data.tags import spans_from_tags


@dataclass
class BootstrapResult:
    """Observed F1 difference (b - a), its 95 % interval, and the one-sided p-value."""

    delta: float
    low: float
    high: float
    p_value: float  # fraction of resamples where b does not beat a
    samples: int


def post_counts(gold: list[list[str]], pred: list[list[str]]) -> np.ndarray:
    """(N, 3) array of correct, predicted and gold chunk counts per post."""
    out = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        gs, ps = set(spans_from_tags(g)), set(spans_from_tags(p))
        out[i] = (len(gs & ps), len(ps), len(gs))
    return out


def _f1(counts: np.ndarray) -> np.ndarray:
    correct, predicted, gold = counts[..., 0], counts[..., 1], counts[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(predicted > 0, correct / np.maximum(predicted, 1), 0.0)
        r = np.where(gold > 0, correct / np.maximum(gold, 1), 0.0)
        return np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)


def paired_bootstrap(
    gold: list[list[str]],
    pred_a: list[list[str]],
    pred_b: list[list[str]],
    samples: int = 1000,
    seed: int = 0,
) -> BootstrapResult:
    """Is system b better than system a? Paired bootstrap over posts."""
    a, b = post_counts(gold, pred_a), post_counts(gold, pred_b)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(gold), size=(samples, len(gold)))
    fa, fb = _f1(a[idx].sum(axis=1)), _f1(b[idx].sum(axis=1))
    diffs = fb - fa
    delta = float(_f1(b.sum(axis=0)) - _f1(a.sum(axis=0)))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return BootstrapResult(delta, float(low), float(high), float(np.mean(diffs <= 0)), samples)
