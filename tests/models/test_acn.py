"""ACN: co-attention as in the paper, masking of padding and missing images, collator, vocab."""

from __future__ import annotations

import dataclasses
import json
import logging
import re

import numpy as np
import pytest
import torch

from xmner.data.corpora import load_split
from xmner.data.corpus import Post
from xmner.data.tags import label_set
from xmner.models.acn import ACN, ACNCollator, ACNConfig, CharCNN, build_acn
from xmner.models.attention import additive_scores, masked_softmax, ragged_additive_scores
from xmner.models.vocab import PAD, UNK, build_char_vocab, build_vocab, load_embeddings

LABELS = label_set(("PER", "LOC", "ORG", "MISC"))
R, D = 6, 10


def tiny(use_images: bool = True, **kw) -> ACNConfig:
    sizes = dict(word_dim=16, char_dim=6, char_filters=5, char_out=7, hidden=12, regions=R,
                 region_dim=D, max_len=40, dropout=0.0)  # fmt: skip
    return ACNConfig(use_images=use_images, **{**sizes, **kw})


@pytest.fixture(scope="module")
def cmner(data_root) -> list[Post]:
    return load_split("cmner", "train", data_root)[:40]


def make(posts, use_images=True, embeddings=None, **kw) -> ACN:
    words, chars = build_vocab(posts), build_char_vocab(posts)
    if embeddings is not None:
        embeddings = embeddings(len(words), kw.get("word_dim", 16))
    return ACN(tiny(use_images, **kw), LABELS, words, chars, embeddings).eval()


# --- the pair scores: factored/chunked == straightforward ---------------------------------
def naive_scores(q, k, w):
    out = torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype)
    for b in range(q.shape[0]):
        for i in range(q.shape[1]):
            for j in range(k.shape[1]):
                out[b, i, j] = torch.dot(w, torch.tanh(q[b, i] + k[b, j]))
    return out


@pytest.mark.parametrize("chunk", [1, 2, 3, None])
def test_chunked_scores_equal_straightforward_with_gradients(chunk):
    gen = torch.Generator().manual_seed(0)
    q, k, w = (torch.randn(*s, generator=gen, dtype=torch.float64) for s in
               [(2, 5, 4), (2, 7, 4), (4,)])  # fmt: skip
    leaves = [t.clone().requires_grad_() for t in (q, k, w)]
    fast = additive_scores(*leaves, chunk=chunk)
    ref_leaves = [t.clone().requires_grad_() for t in (q, k, w)]
    slow = naive_scores(*ref_leaves)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    g = torch.randn(fast.shape, generator=gen, dtype=torch.float64)
    (fast * g).sum().backward()
    (slow * g).sum().backward()
    for a, b in zip(leaves, ref_leaves, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-12)


def test_ragged_scores_equal_full_scores_inside_each_post():
    gen = torch.Generator().manual_seed(1)
    q, k = (torch.randn(3, 6, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    w = torch.randn(4, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    q.requires_grad_()
    ragged = ragged_additive_scores(q, k, w, lengths, chunk=1)
    full = additive_scores(q, k, w)
    block = torch.arange(6)[None, :] < lengths[:, None]
    pair = block[:, :, None] & block[:, None, :]  # (B, T, T)
    torch.testing.assert_close(ragged[pair], full[pair], rtol=0, atol=1e-12)
    assert (ragged[~pair] == 0).all()
    (grad,) = torch.autograd.grad((ragged * pair).sum(), q)
    (expected,) = torch.autograd.grad((full * pair).sum(), q)
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-12)


def test_masked_softmax_zero_on_masked_and_all_masked_rows():
    scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    p = masked_softmax(scores, mask)
    assert p[0, 2] == 0 and torch.allclose(p[0].sum(), torch.tensor(1.0))
    assert torch.equal(p[1], torch.zeros(3))


# --- the co-attention ------------------------------------------------------------------
def test_visual_attention_differs_across_words_of_one_post(cmner):
    model = make(cmner)
    batch = model.collator()([(cmner[0], torch.randn(R, D))])
    _, att = model.encode(batch)
    alpha = att["visual"][0]  # (T, R)
    assert torch.allclose(alpha.sum(-1), torch.ones(alpha.shape[0]))
    # with query and keys summed inside the tanh every word attends differently
    spread = (alpha - alpha[0]).abs().amax(-1)
    assert (spread[1:] > 1e-4).all()


def test_padding_and_missing_images_get_zero_weight(cmner):
    model = make(cmner)
    short, long_ = sorted(cmner[:5], key=lambda p: len(p.tokens))[0], cmner[5]
    batch = model.collator()([(short, torch.randn(R, D)), (long_, None)])
    n = len(short.tokens)
    _, att = model.encode(batch)
    assert torch.equal(att["textual"][0, :, n:], torch.zeros_like(att["textual"][0, :, n:]))
    assert torch.allclose(att["textual"][0, :n].sum(-1), torch.ones(n))
    assert torch.equal(att["visual"][1], torch.zeros_like(att["visual"][1]))  # no image


def test_padding_never_changes_a_posts_emissions(cmner):
    model = make(cmner)
    col = model.collator()
    post, longer = cmner[0], max(cmner, key=lambda p: len(p.tokens))
    regions = torch.randn(R, D)
    alone, _ = model.encode(col([(post, regions)]))
    batched, _ = model.encode(col([(post, regions), (longer, torch.randn(R, D))]))
    torch.testing.assert_close(batched[0, : len(post.tokens)], alone[0], rtol=0, atol=1e-5)


def test_char_cnn_ignores_character_padding():
    posts = [Post("a", ["ab", "abcdefgh"], ["O", "O"]), Post("b", ["ab"], ["O"])]
    model = make(posts, use_images=False)
    chars = torch.tensor([[[2, 3] + [0] * 6, list(range(2, 10))]])  # (1, 2, 8): "ab", "abcdefgh"
    mask = torch.ones(1, 2, dtype=torch.bool)
    padded = model.char_cnn(chars, mask)[0, 0]
    tight = model.char_cnn(chars[:, :1, :2], mask[:, :1])[0, 0]
    torch.testing.assert_close(padded, tight, rtol=0, atol=1e-6)


def test_char_cnn_pools_exactly_the_windows_holding_a_character():
    # each word convolved alone (zero padding = the <pad> embedding, also zero): its windows
    # are those holding at least one real character; with negative filters and positive
    # embeddings the best window holds one character only, the first or the last
    cnn = CharCNN(8, tiny(char_kernels=(2, 3)))
    with torch.no_grad():
        cnn.emb.weight[1:].uniform_(0.1, 1.0)
        for conv in cnn.convs:
            conv.weight.fill_(-1.0)
            conv.bias.zero_()
    words = [[2], [3, 2], [2, 3], [4, 5, 6], [6, 5, 4], [7, 2, 3, 4, 5]]
    chars = torch.tensor([[w + [0] * (6 - len(w)) for w in words]])  # (1, 6, 6)
    out = cnn(chars, torch.ones(1, len(words), dtype=torch.bool))[0]
    for i, w in enumerate(words):
        x = cnn.emb(torch.tensor([w])).transpose(1, 2)
        pooled = torch.cat([conv(x).amax(-1) for conv in cnn.convs], -1)
        torch.testing.assert_close(out[i], cnn.proj(pooled)[0], rtol=0, atol=1e-6)


def test_word_dropout_replaces_about_its_share_of_real_words_only():
    posts = [Post(str(i), ["a", "b", "c", "d", "e"][: 1 + i % 5], ["O"] * (1 + i % 5))
             for i in range(60)]  # fmt: skip
    model = ACN(tiny(use_images=False, word_dropout=0.5), LABELS, [PAD, UNK, *"abcde"],
                [PAD, UNK, *"abcde"]).train()  # fmt: skip
    seen = []
    model.word_emb.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    batch = model.collator()(posts)
    model(batch)
    ids, mask = seen[0], batch["mask"]
    assert not ids[~mask].any()  # padding stays <pad>
    replaced = (ids[mask] == 1).float().mean().item()
    assert 0.4 < replaced < 0.6  # of 180 real words
    kept = ids[mask] != 1
    assert torch.equal(ids[mask][kept], batch["word_ids"][mask][kept])


def test_without_word_dropout_training_draws_no_random_numbers():
    # a run without word dropout keeps the random stream of its other dropout masks
    model = ACN(tiny(use_images=False), LABELS, [PAD, UNK, "a"], [PAD, UNK, "a"]).train()
    batch = model.collator()([Post("a", ["a", "a"], ["O", "O"])])
    state = torch.get_rng_state()
    model(batch)
    assert torch.equal(torch.get_rng_state(), state)


def test_emissions_add_the_multimodal_term_to_the_text_ones():
    posts = [Post("a", ["a", "b", "c"], ["O"] * 3)]
    model = ACN(tiny(), LABELS, [PAD, UNK, *"abc"], [PAD, UNK, *"abc"]).eval()
    batch = model.collator()([(posts[0], torch.randn(R, D))])
    emissions, weights = model.encode(batch)
    h = _text_states(model, batch)
    u = model.coattention(h, batch["mask"], batch["regions"], batch["image_mask"])[0]
    expected = model.out_text(h) + model.out_multimodal(u)
    torch.testing.assert_close(emissions, expected, rtol=0, atol=1e-5)
    assert set(weights) == {"visual", "textual"}
    text_batch = ACNCollator(LABELS, model.words, model.chars, use_images=False)(posts)
    message = "^this ACN uses images: the batch needs 'regions' and 'image_mask'$"
    with pytest.raises(ValueError, match=message):
        model.encode(text_batch)
    text_model = ACN(tiny(use_images=False), LABELS, model.words, model.chars).eval()
    assert text_model.encode(text_batch)[1] == {}


def test_post_without_image_is_tagged_from_text_alone(cmner):
    model = make(cmner)
    col = model.collator()
    batch = col([(cmner[0], None)])
    with_none, _ = model.encode(batch)
    text_only = model.out_text(_text_states(model, batch))
    torch.testing.assert_close(with_none, text_only, rtol=0, atol=1e-6)
    with_image, _ = model.encode(col([(cmner[0], torch.randn(R, D))]))
    assert not torch.allclose(with_image, with_none)


def _text_states(model: ACN, batch) -> torch.Tensor:
    x = torch.cat([model.word_emb(batch["word_ids"]),
                   model.char_cnn(batch["char_ids"], batch["mask"])], -1)  # fmt: skip
    return model.lstm(x)[0]


def test_text_only_config_has_no_image_parameters_and_ignores_regions(cmner):
    model = make(cmner, use_images=False)
    assert model.coattention is None and model.out_multimodal is None
    batch = model.collator()([(cmner[0], torch.randn(R, D))])
    assert "regions" not in batch
    assert model(batch).shape == (1, min(40, len(cmner[0].tokens)), len(LABELS))


# --- embeddings ------------------------------------------------------------------------
def _step(model: ACN, posts) -> None:
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    batch = model.collator()([(p, torch.randn(R, D)) for p in posts[:4]])
    opt.zero_grad()
    model.loss(batch).backward()
    opt.step()


@pytest.mark.parametrize("freeze", [True, False])
def test_pretrained_embeddings_frozen_unless_asked(cmner, freeze):
    model = make(cmner, embeddings=lambda v, e: torch.rand(v, e), freeze_embeddings=freeze)
    before = model.word_emb.weight.detach().clone()
    lstm_before = model.lstm.weight_ih_l0.detach().clone()
    _step(model, cmner)
    assert torch.equal(model.word_emb.weight, before) is freeze
    assert not torch.equal(model.lstm.weight_ih_l0, lstm_before)


def test_random_embeddings_are_uniform_quarter_and_trained(cmner):
    model = make(cmner)
    w = model.word_emb.weight.detach()
    assert w[0].abs().sum() == 0 and w.abs().max() <= 0.25
    before = w.clone()
    _step(model, cmner)
    assert not torch.equal(model.word_emb.weight, before)


def test_build_from_align_export(cmner, tmp_path, caplog):
    words = build_vocab(cmner)
    (tmp_path / "acn_vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    matrix = np.random.default_rng(0).uniform(-1, 1, (len(words), 20)).astype(np.float32)
    np.save(tmp_path / "acn_embeddings.npy", matrix)
    caplog.set_level(logging.INFO, logger="xmner.models.acn")
    model = build_acn(tiny(), LABELS, cmner, vocab_path=tmp_path / "acn_vocab.txt",
                      embeddings_path=tmp_path / "acn_embeddings.npy")  # fmt: skip
    assert caplog.messages == [f"word_dim 16 -> 20 from {tmp_path / 'acn_embeddings.npy'}"]
    assert model.config.word_dim == 20 and model.words == words and model.pretrained
    assert np.array_equal(model.word_emb.weight.detach().numpy(), matrix)
    assert not model.word_emb.weight.requires_grad
    np.save(tmp_path / "short.npy", matrix[:-1])
    with pytest.raises(ValueError, match=r"expected a \(\d+, E\) matrix"):
        load_embeddings(tmp_path / "acn_vocab.txt", tmp_path / "short.npy")


def test_build_without_export_takes_words_and_chars_from_the_posts():
    posts = [Post("a", ["ab", "ab", "c"], ["O"] * 3), Post("b", ["ab", "d"], ["B-PER", "O"])]
    config = tiny()
    model = build_acn(config, LABELS, posts)  # min_count 1: every word and character
    assert model.config is config and model.labels == LABELS and not model.pretrained
    assert model.words == ["<pad>", "<unk>", "ab", "c", "d"]
    assert model.chars == ["<pad>", "<unk>", "a", "b", "c", "d"]
    twice = build_acn(config, LABELS, posts, min_count=2)
    assert (twice.words, twice.chars) == (["<pad>", "<unk>", "ab"], ["<pad>", "<unk>", "a", "b"])
    for given in ({"vocab_path": "v.txt"}, {"embeddings_path": "e.npy"}):
        with pytest.raises(
            ValueError, match="^give both vocab_path and embeddings_path, or neither$"
        ):
            build_acn(config, LABELS, posts, **given)


# --- vocab and collator ----------------------------------------------------------------
def test_vocab_conventions_and_min_count():
    posts = [Post("a", ["x", "y", "x"], ["O"] * 3), Post("b", ["x", "zz"], ["O"] * 2)]
    assert build_vocab(posts) == [PAD, UNK, "x", "y", "zz"]
    assert build_vocab(posts, min_count=2) == [PAD, UNK, "x"]
    assert build_char_vocab(posts, min_count=2) == [PAD, UNK, "x", "z"]
    with pytest.raises(ValueError, match="min_count"):
        build_vocab(posts, min_count=0)


def test_collator_ids_masks_truncation_and_unknown_words():
    posts = [Post("a", ["Paris", "is", "big"], ["B-LOC", "O", "O"]), Post("b", ["new"], ["O"])]
    words = [PAD, UNK, "paris", "is", "new"]
    model = ACN(tiny(max_len=2), LABELS, words, build_char_vocab(posts))
    batch = model.collator()([(posts[0], torch.randn(R, D)), posts[1]])
    assert batch["word_ids"].tolist() == [[2, 3], [4, 0]]  # "Paris" found lower-cased
    assert batch["mask"].tolist() == [[True, True], [True, False]]
    assert batch["post_lengths"].tolist() == [3, 1] and batch["lengths"].tolist() == [2, 1]
    assert batch["labels"][0].tolist() == [LABELS.index("B-LOC"), 0]
    assert batch["image_mask"].tolist() == [True, False]
    assert batch["char_ids"].shape == (2, 2, 5) and batch["char_ids"][1, 1].sum() == 0
    model.eval()
    decoded = model.decode(batch)
    assert [len(d) for d in decoded] == [3, 1] and decoded[0][2] == "O"
    assert batch["word_ids"].new_tensor(model.collator()._word_id("unseen")) == 1


def test_collator_batch_by_hand():
    posts = [
        (Post("a", ["AB", "abab", "z"], ["B-PER", "I-PER", "O"]), torch.randn(R, D)),
        (Post("b", [""], ["O"]), None),
        Post("c", ["x"], ["B-LOC"]),
    ]
    words, chars = [PAD, UNK, "ab", "AB"], [PAD, UNK, "a", "b", "A"]
    collate = ACNCollator(LABELS, words, chars, max_len=2, max_word_chars=3, regions=R,
                          region_dim=D, bigrams=[PAD, UNK, "AB abab"])  # fmt: skip
    batch = collate(posts)
    assert batch["word_ids"].tolist() == [[3, 1], [1, 0], [1, 0]]  # as written, else lower
    assert batch["char_ids"].tolist() == [
        [[4, 1, 0], [2, 3, 2]],  # "AB": B unknown; "abab" cut to 3 characters
        [[1, 0, 0], [0, 0, 0]],  # an empty token reads as one unknown character
        [[1, 0, 0], [0, 0, 0]],
    ]
    assert batch["mask"].tolist() == [[True, True], [True, False], [True, False]]
    assert batch["lengths"].tolist() == [2, 1, 1] and batch["post_lengths"].tolist() == [3, 1, 1]
    index = LABELS.index
    assert batch["labels"].tolist() == [
        [index("B-PER"), index("I-PER")], [index("O"), 0], [index("B-LOC"), 0]
    ]  # fmt: skip
    assert batch["bigram_ids"].tolist() == [[2, 1], [1, 0], [1, 0]]  # "AB abab", "abab z"
    assert "seg_ids" not in batch
    assert torch.equal(batch["regions"][0], posts[0][1])
    assert not batch["regions"][1:].any() and batch["regions"].shape == (3, R, D)
    assert batch["image_mask"].tolist() == [True, False, False]
    text = ACNCollator(LABELS, words, chars, use_images=False)([posts[0]])
    assert "regions" not in text and "image_mask" not in text and "bigram_ids" not in text
    assert text["word_ids"].tolist() == [[3, 1, 1]] and text["char_ids"].shape == (1, 3, 4)
    with pytest.raises(ValueError, match="^expected at least one example, got an empty list$"):
        collate([])


def test_collator_errors_name_the_post():
    post = Post("w42", ["a"], ["B-FOO"])
    col = ACN(tiny(), LABELS, [PAD, UNK, "a"], [PAD, UNK, "a"]).collator()
    with pytest.raises(ValueError, match="post w42: tag 'B-FOO'"):
        col([(post, None)])
    with pytest.raises(ValueError, match=r"post w43: expected regions of shape \(6, 10\)"):
        col([(Post("w43", ["a"], ["O"]), torch.zeros(49, 10))])
    with pytest.raises(ValueError, match="post w44: has no tokens"):
        col([(Post("w44", [], []), None)])


def test_config_checks_and_round_trips():
    with pytest.raises(ValueError, match="hidden must be even"):
        ACNConfig(hidden=7)
    cfg = tiny(char_kernels=[2, 3])
    assert cfg.char_kernels == (2, 3) and ACNConfig(**cfg.to_dict()) == cfg


def test_config_bounds_name_the_setting_and_its_value():
    ones = dict(word_dim=1, hidden=2, max_len=1, regions=1, region_dim=1, max_word_chars=1)
    ACNConfig(**ones, cpu_mmap_threshold_mib=0)  # the least values allowed
    for name in ones:
        with pytest.raises(ValueError, match=f"^{name} must be >= 1, got 0$"):
            ACNConfig(**{**ones, name: 0})
    with pytest.raises(ValueError, match=r"^hidden must be even \(two LSTM directions\), got 7$"):
        ACNConfig(hidden=7)
    with pytest.raises(ValueError, match="^cpu_mmap_threshold_mib must be >= 0, got -1$"):
        ACNConfig(cpu_mmap_threshold_mib=-1)
    for name in ("dropout", "word_dropout"):
        assert getattr(ACNConfig(**{name: 0.0}), name) == 0.0
        assert getattr(ACNConfig(**{name: 0.999}), name) == 0.999
        for bad in (-0.1, 1.0, 1.5):
            with pytest.raises(ValueError, match=rf"^{name} must be in \[0, 1\), got {bad}$"):
                ACNConfig(**{name: bad})
    assert ACNConfig(char_kernels=["2", 5.0]).char_kernels == (2, 5)  # as TOML may give them


def test_config_dict_is_plain_and_from_dict_names_unknown_and_legacy_keys(caplog):
    cfg = tiny(char_kernels=[2, 5], bigram_dim=3, cpu_mmap_threshold_mib=0)
    d = cfg.to_dict()
    names = sorted(f.name for f in dataclasses.fields(ACNConfig))
    assert sorted(d) == names and d["char_kernels"] == [2, 5] and d["bigram_dim"] == 3
    assert json.loads(json.dumps(d)) == d  # lists, numbers, booleans only
    assert ACNConfig.from_dict(d) == cfg
    with caplog.at_level(logging.INFO, logger="xmner.config"):
        assert ACNConfig.from_dict({**d, "lr": 0.1, "batch_size": 8}) == cfg
    assert caplog.messages == [
        "ACNConfig: dropped legacy key(s) ['batch_size', 'lr'] (no longer read)"
    ]
    message = f"unknown ACNConfig keys ['layers', 'zz']; expected some of {names}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ACNConfig.from_dict({**d, "zz": 1, "layers": 3})


def test_char_cnn_layers_take_their_sizes_from_the_config():
    torch.manual_seed(0)
    cnn = CharCNN(300, tiny(char_dim=6, char_filters=5, char_kernels=(2, 4), char_out=7))
    assert cnn.emb.weight.shape == (300, 6) and cnn.emb.padding_idx == 0
    _assert_uniform_quarter(cnn.emb.weight)
    shapes = [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in cnn.convs]
    assert shapes == [(6, 5, (2,), (1,)), (6, 5, (4,), (3,))]  # every window of >= 1 char
    assert (cnn.proj.in_features, cnn.proj.out_features) == (2 * 5, 7)
    chars = torch.tensor([[[2, 3, 0, 0], [4, 0, 0, 0]]])  # windows reach the <pad> characters
    cnn(chars, torch.ones(1, 2, dtype=torch.bool)).sum().backward()
    grad = cnn.emb.weight.grad
    assert not grad[0].any() and grad[2:5].abs().sum(1).all()  # <pad> stays zero in training


def _assert_uniform_quarter(weight: torch.Tensor) -> None:
    """Row 0 (<pad>) zero, the others drawn from U(-0.25, 0.25) (hundreds of values)."""
    w = weight.detach()
    assert not w[0].any()
    assert w[1:].abs().max() <= 0.25 and w[1:].min() < -0.24 and w[1:].max() > 0.24


WORDS = [PAD, UNK] + [f"w{i}" for i in range(100)]
BIGRAMS = [PAD, UNK] + [f"b{i}" for i in range(300)]
CLUSTERS = [PAD, UNK, "0110", "10"]


def test_layers_take_their_sizes_from_the_config():
    torch.manual_seed(0)
    cfg = tiny(bigram_dim=3, seg_dim=2, cluster_dim=4, char_out=7, hidden=12, dropout=0.25)
    model = ACN(cfg, LABELS, WORDS, [PAD, UNK, *"abc"], None, BIGRAMS, CLUSTERS)
    sizes = {"word_emb": (102, 16), "bigram_emb": (302, 3), "seg_emb": (5, 2),
             "cluster_emb": (4, 4), "char_cnn.emb": (5, 6)}  # fmt: skip
    for name, shape in sizes.items():
        emb = model.get_submodule(name)
        assert emb.weight.shape == shape and emb.padding_idx == 0, name
        assert not emb.weight[0].any(), name
    _assert_uniform_quarter(model.word_emb.weight)
    _assert_uniform_quarter(model.bigram_emb.weight)
    lstm = model.lstm
    assert (lstm.input_size, lstm.hidden_size) == (16 + 3 + 2 + 4 + 7, 6)
    assert lstm.batch_first and lstm.bidirectional and model.dropout.p == 0.25
    assert (model.coattention.image.in_features, model.coattention.image.out_features) == (D, 12)
    assert (model.out_text.in_features, model.out_text.out_features) == (12, len(LABELS))
    assert model.out_text.bias is not None
    out = model.out_multimodal
    assert (out.in_features, out.out_features, out.bias) == (12, len(LABELS), None)
    assert model.crf.num_tags == len(LABELS)
    bare = ACN(tiny(False, use_chars=False), LABELS, WORDS, [PAD, UNK])
    assert bare.char_cnn is None and bare.coattention is None and bare.out_multimodal is None
    assert (bare.bigram_emb, bare.seg_emb, bare.cluster_emb) == (None, None, None)
    assert bare.lstm.input_size == 16  # words alone
    batch = bare.collator()([Post("a", ["w1", "x"], ["O", "B-PER"])])
    assert bare.eval()(batch).shape == (1, 2, len(LABELS))


def test_construction_errors_name_what_is_wrong():
    def build(config=None, labels=LABELS, words=(PAD, UNK, "a"), chars=(PAD, UNK, "a"), **kw):
        return ACN(config or tiny(False), labels, list(words), list(chars), **kw)

    rows = "expected rows 0 and 1 to be '<pad>', '<unk>', got"
    bigram, cluster = (f"give a {v} vocabulary exactly when config.{v}_dim > 0" for v in
                       ("bigram", "cluster"))  # fmt: skip
    labels = "labels must be unique and non-empty, got"
    with_bigrams, with_clusters = tiny(False, bigram_dim=2), tiny(False, cluster_dim=2)
    cases = [
        (dict(words=["a", PAD, UNK]), f"word vocabulary: {rows} ['a', '<pad>']"),
        (dict(chars=[PAD, UNK, "a", "a"]), "character vocabulary: duplicate entry 'a'"),
        (dict(bigrams=[PAD, UNK]), bigram),
        (dict(config=with_bigrams), bigram),
        (dict(config=with_bigrams, bigrams=[UNK]), f"bigram vocabulary: {rows} ['<unk>']"),
        (dict(clusters=[PAD, UNK]), cluster),
        (dict(config=with_clusters), cluster),
        (dict(config=with_clusters, clusters=[PAD]), f"cluster vocabulary: {rows} ['<pad>']"),
        (dict(labels=["O", "B-PER", "O"]), f"{labels} ['O', 'B-PER', 'O']"),
        (dict(labels=[]), f"{labels} []"),
        (dict(embeddings=torch.zeros(3, 5)), "embeddings: expected shape (3, 16) for 3 words, "
                                             "got (3, 5)"),
    ]  # fmt: skip
    for kw, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            build(**kw)


@pytest.mark.parametrize("freeze", [True, False])
@pytest.mark.parametrize("pretrained", [True, False])
def test_only_a_given_matrix_asked_to_be_frozen_is_frozen(pretrained, freeze):
    matrix = torch.randn(len(WORDS), 16) if pretrained else None
    model = ACN(tiny(freeze_embeddings=freeze), LABELS, WORDS, [PAD, UNK], matrix)
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen == (["word_emb.weight"] if pretrained and freeze else [])
    assert model.pretrained is pretrained
    if pretrained:
        assert torch.equal(model.word_emb.weight, matrix)


def test_collator_takes_the_models_vocabularies_and_sizes():
    cfg = tiny(max_len=7, max_word_chars=5, regions=3, region_dim=4, bigram_dim=2, seg_dim=2,
               cluster_dim=2)  # fmt: skip
    chars = [PAD, UNK, "a"]
    model = ACN(cfg, LABELS, WORDS, chars, None, BIGRAMS, CLUSTERS)
    assert model.collator() == ACNCollator(
        LABELS, WORDS, chars, max_len=7, max_word_chars=5, use_images=True, regions=3,
        region_dim=4, bigrams=BIGRAMS, segments=True, clusters=CLUSTERS,
    )  # fmt: skip
    text = ACN(tiny(False), LABELS, WORDS, chars).collator()
    assert not text.use_images and not text.segments
    assert text.bigrams is None and text.clusters is None


@pytest.mark.parametrize("pretrained", [True, False])
def test_rebuild_keeps_vocabularies_sizes_and_what_is_frozen(pretrained):
    cfg = tiny(bigram_dim=2, cluster_dim=3)
    chars = [PAD, UNK, "a"]
    matrix = torch.randn(len(WORDS), 16) if pretrained else None
    model = ACN(cfg, LABELS, WORDS, chars, matrix, BIGRAMS, CLUSTERS)
    state = model.init_state()
    assert state == {"labels": LABELS, "words": WORDS, "chars": chars, "bigrams": BIGRAMS,
                     "clusters": CLUSTERS, "pretrained": pretrained}  # fmt: skip
    rebuilt = ACN.rebuild(cfg, state)
    assert rebuilt.config is cfg and rebuilt.init_state() == state
    shapes = {name: t.shape for name, t in model.state_dict().items()}
    assert {name: t.shape for name, t in rebuilt.state_dict().items()} == shapes
    frozen = [name for name, p in rebuilt.named_parameters() if not p.requires_grad]
    assert frozen == (["word_emb.weight"] if pretrained else [])
    older = {k: state[k] for k in ("labels", "words", "chars", "pretrained")}  # before bigrams
    plain = ACN.rebuild(tiny(), older)
    assert (plain.bigrams, plain.clusters, plain.pretrained) == (None, None, pretrained)


# --- optional inputs: character bigrams, jieba word places, word dropout ------------------
def test_segment_tags_mark_jieba_words_and_leave_english_alone(cmner):
    from xmner.models.segment import SEG_TAGS, segment_tags

    names = dict(enumerate(SEG_TAGS))
    assert [names[i] for i in segment_tags(tuple("我爱北京"))] == ["S", "S", "B", "E"]
    assert set(segment_tags(("I", "love", "Paris"))) == {SEG_TAGS.index("S")}
    for post in cmner:
        tags = "".join(names[i] for i in segment_tags(tuple(post.tokens)))
        assert len(tags) == len(post.tokens)
        assert re.fullmatch(r"(S|BM*E)*", tags)  # well-formed words
    assert any("B" in "".join(names[i] for i in segment_tags(tuple(p.tokens))) for p in cmner)


def test_bigram_and_segment_inputs_reach_the_emissions(cmner, tmp_path):
    from xmner.models import checkpoint
    from xmner.models.vocab import build_bigram_vocab, token_bigrams

    posts = cmner[:6]
    bigrams = build_bigram_vocab(posts[:3])
    cfg = tiny(False, bigram_dim=5, seg_dim=3)
    model = ACN(cfg, LABELS, build_vocab(posts), build_char_vocab(posts), None, bigrams).eval()
    batch = model.collator()(posts)
    known = {b: i for i, b in enumerate(bigrams)}
    for row, post in enumerate(posts):
        expect = [known.get(b, 1) for b in token_bigrams(post.tokens)][:40]
        assert batch["bigram_ids"][row, : len(expect)].tolist() == expect
    assert (batch["bigram_ids"][3:] == 1).any()  # bigrams unseen in the vocabulary read <unk>
    base = model(batch)
    with torch.no_grad():
        model.bigram_emb.weight[batch["bigram_ids"][0, 0]] += 1.0
    assert not torch.equal(model(batch)[0], base[0])
    seg = dict(batch, seg_ids=torch.where(batch["mask"], 4, 0))  # all "S": other boundaries
    assert not torch.equal(model(seg), model(batch))
    checkpoint.save(tmp_path / "m.pt", model, {})
    loaded = checkpoint.load(tmp_path / "m.pt").eval()
    assert loaded.bigrams == bigrams and torch.equal(loaded(batch), model(batch))
    with pytest.raises(ValueError, match="bigram vocabulary exactly when"):
        ACN(cfg, LABELS, build_vocab(posts), build_char_vocab(posts))


def test_word_dropout_reads_words_as_unk_in_training_only(cmner):
    posts = cmner[:4]
    model = make(posts, use_images=False, word_dropout=0.5)
    batch = model.collator()(posts)
    torch.manual_seed(0)
    eval_out = model(batch)
    model.train()
    assert not torch.equal(model(batch), eval_out)  # dropout off (0.0): only words differ
    model.config.word_dropout = 0.0
    assert torch.equal(model(batch), eval_out)
    with pytest.raises(ValueError, match="word_dropout must be in"):
        tiny(word_dropout=1.0)


def test_clusters_reach_unseen_words_and_the_emissions(data_root, tmp_path):
    """An English word never seen in training reads its Brown cluster's row; Chinese has none."""
    pytest.importorskip("spacy_lookups_data")
    from xmner.models import checkpoint
    from xmner.models.clusters import NONE, build_cluster_vocab, token_cluster

    # spaCy's table puts these first names in one cluster and leaves Chinese characters out
    assert token_cluster("Hillary") == token_cluster("Kim") != NONE
    assert token_cluster("hILLARY") == token_cluster("hillary") != NONE  # lower-cased fallback
    assert token_cluster("Seattle") != token_cluster("seattle")  # as written first
    assert token_cluster("北") == NONE and token_cluster("qqzzxq") == NONE
    train = [Post("a", ["Kim", "went", "home"], ["B-PER", "O", "O"])]
    test = Post("b", ["Hillary", "went", "北"], ["B-PER", "O", "B-LOC"])
    clusters = build_cluster_vocab(train)
    assert clusters[:2] == [PAD, UNK] and token_cluster("Kim") in clusters
    posts = train + [test]
    cfg = tiny(False, cluster_dim=4)
    model = ACN(cfg, LABELS, build_vocab(train), build_char_vocab(posts), None, None, clusters)
    batch = model.eval().collator()([test])
    ids = batch["cluster_ids"][0].tolist()
    assert ids[0] == clusters.index(token_cluster("Kim"))  # unseen word, seen cluster
    assert ids[2] == (clusters.index(NONE) if NONE in clusters else 1)
    base = model(batch)
    with torch.no_grad():
        model.cluster_emb.weight[ids[0]] += 1.0
    assert not torch.equal(model(batch), base)
    checkpoint.save(tmp_path / "m.pt", model, {})
    loaded = checkpoint.load(tmp_path / "m.pt").eval()
    assert loaded.clusters == clusters and torch.equal(loaded(batch), model(batch))
    with pytest.raises(ValueError, match="cluster vocabulary exactly when"):
        ACN(cfg, LABELS, build_vocab(train), build_char_vocab(posts))
