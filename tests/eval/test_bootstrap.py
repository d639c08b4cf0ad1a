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
