"""Word-translation precision (P@1/5/10, NN and CSLS retrieval).

A source word counts as translated at k if any of its gold targets is among its k best
retrieved target rows (MUSE's convention). Q test source words, M target rows.
"""

from __future__ import annotations

import torch

from xmner.align.procrustes import csls_topk, nn_topk


def precision_at_k(
    retrieved: torch.Tensor, queries: torch.Tensor, test_pairs: torch.Tensor, ks=(1, 5, 10)
) -> dict[int, float]:
    """P@k from retrieved target rows (Q, >=max k) for source rows ``queries`` (Q,)."""
    gold: dict[int, set[int]] = {}
    for s, t in test_pairs.tolist():
        gold.setdefault(s, set()).add(t)
    out = {}
    for k in ks:
        hits = [
            bool(gold[q] & set(row[:k]))
            for q, row in zip(queries.tolist(), retrieved.tolist(), strict=True)
        ]
        out[k] = sum(hits) / max(len(hits), 1)
    return out


def word_translation(
    src_mapped: torch.Tensor,
    tgt: torch.Tensor,
    test_pairs: torch.Tensor,
    *,
    ks=(1, 5, 10),
    knn: int = 10,
    max_rank: int | None = None,
    coarse: torch.dtype = torch.bfloat16,
) -> dict[str, float | int]:
    """P@k with NN and CSLS retrieval for the test pairs (P, 2) of mapped source rows.

    ``max_rank`` limits retrieval (and CSLS neighbourhoods) to the most frequent target and
    source rows; test pairs with a target beyond it are dropped.
    """
    if len(test_pairs) == 0:
        raise ValueError("expected at least one test pair, got none")
    if max_rank is not None:
        tgt = tgt[:max_rank]
        test_pairs = test_pairs[test_pairs[:, 1] < max_rank]
    queries = torch.unique(test_pairs[:, 0])
    k = max(ks)
    _, nn = nn_topk(src_mapped[queries], tgt, k)
    # CSLS neighbourhoods of targets come from the most frequent source rows plus the queries.
    pool = src_mapped if max_rank is None else src_mapped[:max_rank]
    pool = torch.cat([pool, src_mapped[queries[queries >= len(pool)]]])
    pos = _positions(queries, len(src_mapped) if max_rank is None else max_rank)
    _, cs = csls_topk(pool, tgt, k, knn=knn, queries=pos, coarse=coarse)
    metrics: dict[str, float | int] = {}
    for name, retrieved in (("nn", nn), ("csls", cs)):
        for kk, p in precision_at_k(retrieved, queries, test_pairs, ks).items():
            metrics[f"p_at_{kk}_{name}"] = p
    metrics["n_test_pairs"] = len(test_pairs)
    metrics["n_test_words"] = len(queries)
    return metrics


def _positions(queries: torch.Tensor, pool_rank: int) -> torch.Tensor:
    """Row of each query in ``pool`` = first pool_rank rows, then the out-of-rank queries."""
    pos = queries.clone()
    beyond = queries >= pool_rank
    pos[beyond] = pool_rank + torch.arange(int(beyond.sum()))
    return pos
