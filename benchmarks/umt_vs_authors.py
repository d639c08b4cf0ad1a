"""UMT training speed and peak memory: xmner against a re-creation of the authors' regime.

    PYTHONPATH=src python benchmarks/umt_vs_authors.py [--batches 3] [--threads 1]
        [REGIME ...]

One invocation trains the same UMT (multilingual-BERT-shaped random encoder: 12 x 768, 119,547
entries; embeddings and the bottom 3 layers frozen; 49 x 2048 random region features; batch 16;
AdamW 5e-5, gradient clipping at 1.0) on real CMNER train posts in each regime, each in its own
subprocess, so the peak resident memory (``ru_maxrss``) it reports is its own. A regime runs one
warm-up batch, then times ``--batches`` batches (collation, forward, backward, clipping, step),
in wall-clock seconds and in the process's CPU seconds (with one thread, what the batch cost
whatever else ran on the machine).

- ``authors``: what jefferyYu/UMT's code does: every post padded to 256 sub-words, eager
  attention (explicit softmax, also in the cross-modal layers), frozen layers by
  ``requires_grad=False`` only, shuffled batches, and their optimiser's per-tensor loop
  (BertAdam clips each parameter's gradient alone, then updates one tensor at a time:
  here per-parameter ``clip_grad_norm_`` and ``AdamW(foreach=False)``).
- ``xmner``: what the package does: the trainer's length-bucketed batches (``BucketBatchSampler``),
  padded to the longest post of the batch, fused attention (sdpa), the activation budget
  (``UMTConfig.activation_budget_mib``), global clipping, the trainer's fused AdamW, and on a
  CPU glibc's mmap threshold fixed at ``UMTConfig.cpu_mmap_threshold_mib`` (4 MiB: freed
  activations go back to the system instead of staying in the heap, ``xmner.allocator``).

Bucketed, the timed batches sit at evenly spaced quantiles of the epoch's padded lengths (a
stratified sample of the epoch), so ``--batches 3`` stands for the epoch's mix of short and long
batches; the warm-up is the epoch's shortest batch, and after the timed ones the epoch's longest
runs untimed, with the optimiser's state in place, so the peak memory is an epoch's worst batch.
The authors' batches are all 256 long: their first batches after a seeded shuffle.
Ablations (``xmner-eager``, ``xmner-unbucketed``, ``xmner-no-budget``, ``xmner-heap``: glibc's
own growing threshold) change one setting each; ``xmner-mmap`` runs ``xmner-heap`` with glibc's
``MALLOC_MMAP_THRESHOLD_=131072``, which returns each freed block over 128 KiB at once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from xmner import allocator
from xmner.data.corpora import load_split
from xmner.data.corpus import Post
from xmner.data.tags import label_set
from xmner.models.umt import UMT, UMTConfig
from xmner.pipelines.train import BucketBatchSampler, StageConfig, _optimizer

LABELS = label_set(("PER", "LOC", "ORG", "MISC"))
BATCH = 16
PAD_TO = 256
# bert-base-multilingual-cased's sizes, random weights (no download)
MBERT = {
    "vocab_size": 119547,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
}


@dataclass(frozen=True)
class Regime:
    """How one side trains."""

    pad_to_max: bool  # every post padded to 256 sub-words
    attn: str  # sdpa | eager
    bucketed: bool  # the trainer's length-bucketed batches
    budget: bool  # UMTConfig's activation budget (else 0: store everything)
    authors_optimizer: bool  # per-parameter clipping, per-tensor AdamW
    heap: bool = False  # glibc's own mmap threshold (else UMTConfig's cpu_mmap_threshold_mib)


XMNER = Regime(pad_to_max=False, attn="sdpa", bucketed=True, budget=True, authors_optimizer=False)
REGIMES = {
    "authors": Regime(True, "eager", False, False, True, heap=True),
    "xmner": XMNER,
    "xmner-eager": replace(XMNER, attn="eager"),
    "xmner-unbucketed": replace(XMNER, bucketed=False),
    "xmner-no-budget": replace(XMNER, budget=False),
    "xmner-heap": replace(XMNER, heap=True),
    "xmner-mmap": replace(XMNER, heap=True),
}
#: environment variables of a regime's process
ENV = {"xmner-mmap": {"MALLOC_MMAP_THRESHOLD_": "131072"}}


def char_tokenizer(posts: list[Post]):
    """One sub-word per character, as multilingual BERT tokenises Chinese."""
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c.lower() for p in posts for t in p.tokens for c in t if not c.isspace()})
    vocab = list(dict.fromkeys(specials + chars))
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})


def pick_batches(posts: list[Post], regime: Regime, n: int, seed: int) -> list[list[int]]:
    """The warm-up batch, ``n`` timed batches and (bucketed) the longest, as post indices."""
    lengths = [len(p.tokens) for p in posts]
    if not regime.bucketed:
        order = random.Random(seed).sample(range(len(posts)), len(posts))
        return [order[i : i + BATCH] for i in range(0, (n + 1) * BATCH, BATCH)]
    epoch = [b for b in BucketBatchSampler(lengths, BATCH, seed) if len(b) == BATCH]
    epoch.sort(key=lambda b: max(lengths[i] for i in b))
    timed = [epoch[int((k + 0.5) * len(epoch) / n)] for k in range(n)]
    return [epoch[0], *timed, epoch[-1]]


def _pad(batch: dict[str, Any], length: int) -> dict[str, Any]:
    extra = length - batch["input_ids"].shape[1]
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        if key in batch:
            batch[key] = torch.nn.functional.pad(batch[key], (0, extra))  # 0: [PAD], mask off
    return batch


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_regime(
    name: str, n: int, threads: int, seed: int, budget: int | None = None
) -> dict[str, Any]:
    """Train ``n`` timed batches under regime ``name`` in this process; returns its figures.

    ``budget`` overrides the activation budget of a regime that has one."""
    regime = REGIMES[name]
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    posts = load_split("cmner", "train")
    config = UMTConfig(
        bert_config=MBERT, max_len=PAD_TO, freeze_bottom_layers=3, attn_implementation=regime.attn,
        **({"activation_budget_mib": 0} if not regime.budget else
           {} if budget is None else {"activation_budget_mib": budget}),
    )  # fmt: skip
    model = UMT(config, LABELS, char_tokenizer(posts)).train()
    if not regime.heap:  # what the trainer does on a CPU (pipelines/train.py: fit)
        allocator.set_mmap_threshold(config.cpu_mmap_threshold_mib)
    params = [p for p in model.parameters() if p.requires_grad]
    if regime.authors_optimizer:
        optimizer = torch.optim.AdamW(params, lr=5e-5, foreach=False)
    else:
        optimizer = _optimizer(model, StageConfig(optimizer="adamw", lr=5e-5))
    collate = model.collator()
    setup_mib, lengths, seconds, cpu = _rss_mib(), [], [], []
    for k, idx in enumerate(pick_batches(posts, regime, n, seed)):
        t0, c0 = time.perf_counter(), time.process_time()
        gen = torch.Generator().manual_seed(seed * 1000 + k)
        regions = torch.randn(len(idx), 49, 2048, generator=gen)
        batch = collate([(posts[i], r) for i, r in zip(idx, regions, strict=True)])
        if regime.pad_to_max:
            batch = _pad(batch, PAD_TO)
        optimizer.zero_grad()
        model.loss(batch).backward()
        if regime.authors_optimizer:
            for p in params:
                torch.nn.utils.clip_grad_norm_(p, 1.0)
        else:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        lengths.append(batch["input_ids"].shape[1])
        seconds.append(round(time.perf_counter() - t0, 2))
        cpu.append(round(time.process_time() - c0, 2))
    timed = n * BATCH
    return {
        "regime": name,
        "posts_per_s": round(timed / sum(seconds[1 : n + 1]), 3),
        "posts_per_cpu_s": round(timed / sum(cpu[1 : n + 1]), 3),
        "peak_rss_mib": round(_rss_mib()),
        "setup_rss_mib": round(setup_mib),
        "padded_lengths": lengths,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "activation_budget_mib": model.config.activation_budget_mib,
        "threads": threads,
        **{k: v for k, v in vars(regime).items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("regimes", nargs="*", help=f"some of {list(REGIMES)}")
    parser.add_argument("--batches", type=int, default=3, help="timed batches per regime")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, help="activation budget, MiB (default: UMTConfig's)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.regimes = args.regimes or ["authors", "xmner"]
    unknown = set(args.regimes) - set(REGIMES)
    if unknown:
        parser.error(f"unknown regimes {sorted(unknown)}; expected some of {list(REGIMES)}")
    if args.child:
        run = run_regime(args.regimes[0], args.batches, args.threads, args.seed, args.budget)
        print(json.dumps(run))
        return 0
    results = {}
    for name in args.regimes:
        flags = [f"--batches={args.batches}", f"--threads={args.threads}", f"--seed={args.seed}"]
        flags += [f"--budget={args.budget}"] if args.budget is not None else []
        cmd = [sys.executable, str(Path(__file__).resolve()), name, "--child", *flags]
        env = os.environ | ENV.get(name, {})
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
    print("| regime | padded lengths | posts/s | posts/CPU-s | peak RSS | after set-up |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in results.values():
        print(
            f"| {r['regime']} | {', '.join(map(str, r['padded_lengths']))} "
            f"| {r['posts_per_s']:.3f} | {r['posts_per_cpu_s']:.3f} "
            f"| {r['peak_rss_mib']:,} MiB | {r['setup_rss_mib']:,} MiB |"
        )
    if "authors" in results:
        base = results["authors"]
        for r in results.values():
            if r is not base:
                print(
                    f"{r['regime']} / authors: {r['posts_per_s'] / base['posts_per_s']:.2f}x "
                    f"posts/s ({r['posts_per_cpu_s'] / base['posts_per_cpu_s']:.2f}x per CPU "
                    f"second) at {r['peak_rss_mib'] / base['peak_rss_mib']:.2f} of the peak memory"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
