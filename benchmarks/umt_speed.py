"""UMT training speed on CMNER train: posts/s for one epoch (a few steps, extrapolated), memory.

The encoder is BERT-base-shaped (12 x 768, 21,128-entry vocabulary as bert-base-chinese) with
random weights; the tokenizer is a character vocabulary built from CMNER train (one sub-word per
character, as bert-base-chinese gives for Chinese text). Regions are random 49 x 2048 maps.

    PYTHONPATH=src python benchmarks/umt_speed.py [--steps 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import random
import resource
import time

import torch

from xmner.data.corpora import load_split
from xmner.data.tags import label_set
from xmner.models.umt import UMT, UMTConfig

BERT_BASE = {
    "vocab_size": 21128,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
}


def _char_tokenizer(posts):
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c.lower() for p in posts for t in p.tokens for c in t if not c.isspace()})
    vocab = list(dict.fromkeys(specials + chars))[: BERT_BASE["vocab_size"]]
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})


def _peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def benchmark_umt(
    use_images: bool = True,
    steps: int = 3,
    batch_size: int = 16,
    max_len: int = 256,
    freeze_bottom_layers: int = 3,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, float]:
    """Time ``steps`` training steps (after one warm-up step) and extrapolate to one epoch."""
    torch.manual_seed(seed)
    dev = torch.device(device)
    posts = load_split("cmner", "train")
    cfg = UMTConfig(
        bert_config=BERT_BASE, use_images=use_images, max_len=max_len,
        freeze_bottom_layers=freeze_bottom_layers, batch_size=batch_size,
    )  # fmt: skip
    model = UMT(cfg, label_set(("PER", "LOC", "ORG", "MISC")), _char_tokenizer(posts)).to(dev)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    collate = model.collator()
    rng = random.Random(seed)
    order = rng.sample(range(len(posts)), len(posts))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)][: steps + 1]
    elapsed, n_posts, sub_words = 0.0, 0, 0
    for k, idx in enumerate(batches):
        examples = [(posts[i], torch.randn(49, 2048) if use_images else None) for i in idx]
        t0 = time.perf_counter()
        batch = collate(examples)
        opt.zero_grad(set_to_none=True)
        model.loss(batch).backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if k:  # the first step warms up allocators and kernels
            elapsed += time.perf_counter() - t0
            n_posts += len(idx)
            sub_words += int(batch["attention_mask"].sum())
    rate = n_posts / elapsed
    return {
        "posts_per_s": rate,
        "epoch_s": len(posts) / rate,
        "mean_sub_words": sub_words / n_posts,
        "peak_mib": _peak_mib(dev),
        "posts": len(posts),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for use_images in (False, True):
        r = benchmark_umt(use_images=use_images, steps=args.steps, device=args.device)
        name = "UMT (images)" if use_images else "UMT (text)"
        print(
            f"{name:14s} {r['posts_per_s']:6.2f} posts/s  epoch {r['epoch_s'] / 60:6.1f} min "
            f"({r['posts']} posts, {r['mean_sub_words']:.0f} sub-words/post)  "
            f"peak {r['peak_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
