"""Paired bootstrap: counts match seqeval, clear wins are significant, ties are not."""

import random

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
