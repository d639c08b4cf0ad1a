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
    with pytest.raises(ValueError, match="^2 gold sequences but 1 predicted$"):
        score([["O"], ["O"]], [["O"]])


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


def test_no_entity_anywhere_scores_zero():
    # seqeval's report has no "micro avg" row then: score falls back to zeros. (seqeval's
    # weighted average over no types warns "Mean of empty slice" on the way.)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s = score([["O", "O"], ["O"]], [["O", "O"], ["O"]])
    assert (s.precision, s.recall, s.f1, s.per_type) == (0.0, 0.0, 0.0, {})
    assert s.to_dict() == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "per_type": {},
        "mode": "seqeval default (conlleval-compatible), micro-averaged over entity chunks",
    }


def test_type_never_predicted_scores_zero_precision_without_warnings():
    # zero_division=0: a type with no predictions has precision (and F1) 0, silently.
    import warnings

    from sklearn.exceptions import UndefinedMetricWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        s = score([["B-PER", "O", "B-LOC"]], [["O", "O", "B-LOC"]])
        none = score([["B-PER"]], [["O"]])
    per = s.per_type["PER"]
    assert (per.precision, per.recall, per.f1, per.support) == (0.0, 0.0, 0.0, 1)
    assert (s.precision, s.recall) == (1.0, 0.5)
    assert s.f1 == pytest.approx(2 / 3)
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)
    assert sorted(s.per_type) == ["LOC", "PER"]


def _post(pid, tokens, tags):
    from xmner.data.corpus import Post

    return Post(pid, tokens, tags)


def _write(path, posts):
    from xmner.data.corpus import write_corpus

    write_corpus(posts, path, "twitter")
    return path


def test_score_files_scores_the_tags_of_two_aligned_files(tmp_path):
    from xmner.eval.metrics import score_files

    gold = _write(
        tmp_path / "gold.txt",
        [
            _post("1", ["Obama", "in", "Rome"], ["B-PER", "O", "B-LOC"]),
            _post("2", ["New", "York"], ["B-LOC", "I-LOC"]),
        ],
    )
    pred = _write(
        tmp_path / "pred.txt",
        [
            _post("1", ["Obama", "in", "Rome"], ["B-PER", "O", "O"]),
            _post("2", ["New", "York"], ["B-LOC", "B-LOC"]),
        ],
    )
    s = score_files(gold, str(pred))
    # gold: PER, LOC | LOC(0,2); pred: PER | LOC(0), LOC(1); correct: PER
    assert (s.precision, s.recall) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert s.per_type["LOC"].support == 2 and s.per_type["PER"].f1 == 1.0
    assert score_files(gold, gold).f1 == 1.0


def test_score_files_refuses_files_of_other_posts_or_tokens(tmp_path):
    from xmner.eval.metrics import score_files

    gold = _write(tmp_path / "gold.txt", [_post("1", ["a", "b"], ["O", "B-PER"])])
    longer = _write(
        tmp_path / "longer.txt",
        [_post("1", ["a", "b"], ["O", "O"]), _post("2", ["c"], ["O"])],
    )
    with pytest.raises(ValueError) as e:
        score_files(gold, longer)
    assert str(e.value) == f"{gold} has 1 posts but {longer} has 2"
    other_id = _write(tmp_path / "id.txt", [_post("9", ["a", "b"], ["O", "B-PER"])])
    with pytest.raises(ValueError) as e:
        score_files(gold, other_id)
    assert str(e.value) == (
        f"{other_id}: post 9 does not match gold post 1 (id differ); "
        "expected the same posts and tokens in the same order"
    )
    other_tokens = _write(tmp_path / "tok.txt", [_post("1", ["a", "c"], ["O", "B-PER"])])
    with pytest.raises(ValueError) as e:
        score_files(gold, other_tokens)
    assert str(e.value) == (
        f"{other_tokens}: post 1 does not match gold post 1 (tokens differ); "
        "expected the same posts and tokens in the same order"
    )
    both = _write(tmp_path / "both.txt", [_post("9", ["a", "c"], ["O", "B-PER"])])
    with pytest.raises(ValueError, match=r"post 9 does not match gold post 1 \(id differ\)"):
        score_files(gold, both)
