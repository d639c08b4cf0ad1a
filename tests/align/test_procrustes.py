"""Procrustes, CSLS and refinement against oracles on synthetic data."""

from __future__ import annotations

import pytest
import torch

from xmner.align.procrustes import (
    csls_topk,
    induce_dictionary,
    knn_mean_cos,
    nn_topk,
    orthogonalize,
    procrustes,
    refine,
    unit,
)


def random_orthogonal(d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


def dense_csls(src, tgt, k, knn):
    """The textbook computation: full cosine matrix, both neighbourhoods, top-k."""
    cos = unit(src) @ unit(tgt).T
    r_src = cos.topk(knn, dim=1).values.mean(1)
    r_tgt = cos.topk(knn, dim=0).values.mean(0)
    return (2 * cos - r_src[:, None] - r_tgt[None, :]).topk(k, dim=1)


def test_procrustes_recovers_orthogonal_map_exactly():
    x = torch.randn(500, 64)
    q = random_orthogonal(64)
    w = procrustes(x, x @ q)
    assert torch.allclose(w, q, atol=1e-5)
    assert torch.allclose(w @ w.T, torch.eye(64), atol=1e-5)


def test_procrustes_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="expected two"):
        procrustes(torch.randn(5, 4), torch.randn(6, 4))


def test_orthogonalize_moves_towards_orthogonal():
    w = random_orthogonal(16) + 0.05 * torch.randn(16, 16)
    before = (w @ w.T - torch.eye(16)).norm()
    for _ in range(20):
        w = orthogonalize(w, 0.1)
    assert (w @ w.T - torch.eye(16)).norm() < before / 10


@pytest.mark.parametrize("coarse", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shortlist", [3, 32])
def test_csls_topk_equals_dense_reference(coarse, shortlist):
    src, tgt = torch.randn(300, 16), torch.randn(250, 16)
    scores, idx = csls_topk(src, tgt, k=5, knn=4, shortlist=shortlist, chunk=64, coarse=coarse)
    ref_scores, ref_idx = dense_csls(src, tgt, 5, 4)
    assert torch.equal(idx, ref_idx)
    assert torch.allclose(scores, ref_scores, atol=1e-5)


def test_csls_queries_and_knn_mean_match_dense():
    src, tgt = torch.randn(120, 8), torch.randn(90, 8)
    cos = unit(src) @ unit(tgt).T
    r = knn_mean_cos(src, tgt, 5, chunk=16, coarse=torch.bfloat16)
    assert torch.allclose(r, cos.topk(5, dim=1).values.mean(1), atol=1e-5)
    queries = torch.tensor([7, 3, 100])
    _, idx = csls_topk(src, tgt, k=2, knn=5, queries=queries, chunk=16)
    assert torch.equal(idx, dense_csls(src, tgt, 2, 5)[1][queries])
    _, nn = nn_topk(src, tgt, k=3, chunk=16)
    assert torch.equal(nn, cos.topk(3, dim=1).indices)


def test_induced_dictionary_is_mutual_csls_neighbours():
    src, tgt = torch.randn(200, 12), torch.randn(180, 12)
    ind = induce_dictionary(src, tgt, max_rank=150, knn=5, chunk=32)
    _, fwd = dense_csls(src[:150], tgt[:150], 1, 5)
    _, bwd = dense_csls(tgt[:150], src[:150], 1, 5)
    expected = {(i, int(fwd[i, 0])) for i in range(150) if int(bwd[fwd[i, 0], 0]) == i}
    assert {tuple(p) for p in ind.pairs.tolist()} == expected
    assert len(expected) > 0


def test_refinement_from_small_seed_recovers_noisy_permuted_map():
    n, d = 3000, 50
    g = torch.Generator().manual_seed(1)
    x = unit(torch.randn(n, d, generator=g))
    q = random_orthogonal(d, seed=2)
    perm = torch.randperm(n, generator=g)  # target row perm[i] translates source row i
    y = torch.empty_like(x)
    y[perm] = unit(x @ q + 0.1 / d**0.5 * torch.randn(n, d, generator=g))
    seed = torch.stack([torch.arange(30), perm[:30]], dim=1)
    # Procrustes on 30 noisy pairs alone is far from enough ...
    w0 = procrustes(x[seed[:, 0]], y[seed[:, 1]])
    p1_seed = (nn_topk(x @ w0, y, k=1)[1][:, 0] == perm).float().mean()
    result = refine(x, y, seed, iterations=3, max_rank=n, knn=10)
    _, best = csls_topk(x @ result.w, y, k=1)
    p_at_1 = (best[:, 0] == perm).float().mean()
    assert p1_seed < 0.9
    assert p_at_1 >= 0.99
    assert torch.allclose(result.w, q, atol=0.05)
    assert result.history[-1][0] > 0.9 * n  # the induced dictionary covers almost everything


def test_adversarial_keeps_an_aligned_pair_aligned_and_orthogonal():
    from xmner.align.adversarial import AdversarialConfig, adversarial_mapping

    x = unit(torch.randn(600, 8) * torch.linspace(0.5, 2.0, 8))  # anisotropic
    cfg = AdversarialConfig(epochs=2, steps_per_epoch=60, hidden=64, criterion_words=600)
    w, crit = adversarial_mapping(x, x.clone(), cfg)
    assert torch.allclose(w @ w.T, torch.eye(8), atol=0.05)
    _, best = csls_topk(x @ w, x, k=1)
    assert (best[:, 0] == torch.arange(600)).float().mean() > 0.95
    assert crit > 0.9
