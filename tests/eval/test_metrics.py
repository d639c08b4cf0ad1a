"""Metrics against hand counts (incl. I-after-O chunks), error breakdown, and seqeval parity."""

import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from xmner.data.tags import spans_from_tags
from xmner.eval.errors import error_breakdown, post_errors
from xmner.eval.metrics import score


def test_hand_computed_example_with_orphan_i_chunks():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["I-ORG", "I-ORG", "O", "B-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "I-ORG", "O", "O"]]
    # gold chunks: PER(0,2) LOC(3) | ORG(0,2) (orphan I- starts a chunk) MISC(3) -> 4
    # pred chunks: PER(0,2) ORG(3) | ORG(0,2) -> 3; correct: PER, ORG(0,2) -> 2
    s = score(gold, pred)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 4)
    assert s.f1 == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))
    assert s.per_type["ORG"].precision == pytest.approx(1 / 2)
    assert s.per_type["ORG"].support == 1
    assert s.per_type["LOC"].recall == 0.0
    assert s.per_type["MISC"].support == 1


def test_orphan_i_after_other_type_is_its_own_chunk():
    gold = [["B-PER", "I-LOC", "I-LOC"]]
    pred = [["B-PER", "B-LOC", "I-LOC"]]
    # gold: PER(0) LOC(1,3); pred: PER(0) LOC(1,3) -> perfect despite different tags
    assert score(gold, pred).f1 == 1.0


def test_misaligned_input_is_refused():
    with pytest.raises(ValueError, match="sequence 0: 2 gold tags but 1 predicted"):
        score([["O", "O"]], [["O"]])


def test_our_chunking_equals_seqeval_on_random_sequences():
    rng = random.Random(3)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for _ in range(500):
        seq = [rng.choice(tags) for _ in range(rng.randint(1, 9))]
        ours = [(s.label, s.start, s.end - 1) for s in spans_from_tags(seq)]
        assert ours == get_entities(seq), seq


def test_error_kinds():
    gold = ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O", "O"]
    pred = ["B-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "O", "B-ORG", "O", "B-MISC"]
    errors = post_errors("p1", gold, pred)
    assert errors.counts == {"wrong_span": 2, "wrong_type": 1, "missed": 0, "spurious": 1}
    totals, posts = error_breakdown(["a", "b"], [gold, ["B-PER"]], [pred, ["O"]])
    assert totals == {"wrong_span": 2, "wrong_type": 1, "missed": 1, "spurious": 1}
    assert [p.post_id for p in posts] == ["a", "b"]
