"""P@k against values worked out by hand, with and without ``max_rank``."""

from __future__ import annotations

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


def test_word_translation_with_max_rank_drops_rare_targets_and_keeps_rare_queries():
    src, tgt, pairs = _spaces()
    # max_rank 4: targets 4 and 5 are out, so the pair 4->4 goes; source row 5 (beyond the
    # rank) stays a query and still finds its target 1 through the CSLS pool.
    m = word_translation(src, tgt, pairs, ks=(1,), knn=1, max_rank=4)
    assert m["p_at_1_nn"] == m["p_at_1_csls"] == 4 / 5
    assert (m["n_test_pairs"], m["n_test_words"]) == (5, 5)
