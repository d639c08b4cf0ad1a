"""A thin wrapper over ``torchcrf.CRF`` (batch first): mean NLL, bool masks, checked first step.

Letters: B batch, T time steps (tokens), L labels.
"""

from __future__ import annotations

import torch
from torch import nn
from torchcrf import CRF


class CRFHead(nn.Module):
    """Linear-chain CRF over emission scores; ``nll`` averages over the batch."""

    def __init__(self, num_tags: int):
        super().__init__()
        self.crf = CRF(num_tags, batch_first=True)

    @property
    def num_tags(self) -> int:
        return self.crf.num_tags

    @staticmethod
    def _check(emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if mask.shape != emissions.shape[:2]:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} does not match emissions {tuple(emissions.shape)}"
            )
        if mask.numel() and not bool(mask[:, 0].all()):
            raise ValueError(
                f"mask (shape {tuple(mask.shape)}) must be on at the first step of every sequence"
            )
        return mask.bool()

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of ``tags`` (B, T) given ``emissions`` (B, T, L)."""
        mask = self._check(emissions, mask)
        llh = self.crf(emissions.float(), tags.long(), mask=mask, reduction="mean")
        return -llh

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Viterbi tag ids per sequence, each as long as its mask's on steps."""
        mask = self._check(emissions, mask)
        return self.crf.decode(emissions.float(), mask=mask)
