"""P@k against values worked out by hand, with and without ``max_rank``."""

from __future__ import annotations

import pytest
import torch

from xmner.align.evaluate import precision_at_k, word_translation


def test_precision_at_k_counts_a_query_once_if_any_gold_target_is_in_its_top_k():
    retrieved = torch.tensor([[5, 6, 7], [8, 1, 9], [3, 4, 2], [0, 0, 0]])
    queries = torch.tensor([10, 11, 12, 13])
    # query 10: gold 5 at rank 1; 11: gold 1 at rank 2; 12: gold {2, 9}, 2 at rank 3; 13: never
    pairs = torch.tensor([[10, 5], [11, 1], [12, 9], [12, 2], [13, 4]])
    assert precision_at_k(retrieved, queries, pairs, ks=(1, 2, 3)) == {1: 0.25, 2: 0.5, 3: 0.75}


def _spaces():
    """Six one-hot targets; source rows copy targets 0, 2, 2, 3, 4, 1 (so row 1 is wrong)."""
    tgt = torch.eye(6)
    src = tgt[[0, 2, 2, 3, 4, 1]]
    # gold: 0->0 hit, 1->1 miss, 2->2 hit, 3->3 hit, 4->4 hit, 5->1 hit
    pairs = torch.tensor([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 1]])
    return src, tgt, pairs


def test_word_translation_on_a_hand_made_case():
    src, tgt, pairs = _spaces()
    m = word_translation(src, tgt, pairs, ks=(1,), knn=1)
    assert m["p_at_1_nn"] == m["p_at_1_csls"] == 5 / 6
    assert (m["n_test_pairs"], m["n_test_words"]) == (6, 6)
    assert set(m) == {"p_at_1_nn", "p_at_1_csls", "n_test_pairs", "n_test_words"}  # ks kept


def test_word_translation_with_max_rank_drops_rare_targets_and_keeps_rare_queries():
    src, tgt, pairs = _spaces()
    # max_rank 4: targets 4 and 5 are out, so the pair 4->4 goes; source row 5 (beyond the
    # rank) stays a query and still finds its target 1 through the CSLS pool.
    m = word_translation(src, tgt, pairs, ks=(1,), knn=1, max_rank=4)
    assert m["p_at_1_nn"] == m["p_at_1_csls"] == 4 / 5
    assert (m["n_test_pairs"], m["n_test_words"]) == (5, 5)


def _dense_p_at_k(src, tgt, pairs, ks, knn, max_rank=None):
    """The documented computation, densely: CSLS neighbourhoods of targets over the frequent
    source rows plus the queries; targets (and pairs) beyond ``max_rank`` dropped."""
    if max_rank is not None:
        tgt, pairs = tgt[:max_rank], pairs[pairs[:, 1] < max_rank]
    queries = sorted(set(pairs[:, 0].tolist()))
    pool = sorted(set(range(len(src) if max_rank is None else max_rank)) | set(queries))
    s, t = src / src.norm(dim=1, keepdim=True), tgt / tgt.norm(dim=1, keepdim=True)
    r_t = (s[pool] @ t.T).topk(knn, dim=0).values.mean(0)  # (M,)
    cos = s[queries] @ t.T  # (Q, M)
    r_q = cos.topk(knn, dim=1).values.mean(1)
    csls = 2 * cos - r_q[:, None] - r_t[None, :]
    out = {}
    for name, scores in (("nn", cos), ("csls", csls)):
        for k in ks:
            top = scores.topk(k, dim=1).indices.tolist()
            hits = [any([q, j] in pairs.tolist() for j in row) for q, row in zip(queries, top)]
            out[f"p_at_{k}_{name}"] = sum(hits) / len(hits)
    return out, len(pairs), len(queries)


def test_word_translation_equals_a_dense_computation_with_and_without_max_rank():
    g = torch.Generator().manual_seed(0)
    tgt = torch.randn(50, 8, generator=g)
    src = torch.cat([tgt[:45], torch.randn(15, 8, generator=g)])  # 60 rows
    src = src + 0.8 * torch.randn(60, 8, generator=g)
    # queries in no order, some beyond rank 30 (source and target), one with two targets
    rows = [52, 3, 40, 17, 33, 8, 44, 21, 12, 36, 5, 29, 30, 31, 19]
    pairs = torch.tensor([[i, i] for i in rows] + [[8, 41], [40, 2], [55, 7], [30, 4]])
    differ = []
    for max_rank in (None, 30):
        got = word_translation(src, tgt, pairs, ks=(1, 5), knn=3, max_rank=max_rank)
        want, n_pairs, n_words = _dense_p_at_k(src, tgt, pairs, (1, 5), 3, max_rank)
        assert {k: got[k] for k in want} == want
        assert (got["n_test_pairs"], got["n_test_words"]) == (n_pairs, n_words)
        assert 0 < want["p_at_1_csls"] < 1
        differ.append(
            want["p_at_1_csls"] != want["p_at_1_nn"] or want["p_at_5_csls"] != want["p_at_5_nn"]
        )
    assert any(differ)  # CSLS and NN retrieve differently here


def test_precision_of_one_query_and_no_pairs():
    assert precision_at_k(torch.tensor([[4]]), torch.tensor([2]), torch.tensor([[2, 4]]), (1,)) == {
        1: 1.0
    }
    with pytest.raises(ValueError, match="at least one test pair"):
        word_translation(torch.eye(3), torch.eye(3), torch.zeros(0, 2, dtype=torch.long))
