"""Procrustes, CSLS and refinement against oracles on synthetic data."""

from __future__ import annotations

import inspect

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


def _pairs(ind_or_pairs) -> set[tuple[int, int]]:
    return {tuple(p) for p in ind_or_pairs.tolist()}


def _noisy_pair(n=120, d=8, seed=3):
    """Source rows, and target rows: a rotation of them, noisy, in another order."""
    g = torch.Generator().manual_seed(seed)
    x = unit(torch.randn(n, d, generator=g))
    perm = torch.randperm(n, generator=g)
    y = torch.empty_like(x)
    y[perm] = unit(x @ random_orthogonal(d, seed) + 0.3 * torch.randn(n, d, generator=g))
    return x, y, perm


def test_refine_does_by_hand_rounds_of_induce_and_solve():
    x, y, perm = _noisy_pair()
    seed = torch.stack([torch.arange(12), perm[:12]], dim=1)
    seed[3, 1] = perm[40]  # one wrong seed pair
    rank, knn = 100, 3
    w0 = procrustes(x[seed[:, 0]], y[seed[:, 1]])
    ind0 = induce_dictionary(x[:rank] @ w0, y, max_rank=rank, knn=knn)
    w1 = procrustes(x[ind0.pairs[:, 0]], y[ind0.pairs[:, 1]])
    ind1 = induce_dictionary(x[:rank] @ w1, y, max_rank=rank, knn=knn)
    assert ind1.criterion > ind0.criterion  # the round helps, so the best mapping is w1

    r = refine(x.double(), y, seed, iterations=1, max_rank=rank, knn=knn, coarse=torch.float32)
    assert r.history == [
        (12, pytest.approx(ind0.criterion, abs=1e-6)),
        (len(ind0.pairs), pytest.approx(ind1.criterion, abs=1e-6)),
    ]
    assert r.criterion == pytest.approx(ind1.criterion, abs=1e-6)
    assert torch.equal(r.pairs, ind0.pairs)
    assert r.w.dtype == torch.float32 and torch.allclose(r.w, w1, atol=1e-5)
    assert int(r.pairs.max()) < rank  # induced among the max_rank most frequent words

    zero = refine(x, y, seed, iterations=0, max_rank=rank, knn=knn)
    assert zero.history == [(12, pytest.approx(ind0.criterion, abs=1e-6))]
    assert torch.equal(zero.pairs, seed) and torch.allclose(zero.w, w0, atol=1e-6)


def test_refine_keep_seed_solves_on_induced_plus_seed_pairs():
    x, y, perm = _noisy_pair()
    seed = torch.stack([torch.arange(12), perm[:12]], dim=1)
    seed[3, 1] = perm[40]  # a wrong pair that induction alone would drop
    rank, knn = 100, 3
    w0 = procrustes(x[seed[:, 0]], y[seed[:, 1]])
    ind0 = induce_dictionary(x[:rank] @ w0, y, max_rank=rank, knn=knn)
    both = torch.cat([seed, ind0.pairs]).unique(dim=0)
    assert len(both) < len(seed) + len(ind0.pairs)  # some seed pairs were induced again
    assert (3, int(perm[40])) not in _pairs(ind0.pairs)
    w1 = procrustes(x[both[:, 0]], y[both[:, 1]])
    ind1 = induce_dictionary(x[:rank] @ w1, y, max_rank=rank, knn=knn)
    assert ind1.criterion > ind0.criterion

    r = refine(x, y, seed, iterations=1, max_rank=rank, knn=knn, keep_seed=True)
    assert torch.equal(r.pairs, both)
    assert r.history[1] == (len(both), pytest.approx(ind1.criterion, abs=1e-6))
    assert torch.allclose(r.w, w1, atol=1e-5)


def test_refine_stops_when_fewer_than_two_pairs_are_induced():
    x = unit(torch.randn(6, 4))
    seed = torch.tensor([[0, 0], [1, 0]])
    one = unit(torch.randn(1, 4))  # one target word: one mutual pair at most
    r = refine(x, one, seed, iterations=3, knn=2)
    assert [n for n, _ in r.history] == [2]
    two = torch.cat([x[:1], -x[:1]])  # two target words, two mutual pairs: go on
    r = refine(x, two, torch.tensor([[0, 0], [1, 1]]), iterations=3, knn=2)
    assert [n for n, _ in r.history] == [2, 2, 2, 2]


def test_refine_rejects_fewer_than_two_seed_pairs():
    with pytest.raises(ValueError, match=r"expected seed pairs of shape \(P>=2, 2\), got \(1, 2\)"):
        refine(torch.randn(4, 3), torch.randn(4, 3), torch.tensor([[0, 0]]))
    for bad in (torch.tensor([0, 1]), torch.tensor([[0, 0, 0], [1, 1, 1]])):
        with pytest.raises(ValueError, match="expected seed pairs"):
            refine(torch.randn(4, 3), torch.randn(4, 3), bad)


def test_criterion_is_the_mean_cosine_of_the_first_criterion_words():
    src, tgt = torch.randn(40, 6), torch.randn(50, 6)
    ind = induce_dictionary(src, tgt, max_rank=30, knn=4, criterion_words=7)
    _, fwd = dense_csls(src[:30], tgt[:30], 1, 4)
    assert torch.equal(ind.forward, fwd[:, 0])
    cos = (unit(src[:7]) * unit(tgt[fwd[:7, 0]])).sum(1)
    assert ind.criterion == pytest.approx(float(cos.mean()), abs=1e-6)
    everything = induce_dictionary(src, tgt, max_rank=30, knn=4, criterion_words=1000)
    cos = (unit(src[:30]) * unit(tgt[fwd[:, 0]])).sum(1)
    assert everything.criterion == pytest.approx(float(cos.mean()), abs=1e-6)


def test_unit_scales_short_rows_up_and_keeps_zero_rows():
    u = unit(torch.tensor([[0.3, 0.4], [0.0, 0.0], [6.0, 8.0]]))
    assert torch.allclose(u, torch.tensor([[0.6, 0.8], [0.0, 0.0], [0.6, 0.8]]))


def test_defaults_are_muses():
    # MUSE's settings: knn 10, beta 0.01, top-10 lists, 5 refinement rounds
    w = random_orthogonal(6) + 0.05 * torch.randn(6, 6)
    assert torch.equal(orthogonalize(w), orthogonalize(w, 0.01))
    src, tgt = torch.randn(60, 6), torch.randn(50, 6)
    assert torch.equal(knn_mean_cos(src, tgt), knn_mean_cos(src, tgt, 10))
    scores, idx = csls_topk(src, tgt)
    assert idx.shape == (60, 10) and torch.equal(idx, csls_topk(src, tgt, 10, knn=10)[1])
    assert nn_topk(src, tgt)[1].shape == (60, 10)
    ind = induce_dictionary(src, tgt)
    assert torch.equal(ind.pairs, induce_dictionary(src, tgt, knn=10).pairs)
    seed = torch.stack([torch.arange(8), torch.arange(8)], dim=1)
    r = refine(src, tgt, seed)
    assert len(r.history) == 6  # the seed mapping and 5 rounds
    assert r.history == refine(src, tgt, seed, iterations=5, knn=10).history
    # Induction among the 15,000 most frequent words, the criterion over the first 10,000:
    # a run at that size takes minutes of CPU, so refine's calls are watched and
    # induce_dictionary's signature read.
    for fn in (induce_dictionary, refine):
        assert inspect.signature(fn).parameters["max_rank"].default == 15000
    assert inspect.signature(induce_dictionary).parameters["criterion_words"].default == 10000
    import xmner.align.procrustes as module

    calls = []

    def spy(*args, **kwargs):
        calls.append((len(args[0]), kwargs["max_rank"]))
        return induce_dictionary(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, "induce_dictionary", spy)
        refine(src, tgt, seed, iterations=1)
    assert calls == [(60, 15000)] * 2


def test_knn_mean_with_fewer_keys_than_knn_or_near_duplicate_keys():
    q, few = torch.randn(5, 8), torch.randn(3, 8)
    cos = unit(q) @ unit(few).T
    assert torch.allclose(knn_mean_cos(q, few, 5), cos.mean(1), atol=1e-6)
    # 200 keys closer together than bfloat16 can tell apart: the coarse shortlist (20 = D
    # keys) is a lottery, so every row must be recomputed densely to be right
    g = torch.Generator().manual_seed(5)
    base = torch.randn(1, 20, generator=g)
    keys = base + 1e-3 * torch.randn(200, 20, generator=g)
    q = base + 0.5 * torch.randn(6, 20, generator=g)
    dense = (unit(q) @ unit(keys).T).topk(6, dim=1).values.mean(1)
    r = knn_mean_cos(q, keys, 6, chunk=4, coarse=torch.bfloat16)
    assert torch.allclose(r, dense, atol=1e-6)


def test_csls_with_more_neighbours_than_shortlist_or_k_above_dimension(caplog):
    src, tgt = torch.randn(40, 4), torch.randn(30, 4)
    with caplog.at_level("DEBUG", logger="xmner.align.procrustes"):
        scores, idx = csls_topk(src, tgt, k=6, knn=7, shortlist=2, chunk=16)
    ref_scores, ref_idx = dense_csls(src, tgt, 6, 7)
    assert idx.shape == (40, 6) and torch.equal(idx, ref_idx)
    assert torch.allclose(scores, ref_scores, atol=1e-5)
    assert any(
        m.startswith("CSLS: ") and m.endswith(" of 40 rows recomputed densely")
        for m in caplog.messages
    )


def test_induction_recomputes_doubtful_rows_densely():
    src, tgt = torch.randn(50, 6), torch.randn(45, 6)
    ind = induce_dictionary(src, tgt, knn=4, shortlist=1, chunk=8)
    _, fwd = dense_csls(src, tgt, 1, 4)
    _, bwd = dense_csls(tgt, src, 1, 4)
    assert torch.equal(ind.forward, fwd[:, 0])
    expected = {(i, int(fwd[i, 0])) for i in range(50) if int(bwd[fwd[i, 0], 0]) == i}
    assert _pairs(ind.pairs) == expected


def test_refine_logs_each_round(caplog):
    x, y, perm = _noisy_pair()
    seed = torch.stack([torch.arange(12), perm[:12]], dim=1)
    with caplog.at_level("INFO", logger="xmner.align.procrustes"):
        r = refine(x, y, seed, iterations=1, max_rank=100, knn=3)
    assert caplog.messages == [
        f"refinement {i}: {n} pairs, criterion {c:.4f}" for i, (n, c) in enumerate(r.history)
    ]


def _fans(*fans):
    """One query per list of cosines, and keys at exactly those cosines to it (0 to the rest).

    Query i is axis i; each key has its query's component and one axis of its own.
    """
    n_keys = sum(len(f) for f in fans)
    d = len(fans) + n_keys
    q, keys = torch.zeros(len(fans), d), torch.zeros(n_keys, d, dtype=torch.float64)
    row = 0
    for i, cosines in enumerate(fans):
        q[i, i] = 1.0
        for c in cosines:
            keys[row, i], keys[row, len(fans) + row] = c, (1 - c**2) ** 0.5
            row += 1
    return q, keys.float()


@pytest.fixture
def dense_queries(monkeypatch):
    """The query rows (unit) that the exact dense fallback was asked to recompute, each call
    followed by its chunks: (first row, number of rows)."""
    import xmner.align.procrustes as module

    seen, real = [], module._dense_rows

    def spy(q, keys, r_keys, chunk):
        seen.append(q.clone())
        for start, sims, r in real(q, keys, r_keys, chunk):
            seen.append((start, len(sims)))
            yield start, sims, r

    monkeypatch.setattr(module, "_dense_rows", spy)
    return seen


@pytest.mark.parametrize(
    ("coarse", "error"),
    [(torch.bfloat16, 2.0**-6), (torch.float16, 2.0**-9), (torch.float32, 1e-5)],
)
def test_knn_mean_recomputes_densely_the_rows_in_doubt_and_only_those(dense_queries, coarse, error):
    # knn 1: the shortlist keeps 2 * 1 + 8 = 10 of each query's 16 keys (and the other
    # queries' keys at cosine 0). A coarse cosine is within `error` of the exact one, so a row
    # is in doubt when its 10th kept key is within `error` of its best: a key left out might
    # be better than its best. The 11th keys (0.1) are far below all kept ones.
    def fan(spread):
        return [0.24] + [0.24 - spread] * 9 + [0.1] * 6

    q, keys = _fans(fan(1.4 * error), fan(0.7 * error), fan(0.1))
    r = knn_mean_cos(q, keys, 1, coarse=coarse)
    assert torch.allclose(r, torch.full((3,), 0.24), atol=1e-6)
    assert len(dense_queries) == 2 and torch.equal(dense_queries[0], q[1:2])
    assert dense_queries[1] == (0, 1)


@pytest.mark.parametrize("coarse", [torch.bfloat16, torch.float32])
def test_csls_recomputes_densely_the_rows_in_doubt_and_only_those(dense_queries, coarse):
    # knn 1, k 1, shortlist 4. The sources are the queries alone, so each key's r is its
    # cosine c to its own query, and its CSLS score for that query is 2c - r_q - c = c - 0.24:
    # the best (0) is the 0.24 key. A key outside the shortlist scores at most
    # 2 * floor - r_q - min(r) = 2 * floor - 0.24 - 0.04, the floor being about the 4th kept
    # cosine: in doubt (>= 0) for a 4th cosine of 0.15, not for 0.11.
    q, keys = _fans(*([0.24, c, c, c, 0.04, 0.04] for c in (0.11, 0.15)))
    scores, idx = csls_topk(q, keys, k=1, knn=1, shortlist=4, coarse=coarse)
    assert idx.tolist() == [[0], [6]]
    assert torch.allclose(scores, torch.zeros(2, 1), atol=1e-6)
    assert len(dense_queries) == 2 and torch.equal(dense_queries[0], q[1:2])
    # Induction asks for the best key alone (k 1): in doubt are the same rows, no more.
    dense_queries.clear()
    ind = induce_dictionary(q, keys, knn=1, shortlist=4, coarse=coarse)
    assert ind.forward.tolist() == [0, 6] and _pairs(ind.pairs) == {(0, 0), (1, 6)}
    assert len(dense_queries) == 2 and torch.equal(dense_queries[0], q[1:2])
    dense_queries.clear()  # and the same in the backward direction
    ind = induce_dictionary(keys, q, knn=1, shortlist=4, coarse=coarse)
    assert _pairs(ind.pairs) == {(0, 0), (6, 1)}
    assert len(dense_queries) == 2 and torch.equal(dense_queries[0], q[1:2])


def test_dense_fallback_goes_through_the_doubtful_rows_once_chunk_rows_at_a_time(
    dense_queries,
):
    # Six queries, each with 12 keys at one cosine: every row is in doubt (ties at the edge of
    # its 10-key shortlist), so the fallback recomputes all six, 4 then 2 rows per matmul.
    q, keys = _fans(*([0.3 + 0.1 * i] * 12 for i in range(6)))
    r = knn_mean_cos(q, keys, 1, chunk=4)
    assert torch.allclose(r, torch.tensor([0.3, 0.4, 0.5, 0.6, 0.7, 0.8]), atol=1e-6)
    assert torch.equal(dense_queries[0], q) and dense_queries[1:] == [(0, 4), (4, 2)]
    # The same ties, but with no more keys than the shortlist holds: nothing was left out.
    dense_queries.clear()
    q, keys = _fans([0.3] * 10)
    assert torch.allclose(knn_mean_cos(q, keys, 1), torch.tensor([0.3]), atol=1e-6)
    assert dense_queries == []


def test_matmuls_run_on_the_gpu_when_there_is_one(monkeypatch):
    import xmner.align.procrustes as module

    x = torch.zeros(2, 3)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert module._device(x) == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert module._device(x) == torch.device("cpu")
