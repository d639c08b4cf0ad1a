"""Orthogonal Procrustes, CSLS retrieval in chunked matmuls, and iterative refinement (MUSE).

Sizes: N source words, M target words, D embedding dimension, Q queries, K keys, S shortlist.
All functions take and return tensors; rows are word vectors, most frequent words first.

CSLS (Conneau et al. 2017): ``csls(x, y) = 2 cos(x, y) - r_y(x) - r_x(y)`` where ``r_y(x)`` is
the mean cosine of ``x`` to its ``knn`` nearest target neighbours (and ``r_x(y)`` likewise).
Scores come from one matmul pass per direction: a coarse pass (bfloat16 by default, 3-4x faster
on CPUs) keeps a shortlist of the best cosine candidates per row, the shortlist is rescored in
float32, and rows whose true answer might lie outside their shortlist are recomputed densely,
so the results equal a dense float32 computation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

log = logging.getLogger(__name__)

# |cos_coarse - cos_fp32| for unit vectors: inputs rounded to 2^-9 relative (bf16), so each
# product to ~2^-8, sum |x_i y_i| <= 1 (Cauchy-Schwarz), and the bf16 output rounded by 2^-9;
# fp32 accumulation error is far smaller. Doubled for safety.
_COARSE_ERROR = {torch.bfloat16: 2.0**-6, torch.float16: 2.0**-9, torch.float32: 1e-5}


def procrustes(src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Orthogonal W (D, D) minimising ||src @ W - tgt||_F for paired rows src, tgt (N, D)."""
    if src.shape != tgt.shape or src.ndim != 2:
        raise ValueError(f"expected two (N, D) tensors of one shape, got {src.shape}, {tgt.shape}")
    u, _, vh = torch.linalg.svd(src.double().T @ tgt.double())  # (D, D)
    return (u @ vh).to(src.dtype)


def orthogonalize(w: torch.Tensor, beta: float = 0.01) -> torch.Tensor:
    """One step of W <- (1 + beta) W - beta W W^T W, pulling W towards orthogonality (MUSE)."""
    return (1 + beta) * w - beta * (w @ w.T @ w)


def unit(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length (zero rows stay zero)."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _device(x: torch.Tensor) -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else x.device


@dataclass
class _Shortlist:
    """The S best keys by cosine for each query, rescored exactly: cos, idx (Q, S)."""

    cos: torch.Tensor
    idx: torch.Tensor
    floor: torch.Tensor  # (Q,) bound on the cosine of any key outside the shortlist
    exact: bool = False  # True when the shortlist holds every key


def _shortlist(
    q: torch.Tensor, keys: torch.Tensor, size: int, chunk: int, coarse: torch.dtype
) -> _Shortlist:
    """Best ``size`` keys per query (unit rows) by cosine, from chunked coarse matmuls."""
    size = min(size, keys.shape[0])
    dev = _device(q)
    keys_d = keys.to(dev)
    keys_c = keys_d.to(coarse)
    cos_out, idx_out, floor_out = [], [], []
    for start in range(0, q.shape[0], chunk):
        qc = q[start : start + chunk].to(dev)  # (C, D)
        sims = qc.to(coarse) @ keys_c.T  # (C, K)
        top, idx = sims.topk(size, dim=1)  # (C, S), in the coarse dtype
        top = top.float()
        floor = top[:, -1]  # coarse cosine of the last kept key bounds all others
        if coarse != torch.float32:  # rescore the shortlist in float32
            exact = torch.einsum("cd,csd->cs", qc, keys_d[idx])
            order = exact.argsort(dim=1, descending=True)
            top, idx = exact.gather(1, order), idx.gather(1, order)
        cos_out.append(top.cpu())
        idx_out.append(idx.cpu())
        floor_out.append((floor + _COARSE_ERROR[coarse]).cpu())
    return _Shortlist(
        torch.cat(cos_out), torch.cat(idx_out), torch.cat(floor_out), size == keys.shape[0]
    )


def _dense_rows(q: torch.Tensor, keys: torch.Tensor, r_keys: torch.Tensor, chunk: int):
    """Exact float32 cosines (Q, K) minus r_keys, yielded per chunk of queries."""
    dev = _device(q)
    keys_d, r_d = keys.to(dev), r_keys.to(dev)
    for start in range(0, q.shape[0], chunk):
        sims = q[start : start + chunk].to(dev) @ keys_d.T  # (C, K)
        yield start, sims, r_d


def knn_mean_cos(
    q: torch.Tensor,
    keys: torch.Tensor,
    knn: int = 10,
    *,
    chunk: int = 4096,
    coarse: torch.dtype = torch.float32,
) -> torch.Tensor:
    """r(q): mean cosine of each query (Q, D) to its ``knn`` nearest keys (K, D) -> (Q,)."""
    q, keys = unit(q.float()), unit(keys.float())
    return _knn_from_shortlist(q, keys, _shortlist(q, keys, 2 * knn + 8, chunk, coarse), knn, chunk)


def _knn_from_shortlist(q, keys, sl: _Shortlist, knn: int, chunk: int) -> torch.Tensor:
    knn = min(knn, keys.shape[0])
    r = sl.cos[:, :knn].mean(dim=1)  # (Q,)
    # A key outside the shortlist may beat the knn-th kept one only if floor >= that cosine.
    doubt = (sl.floor >= sl.cos[:, knn - 1]) & ~torch.tensor(sl.exact)
    rows = doubt.nonzero().squeeze(1)
    if len(rows):
        for start, sims, _ in _dense_rows(q[rows], keys, torch.zeros(0), chunk):
            r[rows[start : start + len(sims)]] = sims.topk(knn, dim=1).values.mean(1).cpu()
    return r


def _csls_from_shortlist(q, keys, sl: _Shortlist, r_q, r_keys, k: int, chunk: int):
    """Top-k CSLS keys per query using the shortlist; doubtful rows are recomputed densely."""
    k = min(k, keys.shape[0])
    scores = 2 * sl.cos - r_q[:, None] - r_keys[sl.idx]  # (Q, S)
    top, pos = scores.topk(k, dim=1)  # (Q, k)
    idx = sl.idx.gather(1, pos)
    # Any key outside the shortlist scores at most 2 * floor - r_q - min(r_keys).
    bound = 2 * sl.floor - r_q - r_keys.min()
    rows = ((bound >= top[:, -1]) & ~torch.tensor(sl.exact)).nonzero().squeeze(1)
    if len(rows):
        log.debug("CSLS: %d of %d rows recomputed densely", len(rows), len(q))
        for start, sims, r_d in _dense_rows(q[rows], keys, r_keys, chunk):
            part = rows[start : start + len(sims)]
            dense = 2 * sims - r_q[part].to(sims.device)[:, None] - r_d[None, :]  # (C, K)
            t, i = dense.topk(k, dim=1)
            top[part], idx[part] = t.cpu(), i.cpu()
    return top, idx


def csls_topk(
    src: torch.Tensor,
    tgt: torch.Tensor,
    k: int = 10,
    *,
    knn: int = 10,
    queries: torch.Tensor | None = None,
    shortlist: int = 32,
    chunk: int = 4096,
    coarse: torch.dtype = torch.bfloat16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k target rows by CSLS for source rows (all, or the ``queries`` indices): (Q, k) x2.

    ``src`` (N, D) must already be mapped into the target space; rows are unit-normalised here.
    """
    src, tgt = unit(src.float()), unit(tgt.float())
    q = src if queries is None else src[queries]
    r_tgt = knn_mean_cos(tgt, src, knn, chunk=chunk, coarse=coarse)  # (M,)
    sl = _shortlist(q, tgt, max(shortlist, knn, k), chunk, coarse)
    r_q = _knn_from_shortlist(q, tgt, sl, knn, chunk)
    return _csls_from_shortlist(q, tgt, sl, r_q, r_tgt, k, chunk)


def nn_topk(
    src: torch.Tensor, tgt: torch.Tensor, k: int = 10, *, chunk: int = 4096
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k target rows by cosine for each source row: scores, indices (N, k)."""
    src, tgt = unit(src.float()), unit(tgt.float())
    sl = _shortlist(src, tgt, k, chunk, torch.float32)
    return sl.cos, sl.idx


@dataclass
class Induction:
    """A dictionary induced by mutual CSLS nearest neighbours, and MUSE's validation criterion."""

    pairs: torch.Tensor  # (P, 2) source row, target row
    criterion: float  # mean cosine of the CSLS best target of the most frequent source words
    forward: torch.Tensor = field(repr=False)  # (N,) best target per source row


def induce_dictionary(
    src: torch.Tensor,
    tgt: torch.Tensor,
    *,
    max_rank: int = 15000,
    knn: int = 10,
    criterion_words: int = 10000,
    shortlist: int = 32,
    chunk: int = 4096,
    coarse: torch.dtype = torch.bfloat16,
) -> Induction:
    """Mutual CSLS nearest neighbours among the ``max_rank`` most frequent words of each side."""
    s = unit(src[:max_rank].float())  # (N, D), already mapped
    t = unit(tgt[:max_rank].float())  # (M, D)
    size = max(shortlist, knn)
    sl_s = _shortlist(s, t, size, chunk, coarse)  # the one pass source -> target
    sl_t = _shortlist(t, s, size, chunk, coarse)  # the one pass target -> source
    r_s = _knn_from_shortlist(s, t, sl_s, knn, chunk)
    r_t = _knn_from_shortlist(t, s, sl_t, knn, chunk)
    _, fwd = _csls_from_shortlist(s, t, sl_s, r_s, r_t, 1, chunk)
    _, bwd = _csls_from_shortlist(t, s, sl_t, r_t, r_s, 1, chunk)
    fwd, bwd = fwd[:, 0], bwd[:, 0]
    rows = torch.arange(len(s))
    mutual = bwd[fwd] == rows
    pairs = torch.stack([rows[mutual], fwd[mutual]], dim=1)
    n = min(criterion_words, len(s))
    crit = float((s[:n] * t[fwd[:n]]).sum(1).mean())
    return Induction(pairs, crit, fwd)


@dataclass
class Refinement:
    """The mapping after refinement and the history of (dictionary size, criterion) per step."""

    w: torch.Tensor  # (D, D), maps source rows into the target space: src @ w
    history: list[tuple[int, float]]
    pairs: torch.Tensor  # (P, 2) the dictionary the best mapping was fitted on
    criterion: float


def refine(
    src: torch.Tensor,
    tgt: torch.Tensor,
    seed_pairs: torch.Tensor,
    *,
    iterations: int = 5,
    max_rank: int = 15000,
    knn: int = 10,
    keep_seed: bool = False,
    coarse: torch.dtype = torch.bfloat16,
    chunk: int = 4096,
    on_round: Callable[[int, int, float, torch.Tensor], None] | None = None,
) -> Refinement:
    """Procrustes on a seed dictionary, then ``iterations`` rounds of induce-and-solve.

    With ``keep_seed`` each round solves on the induced pairs plus the seed pairs. The mapping
    with the best unsupervised criterion is kept (MUSE's model selection). ``on_round(round,
    pairs, criterion, W)`` is called after each round is scored (round 0: the seed's mapping).
    """
    if seed_pairs.ndim != 2 or seed_pairs.shape[1] != 2 or len(seed_pairs) < 2:
        raise ValueError(f"expected seed pairs of shape (P>=2, 2), got {tuple(seed_pairs.shape)}")
    src, tgt = src.float(), tgt.float()
    pairs = seed_pairs
    w = procrustes(src[pairs[:, 0]], tgt[pairs[:, 1]])
    best: Refinement | None = None
    history = []
    for step in range(iterations + 1):
        ind = induce_dictionary(
            src[:max_rank] @ w, tgt, max_rank=max_rank, knn=knn, coarse=coarse, chunk=chunk
        )
        history.append((len(pairs), ind.criterion))
        log.info("refinement %d: %d pairs, criterion %.4f", step, len(pairs), ind.criterion)
        if on_round is not None:
            on_round(step, len(pairs), ind.criterion, w)
        if best is None or ind.criterion > best.criterion:
            best = Refinement(w, list(history), pairs, ind.criterion)
        if step == iterations or len(ind.pairs) < 2:
            break
        pairs = torch.cat([seed_pairs, ind.pairs]).unique(dim=0) if keep_seed else ind.pairs
        w = procrustes(src[pairs[:, 0]], tgt[pairs[:, 1]])
    best.history = history
    return best
