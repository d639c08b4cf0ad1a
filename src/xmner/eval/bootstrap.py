"""Bootstrap tests of one system's entity-F1 gain over another, across seeds and test posts.

Each resample draws, for each system independently, as many seeds as it has with replacement
(different seeds are different training runs), then draws test posts with replacement (the same
posts for both systems), and scores each system by micro F1 of the chunk counts pooled over its
drawn seeds and posts. With one seed per system this is the paired bootstrap over test posts.
Per-post chunk counts are the ones seqeval's micro F1 sums, so a resample costs O(seeds x posts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xmner.data.tags import spans_from_tags

ALPHA = 0.05
_CHUNK = 250  # resamples per vectorised block, to bound memory on large test sets


@dataclass
class BootstrapResult:
    """F1 difference (b - a, mean over seeds), its 95 % interval and the one-sided p-value."""

    delta: float
    low: float
    high: float
    p_value: float  # share of resamples where b does not beat a (delta <= 0)
    samples: int
    seeds_a: int = 1
    seeds_b: int = 1
    posts: int = 0


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


def _stack(gold: list[list[str]], preds: list[list[list[str]]]) -> np.ndarray:
    if not preds:
        raise ValueError("a system needs predictions of at least one seed")
    return np.stack([post_counts(gold, p) for p in preds])  # (S, N, 3)


def _resampled_f1(
    counts: np.ndarray, post_w: np.ndarray, rng: np.random.Generator, resample_seeds: bool
) -> np.ndarray:
    """F1 per resample of one system: (S, N, 3) counts, (B, N) post weights -> (B,)."""
    n_seeds, blocks = counts.shape[0], post_w.shape[0]
    per_seed = np.einsum("bn,snc->bsc", post_w, counts)  # (B, S, 3)
    if resample_seeds:
        draws = rng.integers(0, n_seeds, size=(blocks, n_seeds))
        seed_w = np.stack([np.bincount(d, minlength=n_seeds) for d in draws])  # (B, S)
    else:
        seed_w = np.ones((blocks, n_seeds), dtype=np.int64)
    return _f1(np.einsum("bs,bsc->bc", seed_w, per_seed))


def seed_post_bootstrap(
    gold: list[list[str]],
    preds_a: list[list[list[str]]],
    preds_b: list[list[list[str]]],
    samples: int = 1000,
    seed: int = 0,
    resample_seeds: bool = True,
) -> BootstrapResult:
    """Is system b better than a? Bootstrap over each system's seeds and the shared test posts.

    ``preds_a`` / ``preds_b`` hold one tag-sequence list per seed, aligned with ``gold``.
    ``resample_seeds=False`` keeps every seed in every resample (test-post bootstrap only).
    """
    a, b = _stack(gold, preds_a), _stack(gold, preds_b)
    n_posts = len(gold)
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, samples, _CHUNK):
        blocks = min(_CHUNK, samples - start)
        idx = rng.integers(0, n_posts, size=(blocks, n_posts))
        post_w = np.stack([np.bincount(i, minlength=n_posts) for i in idx])  # (B, N)
        fa = _resampled_f1(a, post_w, rng, resample_seeds)
        fb = _resampled_f1(b, post_w, rng, resample_seeds)
        diffs.append(fb - fa)
    d = np.concatenate(diffs)
    delta = float(_f1(b.sum(axis=1)).mean() - _f1(a.sum(axis=1)).mean())
    low, high = np.percentile(d, [2.5, 97.5])
    return BootstrapResult(
        delta, float(low), float(high), float(np.mean(d <= 0)), samples, len(a), len(b), n_posts
    )


def paired_bootstrap(
    gold: list[list[str]],
    pred_a: list[list[str]],
    pred_b: list[list[str]],
    samples: int = 1000,
    seed: int = 0,
) -> BootstrapResult:
    """Is system b better than system a? Paired bootstrap over posts (one seed each)."""
    return seed_post_bootstrap(gold, [pred_a], [pred_b], samples, seed)


def verdict(result: BootstrapResult, alpha: float = ALPHA) -> str:
    """The verdict "gain (…)", "loss (…)" or "could be noise (…)", naming the test and its p."""
    if result.p_value < alpha and result.delta > 0:
        word = "gain"
    elif result.p_value > 1 - alpha and result.delta < 0:  # Δ ≤ 0 in nearly every resample
        word = "loss"
    else:
        word = "could be noise"
    if result.seeds_a == 1 and result.seeds_b == 1:
        test = (
            f"1 seed: test-post bootstrap only, training noise untested; {result.posts} test posts"
        )
    else:
        seeds = (
            f"{result.seeds_a} seeds"
            if result.seeds_a == result.seeds_b
            else f"{result.seeds_a} vs {result.seeds_b} seeds"
        )
        test = f"bootstrap over {seeds} × {result.posts} test posts"
    return f"{word} ({test}, p={result.p_value:.3f})"
