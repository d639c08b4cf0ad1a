"""One test for every model: shapes, overfitting 8 real posts to F1 = 1, save -> load -> same.

Each model enters through a factory ``(posts, labels) -> ModelCase``; add a model by appending
its factories to ``FACTORIES``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from seqeval.metrics import f1_score

from xmner.data.corpora import load_split
from xmner.data.corpus import Post
from xmner.data.tags import label_set, unify_types
from xmner.models import checkpoint
from xmner.models.acn import ACNConfig, build_acn
from xmner.models.umt import UMT, UMTConfig

LABELS = label_set(("PER", "LOC", "ORG", "MISC"))


@dataclass
class ModelCase:
    """A model, its collator, the examples it is fed, and a learning rate that overfits fast."""

    model: torch.nn.Module
    collate: Callable[[list[Any]], dict[str, Any]]
    examples: list[Any]
    lr: float


def _tiny_acn(posts: list[Post], labels: list[str], use_images: bool) -> ModelCase:
    config = ACNConfig(
        word_dim=24, char_dim=8, char_filters=8, char_out=12, hidden=32, use_images=use_images,
        regions=4, region_dim=16, max_len=64, dropout=0.0,
    )  # fmt: skip
    model = build_acn(config, labels, posts)
    gen = torch.Generator().manual_seed(1)
    regions = [torch.randn(4, 16, generator=gen) if use_images else None for _ in posts]
    regions[-1] = None  # a post whose image is missing
    return ModelCase(model, model.collator(), list(zip(posts, regions, strict=True)), lr=2e-2)


def _wordpiece(posts: list[Post]):
    """A BERT tokenizer over the posts' characters plus ``##`` pieces, so words split."""
    from transformers import BertTokenizer

    chars = sorted({c for p in posts for t in p.tokens for c in t if not c.isspace()})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = [f"##{c}" for c in chars if c.isascii() and c.isalnum()]
    vocab = list(dict.fromkeys(specials + chars + pieces))
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)


def _tiny_umt(posts: list[Post], labels: list[str], use_images: bool) -> ModelCase:
    tokenizer = _wordpiece(posts)
    bert = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 128,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }
    config = UMTConfig(
        bert_config=bert,
        use_images=use_images,
        region_dim=16,
        regions=4,
        max_len=96,
        freeze_bottom_layers=1,
    )
    model = UMT(config, labels, tokenizer)
    gen = torch.Generator().manual_seed(1)
    regions = [torch.randn(4, 16, generator=gen) if use_images else None for _ in posts]
    regions[-1] = None  # a post whose image is missing
    return ModelCase(model, model.collator(), list(zip(posts, regions, strict=True)), lr=2e-3)


FACTORIES: list[Any] = [
    pytest.param(lambda posts, labels: _tiny_acn(posts, labels, False), id="acn-text"),
    pytest.param(lambda posts, labels: _tiny_acn(posts, labels, True), id="acn-images"),
    pytest.param(lambda posts, labels: _tiny_umt(posts, labels, False), id="umt-text"),
    pytest.param(lambda posts, labels: _tiny_umt(posts, labels, True), id="umt-images"),
]


@pytest.fixture(scope="module")
def posts(data_root) -> list[Post]:
    """4 short CMNER posts and 4 short Twitter-2015 posts with entities, types unified."""
    picked = []
    for corpus, limit in (("cmner", 30), ("twitter2015", 16)):
        rows = load_split(corpus, "train", data_root)
        short = [p for p in rows if len(p.tokens) <= limit and any(t != "O" for t in p.tags)]
        picked += [dataclasses.replace(p, tags=unify_types(p.tags)) for p in short[:4]]
    assert len(picked) == 8
    return picked


def _train(case: ModelCase, steps: int, posts: list[Post]) -> tuple[list[float], float]:
    """Full-batch training; returns the losses and the F1 reached (stops at F1 = 1)."""
    batch = case.collate(case.examples)
    opt = torch.optim.Adam([p for p in case.model.parameters() if p.requires_grad], lr=case.lr)
    gold = [p.tags for p in posts]
    losses, f1 = [], 0.0
    for step in range(steps):
        case.model.train()
        opt.zero_grad()
        loss = case.model.loss(batch)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 10 == 9:
            case.model.eval()
            f1 = f1_score(gold, case.model.decode(batch))
            if f1 == 1.0:
                break
    return losses, f1


@pytest.mark.parametrize("factory", FACTORIES)
def test_shapes(factory, posts):
    case = factory(posts, LABELS)
    batch = case.collate(case.examples)
    case.model.eval()
    emissions = case.model(batch)
    assert emissions.shape == (8, max(len(p.tokens) for p in posts), len(LABELS))
    assert torch.isfinite(emissions).all()
    decoded = case.model.decode(batch)
    assert [len(d) for d in decoded] == [len(p.tokens) for p in posts]
    assert all(tag in LABELS for tags in decoded for tag in tags)
    assert case.model.loss(batch).ndim == 0


@pytest.mark.parametrize("factory", FACTORIES)
def test_overfits_eight_real_posts(factory, posts):
    case = factory(posts, LABELS)
    losses, f1 = _train(case, 300, posts)
    assert f1 == 1.0, f"F1 {f1:.3f} after {len(losses)} steps, loss {losses[-1]:.3f}"
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("factory", FACTORIES)
def test_save_load_gives_identical_predictions(factory, posts, tmp_path):
    case = factory(posts, LABELS)
    _train(case, 5, posts)
    case.model.eval()
    batch = case.collate(case.examples)
    path = checkpoint.save(tmp_path / "model.pt", case.model, extra={"epoch": 5})
    loaded = checkpoint.load(path)
    assert type(loaded) is type(case.model) and not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(batch), case.model(batch))
    assert loaded.decode(batch) == case.model.decode(batch)
    assert checkpoint.open_checkpoint(path).extra == {"epoch": 5}
