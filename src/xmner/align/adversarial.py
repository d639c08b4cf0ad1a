"""MUSE's unsupervised mode: adversarial training of an orthogonal mapping (Conneau et al. 2017).

A discriminator learns to tell mapped source vectors from target vectors; the mapping W learns
to fool it and is pulled back towards orthogonality after every step. The epoch with the best
unsupervised criterion is kept; refinement (procrustes.refine) usually follows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from xmner.align.procrustes import induce_dictionary, orthogonalize

log = logging.getLogger(__name__)


@dataclass
class AdversarialConfig:
    """MUSE's defaults, except 1000 instead of 1M/32 steps per epoch (CPU-sized)."""

    epochs: int = 5
    steps_per_epoch: int = 1000
    batch_size: int = 32
    most_frequent: int = 50000  # discriminator samples among these words
    hidden: int = 2048
    dropout_input: float = 0.1
    smoothing: float = 0.1
    lr: float = 0.1
    dis_steps: int = 5
    beta: float = 0.001  # orthogonalisation strength
    criterion_words: int = 10000
    seed: int = 0


def _discriminator(dim: int, cfg: AdversarialConfig) -> nn.Module:
    return nn.Sequential(
        nn.Dropout(cfg.dropout_input),
        nn.Linear(dim, cfg.hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(cfg.hidden, cfg.hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(cfg.hidden, 1),
    )


def adversarial_mapping(
    src: torch.Tensor, tgt: torch.Tensor, cfg: AdversarialConfig | None = None
) -> tuple[torch.Tensor, float]:
    """Learn W (D, D) mapping ``src`` (N, D) rows onto ``tgt`` (M, D) without any dictionary.

    Returns the W of the epoch with the best criterion, and that criterion.
    """
    cfg = cfg or AdversarialConfig()
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    d = src.shape[1]
    src, tgt = src.float(), tgt.float()
    mapping = nn.Linear(d, d, bias=False)
    nn.init.eye_(mapping.weight)
    disc = _discriminator(d, cfg)
    opt_map = torch.optim.SGD(mapping.parameters(), lr=cfg.lr)
    opt_dis = torch.optim.SGD(disc.parameters(), lr=cfg.lr)
    bce = nn.BCEWithLogitsLoss()
    n_src, n_tgt = min(cfg.most_frequent, len(src)), min(cfg.most_frequent, len(tgt))
    b = cfg.batch_size
    # Labels: mapped source is "1 - smoothing", target is "smoothing" (MUSE's convention).
    y = torch.cat([torch.full((b,), 1 - cfg.smoothing), torch.full((b,), cfg.smoothing)])
    best_w, best_crit = mapping.weight.detach().T.clone(), -1.0
    for epoch in range(cfg.epochs):
        for _ in range(cfg.steps_per_epoch):
            disc.train()
            for _ in range(cfg.dis_steps):
                xs = src[torch.randint(n_src, (b,), generator=gen)]
                xt = tgt[torch.randint(n_tgt, (b,), generator=gen)]
                with torch.no_grad():
                    xs = mapping(xs)  # (B, D)
                loss = bce(disc(torch.cat([xs, xt])).squeeze(1), y)
                opt_dis.zero_grad()
                loss.backward()
                opt_dis.step()
            disc.eval()
            xs = mapping(src[torch.randint(n_src, (b,), generator=gen)])
            xt = tgt[torch.randint(n_tgt, (b,), generator=gen)]
            loss = bce(disc(torch.cat([xs, xt])).squeeze(1), 1 - y)  # fool the discriminator
            opt_map.zero_grad()
            loss.backward()
            opt_map.step()
            with torch.no_grad():
                mapping.weight.copy_(orthogonalize(mapping.weight, cfg.beta))
        w = mapping.weight.detach().T.clone()  # rows map as src @ w
        crit = induce_dictionary(
            src @ w, tgt, max_rank=cfg.criterion_words, criterion_words=cfg.criterion_words
        ).criterion
        log.info("adversarial epoch %d: criterion %.4f", epoch, crit)
        if crit > best_crit:
            best_w, best_crit = w, crit
    return best_w, best_crit
