"""Alignment speed and memory: 200k x 300 per language, synthetic, 5 CSLS refinement iterations.

The target space is a random rotation of the source plus noise, with a vocabulary permuted
locally (translations keep roughly their frequency rank). A seed of --seed-pairs frequent pairs
starts Procrustes; refinement induces mutual-CSLS dictionaries among the --max-rank most
frequent words. Prints wall time, peak memory (RSS) and recovered P@1 on held-out words; then
the real small run (fastText on CMNER + Twitter-2015 train, CC-CEDICT seed) unless --no-real.

    python benchmarks/align_speed.py [--words 200000] [--dim 300] [--threads 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from xmner.align.evaluate import word_translation
from xmner.align.procrustes import nn_topk, refine, unit


def synthetic(n: int, d: int, noise: float, jitter: float, seed: int):
    """Source (N, D), target (N, D) and perm: target row perm[i] translates source row i."""
    g = torch.Generator().manual_seed(seed)
    x = unit(torch.randn(n, d, generator=g))
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    q = (q * torch.sign(torch.diagonal(r))).float()
    perm = torch.argsort(torch.arange(n) + jitter * torch.randn(n, generator=g)).argsort()
    y = torch.empty_like(x)
    y[perm] = unit(x @ q + noise / d**0.5 * torch.randn(n, d, generator=g))
    return x, y, perm


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--words", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--max-rank", type=int, default=50_000)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--seed-pairs", type=int, default=1000)
    p.add_argument("--test-words", type=int, default=1500)
    p.add_argument("--noise", type=float, default=0.3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default="/tmp/xmner-align-bench", help="real-run directory (cached)")
    p.add_argument("--no-real", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    x, y, perm = synthetic(args.words, args.dim, args.noise, jitter=1000.0, seed=0)
    g = torch.Generator().manual_seed(1)
    frequent = torch.randperm(args.max_rank, generator=g)
    seed_src = frequent[: args.seed_pairs]
    test_src = frequent[args.seed_pairs : args.seed_pairs + args.test_words]
    seed = torch.stack([seed_src, perm[seed_src]], dim=1)
    test = torch.stack([test_src, perm[test_src]], dim=1)
    print(
        f"synthetic {args.words} x {args.dim} per language, noise {args.noise}, "
        f"{args.threads} threads; setup peak RSS {peak_rss_gb():.2f} GB"
    )

    t0, c0 = time.perf_counter(), time.process_time()
    result = refine(x, y, seed, iterations=args.iterations, max_rank=args.max_rank)
    t_refine, c_refine = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"refinement done in {t_refine:.1f} s wall, {c_refine:.1f} s CPU "
        f"(~{c_refine / args.threads:.0f} s wall on {args.threads} idle cores)",
        flush=True,
    )
    m = word_translation(x @ result.w, y, test, ks=(1,), max_rank=args.max_rank)
    t_total = time.perf_counter() - t0
    _, nn = nn_topk(x[test[:, 0]] @ result.w, y, 1)
    nn_full = (nn[:, 0] == test[:, 1]).float().mean().item()
    print(
        f"refinement ({args.iterations} iterations, CSLS over top {args.max_rank}): "
        f"{t_refine:.1f} s; with evaluation {t_total:.1f} s"
    )
    print(f"dictionary sizes / criterion: {[(n, round(c, 4)) for n, c in result.history]}")
    print(
        f"recovered P@1: CSLS {m['p_at_1_csls']:.4f}, NN {m['p_at_1_nn']:.4f} (top "
        f"{args.max_rank} targets); NN over all {args.words}: {nn_full:.4f}; "
        f"{m['n_test_words']} test words"
    )
    print(f"peak RSS {peak_rss_gb():.2f} GB")
    if not args.no_real:
        real(args.work)


def real(work: str) -> None:
    """The small real run: CMNER train characters + Twitter-2015 train tokens."""
    from xmner.align.space import build_aligned_space
    from xmner.data.corpora import load_split

    en = [p.tokens for p in load_split("twitter2015", "train")]
    zh = [p.tokens for p in load_split("cmner", "train")]
    t0 = time.perf_counter()
    res = build_aligned_space(en, zh, work)
    m = res.metrics
    print(
        f"real run ({'cached' if res.cached else f'{time.perf_counter() - t0:.0f} s'}): "
        + json.dumps({k: m[k] for k in m if k.startswith("p_at") or k.startswith("n_test")})
    )


if __name__ == "__main__":
    main()
