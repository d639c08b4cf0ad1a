"""Training speed and peak memory of the models on CMNER train, one epoch extrapolated.

    PYTHONPATH=src python benchmarks/models_speed.py [--posts 320] [--threads 2]
        [--batching random|sorted] [SECTION ...]

Each section times ``--posts`` shuffled CMNER train posts (batch 16, forward + backward + Adam
step, collation included) after one warm-up batch, extrapolates to the 3,000-post epoch, and
times decoding of the same posts. Each runs in a fresh subprocess, so the peak resident memory
(``ru_maxrss``) it reports is its own. Add a model by writing a section function
``(args) -> Setup`` and registering it in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from xmner.data.corpora import load_split
from xmner.data.corpus import Post
from xmner.data.tags import label_set

LABELS = label_set(("PER", "LOC", "ORG", "MISC"))


@dataclass
class Setup:
    """What a section times: a model, its optimiser, its collator and the examples."""

    model: Any
    optimizer: torch.optim.Optimizer
    collate: Callable[[list[Any]], dict[str, Any]]
    examples: list[Any]
    note: str


def _posts(n: int, seed: int = 0) -> tuple[list[Post], list[Post]]:
    train = load_split("cmner", "train")
    shuffled = random.Random(seed).sample(train, len(train))
    return train, shuffled[: n + 16]  # one warm-up batch, then n timed posts


def _acn(args: argparse.Namespace, use_images: bool) -> Setup:
    from xmner.models.acn import ACN, ACNConfig
    from xmner.models.vocab import build_char_vocab, build_vocab

    train, posts = _posts(args.posts)
    words, chars = build_vocab(train), build_char_vocab(train)
    config = ACNConfig(use_images=use_images, region_dim=512)
    # a frozen "pretrained" matrix, as with align/'s export
    model = ACN(config, LABELS, words, chars, torch.empty(len(words), 300).uniform_(-0.25, 0.25))
    # image features as read back from the on-disk cache: one (49, 512) map per post
    regions = [torch.randn(49, 512) if use_images else None for _ in posts]
    note = f"{config.hidden}-d BiLSTM, 300-d frozen emb, char-CNN, max_len {config.max_len}"
    if use_images:
        note += ", 49 x 512 regions"
    examples = list(zip(posts, regions, strict=True))
    # the offline preset's ACN stage: Adam 1e-3 (StageConfig, xmner/presets/base.toml)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return Setup(model, optimizer, model.collator(), examples, note)


def acn_text(args: argparse.Namespace) -> Setup:
    """ACN text-only (BiLSTM-CNN-CRF)."""
    return _acn(args, use_images=False)


def acn_images(args: argparse.Namespace) -> Setup:
    """ACN with cached VGG-16-shaped region features."""
    return _acn(args, use_images=True)


# A BERT-base-shaped encoder (bert-base-chinese's sizes) with random weights.
BERT_BASE = {
    "vocab_size": 21128,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
}


def _char_tokenizer(posts: list[Post]):
    """One sub-word per Chinese character, as bert-base-chinese tokenises CMNER."""
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c.lower() for p in posts for t in p.tokens for c in t if not c.isspace()})
    vocab = list(dict.fromkeys(specials + chars))[: BERT_BASE["vocab_size"]]
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})


def _umt(args: argparse.Namespace, use_images: bool) -> Setup:
    from xmner.models.umt import UMT, UMTConfig

    train, posts = _posts(args.umt_posts)
    config = UMTConfig(
        bert_config=BERT_BASE, use_images=use_images, max_len=256, freeze_bottom_layers=3
    )
    model = UMT(config, LABELS, _char_tokenizer(train))
    regions = [torch.randn(49, 2048) if use_images else None for _ in posts]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5)
    note = "BERT-base-shaped random encoder, 256 sub-words, bottom 3 layers frozen"
    if use_images:
        note += ", 49 x 2048 regions"
    return Setup(model, optimizer, model.collator(), list(zip(posts, regions, strict=True)), note)


def umt_text(args: argparse.Namespace) -> Setup:
    """UMT without images (BERT + span branch + CRFs)."""
    return _umt(args, use_images=False)


def umt_images(args: argparse.Namespace) -> Setup:
    """UMT with cached ResNet-152-shaped region features."""
    return _umt(args, use_images=True)


SECTIONS: dict[str, Callable[[argparse.Namespace], Setup]] = {
    "acn_text": acn_text,
    "acn_images": acn_images,
    "umt_text": umt_text,
    "umt_images": umt_images,
}


def run_section(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Time one section in this process; returns its figures."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    setup = SECTIONS[name](args)
    bs, examples = 16, setup.examples
    if args.batching == "sorted":  # what a length-bucketing sampler does: similar lengths
        warm, rest = examples[:bs], examples[bs:]
        rest = sorted(rest, key=lambda ex: len(ex[0].tokens))
        chunks = [rest[i : i + bs] for i in range(0, len(rest), bs)]
        random.Random(0).shuffle(chunks)
        examples = warm + [ex for chunk in chunks for ex in chunk]
    batches = [examples[i : i + bs] for i in range(0, len(examples), bs)]
    setup.model.train()
    for k, chunk in enumerate(batches):
        if k == 1:  # after one warm-up batch
            start, timed = time.perf_counter(), 0
        setup.optimizer.zero_grad()
        setup.model.loss(setup.collate(chunk)).backward()
        setup.optimizer.step()
        if k >= 1:
            timed += len(chunk)
    train_s = time.perf_counter() - start
    setup.model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for chunk in batches[1:]:
            setup.model.decode(setup.collate(chunk))
    decode_s = time.perf_counter() - start
    pps = timed / train_s
    return {
        "section": name,
        "note": setup.note,
        "posts_timed": timed,
        "train_posts_per_s": round(pps, 2),
        "epoch_min_3000": round(3000 / pps / 60, 2),
        "decode_posts_per_s": round(timed / decode_s, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": args.threads,
        "batching": args.batching,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help=f"some of {list(SECTIONS)} (default: all)")
    parser.add_argument("--posts", type=int, default=320, help="timed posts per ACN section")
    parser.add_argument("--umt-posts", type=int, default=48, help="timed posts per UMT section")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--batching", choices=("random", "sorted"), default="random",
        help="random batches (default) or batches of similar length in random order",
    )  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; expected some of {list(SECTIONS)}")
    args.sections = args.sections or list(SECTIONS)
    if args.child:
        print(json.dumps(run_section(args.sections[0], args)))
        return 0
    results = []
    for name in args.sections:
        cmd = [sys.executable, __file__, name, "--child", f"--posts={args.posts}",
               f"--umt-posts={args.umt_posts}", f"--threads={args.threads}",
               f"--batching={args.batching}"]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(f"{name}: {results[-1]}", file=sys.stderr)
    print(
        "| section | batches | train posts/s | epoch of 3,000 | decode posts/s | peak RSS | setup |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(
            f"| {r['section']} | {r['batching']} | {r['train_posts_per_s']:.1f} "
            f"| {r['epoch_min_3000']:.1f} min | {r['decode_posts_per_s']:.1f} "
            f"| {r['peak_rss_mib']:.0f} MiB | {r['note']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
