"""Paired bootstrap: counts match seqeval, clear wins are significant, ties are not."""

import random

import numpy as np
import pytest

from xmner.eval.bootstrap import _f1, paired_bootstrap, post_counts
from xmner.eval.metrics import score


def _noisy(gold, rate, rng):
    out = []
    for seq in gold:
        out.append(["O" if t != "O" and rng.random() < rate else t for t in seq])
    return out


@pytest.fixture
def gold(data_root):
    from xmner.data.corpora import load_split

    return [p.tags for p in load_split("twitter2015", "dev", data_root)]


def test_counts_give_seqeval_f1(gold):
    pred = _noisy(gold, 0.3, random.Random(1))
    assert float(_f1(post_counts(gold, pred).sum(axis=0))) == pytest.approx(score(gold, pred).f1)


def test_clear_improvement_is_significant_and_tie_is_not(gold):
    rng = random.Random(2)
    weak, strong = _noisy(gold, 0.5, rng), _noisy(gold, 0.1, rng)
    win = paired_bootstrap(gold, weak, strong, samples=500)
    assert win.delta == pytest.approx(score(gold, strong).f1 - score(gold, weak).f1)
    assert win.p_value < 0.01 and win.low > 0
    tie = paired_bootstrap(gold, weak, weak, samples=200)
    assert tie.delta == 0 and tie.p_value == 1.0


# Synthetic posts: each has a PER and a LOC chunk; a system "finds" a subset of them.
GOLD = [["B-PER", "O", "B-LOC", "I-LOC"]] * 200


def _finding(per: bool, loc: bool) -> list[str]:
    return ["B-PER" if per else "O", "O", *(["B-LOC", "I-LOC"] if loc else ["O", "O"])]


def _system(hit_rate: float, offset: int) -> list[list[str]]:
    """Finds PER everywhere, LOC on a deterministic share ``hit_rate`` of posts."""
    n = len(GOLD)
    return [_finding(True, (i + offset) % n < hit_rate * n) for i in range(n)]


def test_better_on_every_post_and_seed_has_p_zero():
    from xmner.eval.bootstrap import seed_post_bootstrap, verdict

    weak = [[_finding(True, False)] * len(GOLD) for _ in range(3)]
    strong = [list(GOLD) for _ in range(3)]
    result = seed_post_bootstrap(GOLD, weak, strong, samples=300)
    assert result.p_value == 0.0 and result.low > 0
    assert result.delta == pytest.approx(1.0 - 2 / 3)
    assert (result.seeds_a, result.seeds_b, result.posts) == (3, 3, 200)
    assert verdict(result) == "gain (bootstrap over 3 seeds × 200 test posts, p=0.000)"


def test_identical_systems_are_noise():
    from xmner.eval.bootstrap import seed_post_bootstrap, verdict

    preds = [_system(0.5, k * 37) for k in range(3)]
    result = seed_post_bootstrap(GOLD, preds, preds, samples=300)
    assert result.delta == 0
    assert verdict(result).startswith("could be noise (bootstrap over 3 seeds")


def test_seed_resampling_widens_interval_when_gain_reverses_across_seeds():
    from xmner.eval.bootstrap import seed_post_bootstrap

    base = [_system(0.5, k * 37) for k in range(3)]
    # seed 1 gains strongly, seeds 2 and 3 lose: the gain is training noise
    mixed = [_system(0.95, 0), _system(0.3, 37), _system(0.3, 74)]
    both = seed_post_bootstrap(GOLD, base, mixed, samples=1000, seed=1)
    posts_only = seed_post_bootstrap(GOLD, base, mixed, samples=1000, seed=1, resample_seeds=False)
    assert both.delta == pytest.approx(posts_only.delta)
    assert both.high - both.low > 2 * (posts_only.high - posts_only.low)
    assert both.low < 0 < both.high


def test_one_seed_verdict_says_training_noise_is_untested():
    from xmner.eval.bootstrap import seed_post_bootstrap, verdict

    result = seed_post_bootstrap(GOLD, [_system(0.2, 0)], [list(GOLD)], samples=200)
    text = verdict(result)
    assert text.startswith("gain (1 seed: test-post bootstrap only")
    assert "training noise untested" in text and "p=0.000" in text


def test_post_counts_are_integer_chunk_counts_per_post():
    gold = [["B-PER", "O", "B-LOC"], ["O"], ["B-ORG", "I-ORG"]]
    pred = [["B-PER", "B-LOC", "O"], ["B-PER"], ["B-ORG", "I-ORG"]]
    counts = post_counts(gold, pred)
    assert counts.dtype == np.int64
    assert counts.tolist() == [[1, 2, 2], [0, 1, 0], [1, 1, 1]]
    with pytest.raises(ValueError):
        post_counts(gold, pred[:2])


def test_f1_of_counts_including_empty_edge_cases():
    counts = np.array(
        [
            [0, 0, 0],  # nothing predicted, nothing to find
            [0, 0, 2],  # nothing predicted
            [0, 3, 0],  # nothing to find
            [0, 1, 1],  # one wrong guess
            [1, 1, 1],
            [1, 1, 2],  # p 1, r 1/2
            [1, 2, 1],  # p 1/2, r 1
            [1, 3, 2],  # p 1/3, r 1/2
        ]
    )
    f1 = _f1(counts)  # the suite turns numpy's division warnings into errors
    assert f1.dtype == np.float64
    assert f1.tolist() == pytest.approx([0, 0, 0, 0, 1, 2 / 3, 2 / 3, 0.4])
    assert _f1(counts.reshape(2, 4, 3)).shape == (2, 4)


def test_a_system_without_seeds_is_refused():
    from xmner.eval.bootstrap import seed_post_bootstrap

    with pytest.raises(ValueError, match="^a system needs predictions of at least one seed$"):
        seed_post_bootstrap(GOLD, [], [list(GOLD)])


def _plain_bootstrap(gold, preds_a, preds_b, samples, seed):
    """Test posts only: the documented procedure as a plain loop, one resample at a time,
    drawing posts from the same generator in blocks of 250 resamples."""
    a = np.stack([post_counts(gold, p) for p in preds_a])
    b = np.stack([post_counts(gold, p) for p in preds_b])
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, samples, 250):
        for posts in rng.integers(0, len(gold), size=(min(250, samples - start), len(gold))):
            pooled_a, pooled_b = a[:, posts].sum(axis=(0, 1)), b[:, posts].sum(axis=(0, 1))
            diffs.append(float(_f1(pooled_b)) - float(_f1(pooled_a)))
    return np.array(diffs)


def test_post_bootstrap_equals_a_plain_loop():
    from xmner.eval.bootstrap import seed_post_bootstrap

    gold = GOLD[:12]
    preds_a = [
        [_finding(True, i % 2 == 0) for i in range(12)],
        [_finding(True, i < 7) for i in range(12)],
    ]
    preds_b = [[_finding(i % 4 > 0, i % 3 > 0) for i in range(12)]]
    d = _plain_bootstrap(gold, preds_a, preds_b, 300, 4)
    assert len(d) == 300 and 0 < np.mean(d <= 0) < 1  # a spread of differences
    r = seed_post_bootstrap(gold, preds_a, preds_b, samples=300, seed=4, resample_seeds=False)
    assert r.p_value == pytest.approx(np.mean(d <= 0))
    assert (r.low, r.high) == pytest.approx(tuple(np.percentile(d, [2.5, 97.5])))
    assert (r.samples, r.seeds_a, r.seeds_b, r.posts) == (300, 2, 1, 12)


def test_results_are_reproducible_and_default_to_seed_zero_and_1000_samples():
    from xmner.eval.bootstrap import seed_post_bootstrap

    a, b = [_system(0.5, 0)], [_system(0.6, 50)]
    first = seed_post_bootstrap(GOLD, a, b)
    assert first == seed_post_bootstrap(GOLD, a, b, 1000, 0)
    assert first.samples == 1000
    assert first != seed_post_bootstrap(GOLD, a, b, seed=1)  # the seed matters
    paired = paired_bootstrap(GOLD, a[0], b[0])
    assert paired == first
    assert paired_bootstrap(GOLD, a[0], b[0], 200, 7) == seed_post_bootstrap(GOLD, a, b, 200, 7)


def test_seed_resampling_widens_interval_for_either_system():
    from xmner.eval.bootstrap import seed_post_bootstrap

    base = [_system(0.5, k * 37) for k in range(3)]
    mixed = [_system(0.95, 0), _system(0.3, 37), _system(0.3, 74)]
    both = seed_post_bootstrap(GOLD, mixed, base, samples=1000, seed=1)
    posts_only = seed_post_bootstrap(GOLD, mixed, base, samples=1000, seed=1, resample_seeds=False)
    assert both.high - both.low > 2 * (posts_only.high - posts_only.low)


def _result(delta, p_value, seeds_a=1, seeds_b=1):
    from xmner.eval.bootstrap import BootstrapResult

    return BootstrapResult(delta, -1.0, 1.0, p_value, 100, seeds_a, seeds_b, 50)


def test_verdict_needs_both_a_small_p_value_and_a_positive_gain():
    from xmner.eval.bootstrap import verdict

    assert verdict(_result(0.1, 0.01)).startswith("gain (")
    assert verdict(_result(0.1, 0.05)).startswith("could be noise (")  # p must be < alpha
    assert verdict(_result(0.1, 0.2)).startswith("could be noise (")
    assert verdict(_result(0.0, 0.01)).startswith("could be noise (")
    assert verdict(_result(-0.1, 0.01)).startswith("could be noise (")
    assert verdict(_result(-0.1, 0.99)).startswith("loss (")  # Δ ≤ 0 in 99 % of resamples
    assert verdict(_result(-0.1, 0.95)).startswith("could be noise (")
    assert verdict(_result(0.1, 0.99)).startswith("could be noise (")
    assert verdict(_result(0.1, 0.2), alpha=0.3).startswith("gain (")


def test_a_system_against_itself_could_be_noise_not_a_loss():
    # Identical predictions: Δ is 0 in every resample, so p (the share with Δ <= 0) is 1.
    from xmner.eval.bootstrap import verdict

    gold = [["B-PER", "O"], ["O", "B-LOC"], ["B-ORG", "I-ORG"]] * 4
    pred = [["B-PER", "O"], ["O", "O"], ["B-ORG", "I-ORG"]] * 4
    same = paired_bootstrap(gold, pred, pred, samples=50)
    assert (same.delta, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert verdict(same) == (
        "could be noise (1 seed: test-post bootstrap only, training noise untested; "
        "12 test posts, p=1.000)"
    )


def test_verdict_names_unequal_seed_counts():
    from xmner.eval.bootstrap import verdict

    assert verdict(_result(0.1, 0.01, 1, 3)) == (
        "gain (bootstrap over 1 vs 3 seeds × 50 test posts, p=0.010)"
    )
    assert verdict(_result(0.1, 0.01, 2, 3)) == (
        "gain (bootstrap over 2 vs 3 seeds × 50 test posts, p=0.010)"
    )
    assert verdict(_result(0.1, 0.01, 3, 1)).startswith("gain (bootstrap over 3 vs 1 seeds")
    assert verdict(_result(0.1, 0.01, 2, 2)).startswith("gain (bootstrap over 2 seeds × 50")
