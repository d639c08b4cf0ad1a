"""A one-layer BiLSTM over right-padded batches, without packing.

``nn.LSTM`` over a ``PackedSequence`` runs its per-step loop with a backward pass that costs
time steps x total tokens on CPU; on a padded batch it runs the fused kernel instead
(3x faster at 16 x 250 tokens, ``benchmarks/models_speed.py``). The forward direction reads
the padded batch as is (padding only follows the last token); the backward direction reads
each sequence reversed within its own length, so padding never reaches a real token. The
result equals the packed one (same weights, same outputs at real tokens, zeros at padding).

Letters: B batch, T time steps, E input size, H output size (both directions).
"""

from __future__ import annotations

import torch
from torch import nn


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row of ``x`` (B, T, E) reversed over its first ``lengths[b]`` steps; padding stays."""
    b, t = x.shape[:2]
    steps = torch.arange(t, device=x.device).expand(b, t)
    n = lengths.to(x.device)[:, None]
    index = torch.where(steps < n, n - 1 - steps, steps)
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


def bilstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Outputs (B, T, H) of the bidirectional one-layer ``lstm`` on right-padded ``x``."""
    if not (lstm.bidirectional and lstm.num_layers == 1 and lstm.batch_first):
        raise ValueError("bilstm expects a one-layer, bidirectional, batch_first nn.LSTM")
    weights = lstm._flat_weights
    per_direction = len(weights) // 2
    zeros = x.new_zeros(1, x.shape[0], lstm.hidden_size)
    state = (zeros, zeros)

    def run(inputs: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        out, _, _ = torch.lstm(inputs, state, params, lstm.bias, 1, 0.0, lstm.training, False, True)
        return out

    forward = run(x, weights[:per_direction])
    backward = reverse_within(run(reverse_within(x, lengths), weights[per_direction:]), lengths)
    mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
    return torch.cat([forward, backward], dim=-1) * mask[..., None]
