"""Additive (Bahdanau-style) attention scores over all pairs, without the (B, I, J, A) tensor.

``score(i, j) = w . tanh(q_i + k_j)`` needs a tanh per pair, so it cannot be factored into
matrix products. It is computed a chunk of query rows at a time in one reused buffer, and its
backward pass recomputes each chunk instead of storing it.

Letters: B batch, I queries, J keys, A attention size, T time steps.
"""

from __future__ import annotations

import torch
from torch import nn

# Pair scores are computed in chunks of query rows holding at most this many elements of the
# (B, rows, J, A) tanh tensor, so the (B, T, T, H) tensor of textual attention never exists.
CHUNK_ELEMENTS = 1 << 23


def additive_scores(
    q: torch.Tensor, k: torch.Tensor, w: torch.Tensor, chunk: int | None = None
) -> torch.Tensor:
    """``scores[b, i, j] = w . tanh(q[b, i] + k[b, j])`` for q (B, I, A), k (B, J, A), w (A,).

    Returns (B, I, J). Query rows are processed ``chunk`` at a time (by default as many as fit
    in ``CHUNK_ELEMENTS``) in one reused buffer; the backward pass recomputes each chunk
    instead of storing it, so memory stays O(B * chunk * J * A) in training too.
    """
    b, i, a = q.shape
    if k.shape[0] != b or k.shape[2] != a or w.shape != (a,):
        raise ValueError(f"expected q (B, I, A), k (B, J, A), w (A,), got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(w.shape)}")  # fmt: skip
    if chunk is None:
        chunk = max(1, CHUNK_ELEMENTS // max(1, b * k.shape[1] * a))
    chunk = max(1, min(chunk, i))
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or w.requires_grad):
        return _PairScores.apply(q, k, w, chunk)
    return _scores(q, k, w, chunk)


def ragged_additive_scores(
    q: torch.Tensor,
    k: torch.Tensor,
    w: torch.Tensor,
    lengths: torch.Tensor,
    chunk: int | None = None,
) -> torch.Tensor:
    """``additive_scores`` of each post over its first ``lengths[b]`` queries and keys only.

    q, k (B, T, A), lengths (B,) -> (B, T, T), zero outside each post's (n, n) block: no work
    is spent on padding, which in a batch of mixed lengths is most of the T x T pairs.
    """
    t = q.shape[1]
    blocks = []
    for b, n in enumerate(lengths.tolist()):
        s = additive_scores(q[b : b + 1, :n], k[b : b + 1, :n], w, chunk)  # (1, n, n)
        blocks.append(nn.functional.pad(s, (0, t - n, 0, t - n)))
    return torch.cat(blocks, dim=0)


def _chunks(q: torch.Tensor, k: torch.Tensor, chunk: int):
    """Yield (start, stop, tanh(q[:, start:stop, None] + k[:, None])) from one reused buffer."""
    b, i, a = q.shape
    j = k.shape[1]
    buf = torch.empty(b * chunk * j * a, dtype=q.dtype, device=q.device)
    for start in range(0, i, chunk):
        stop = min(start + chunk, i)
        t = buf[: b * (stop - start) * j * a].view(b, stop - start, j, a)  # (B, c, J, A)
        torch.add(q[:, start:stop].unsqueeze(2), k.unsqueeze(1), out=t)
        yield start, stop, t.tanh_()


def _scores(q: torch.Tensor, k: torch.Tensor, w: torch.Tensor, chunk: int) -> torch.Tensor:
    out = q.new_empty(q.shape[0], q.shape[1], k.shape[1])  # (B, I, J)
    for start, stop, t in _chunks(q, k, chunk):
        out[:, start:stop] = t @ w
    return out


class _PairScores(torch.autograd.Function):
    """Additive pair scores with a backward pass that recomputes tanh chunk by chunk."""

    @staticmethod
    def forward(ctx, q, k, w, chunk):
        ctx.save_for_backward(q, k, w)
        ctx.chunk = chunk
        return _scores(q.detach(), k.detach(), w.detach(), chunk)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # grad (B, I, J)
        q, k, w = ctx.saved_tensors
        dq, dk, dw = torch.empty_like(q), torch.zeros_like(k), torch.zeros_like(w)
        for start, stop, t in _chunks(q, k, ctx.chunk):
            g = grad[:, start:stop]  # (B, c, J)
            dw += t.reshape(-1, t.shape[-1]).T @ g.reshape(-1)
            # d score / d(q_i + k_j) = w * (1 - t^2); sums over j give dq, over i give dk
            t.mul_(t).mul_(g.unsqueeze(-1))  # g * t^2, (B, c, J, A)
            dq[:, start:stop] = w * (g.sum(2).unsqueeze(-1) - t.sum(2))
            dk += w * (g.sum(1).unsqueeze(-1) - t.sum(1))
        return dq, dk, dw, None


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis where ``mask`` is on; off entries and all-off rows get 0."""
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return scores.softmax(-1) * mask
