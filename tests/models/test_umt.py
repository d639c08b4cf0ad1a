"""UMT: parity with the authors' model, label conversion, gathering, freezing, overfitting."""

from __future__ import annotations

import json

import pytest
import torch
from seqeval.metrics import f1_score

from xmner.data.corpus import Post, read_corpus
from xmner.data.tags import label_set
from xmner.models.umt import (
    UMT,
    UMTCollator,
    UMTConfig,
    conversion_matrix,
    import_authors_checkpoint,
    tokenizer_from_state,
    tokenizer_state,
)

TINY_BERT = {
    "vocab_size": 600,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 128,
}
LABELS = label_set(("PER", "LOC", "ORG", "MISC"))


def tiny_config(**kw) -> UMTConfig:
    base = dict(bert_config=TINY_BERT, region_dim=16, freeze_bottom_layers=0, max_len=64)
    return UMTConfig(**{**base, **kw})


def make_tokenizer(posts: list[Post]):
    """A WordPiece tokenizer whose vocabulary holds the posts' characters, a few words and
    single-letter continuation pieces, so English words split into several sub-words."""
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c.lower() for p in posts for t in p.tokens for c in t if not c.isspace()})
    words = ["the", "to", "of", "in"]
    pieces = [f"##{c}" for c in chars if c.isascii() and c.isalnum()]
    vocab = list(dict.fromkeys(specials + chars + words + pieces))
    assert len(vocab) <= TINY_BERT["vocab_size"]
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})


@pytest.fixture(scope="module")
def cmner_posts(data_root) -> list[Post]:
    posts = read_corpus(data_root / "cmner" / "train.txt", corpus="cmner")
    short = [p for p in posts if 8 <= len(p.tokens) <= 40 and any(t != "O" for t in p.tags)]
    return short[:8]


@pytest.fixture(scope="module")
def twitter_posts(data_root) -> list[Post]:
    return read_corpus(data_root / "twitter2015" / "train.txt", corpus="twitter2015")[:8]


# ----------------------------------------------------------------------------- parity


def _reference_model(fixtures_root, labels, attn_implementation="sdpa"):
    root = fixtures_root / "umt-reference"
    ref = json.loads((root / "config.json").read_text())
    n1, n2, n3 = ref["cross_layers"]
    cfg = UMTConfig(
        bert_config=ref["bert"], region_dim=ref["region_dim"], regions=ref["regions"],
        txt2img_layers=n1, img2txt_layers=n2, txt2txt_layers=n3, freeze_bottom_layers=0,
        attn_implementation=attn_implementation,
    )  # fmt: skip
    model = UMT(cfg, labels).eval()
    import_authors_checkpoint(model, root / "weights.safetensors")
    return model, ref


def _reference_scores(model, fixtures_root):
    from safetensors.torch import load_file

    x = load_file(str(fixtures_root / "umt-reference" / "inputs.safetensors"))
    regions = x["visual"].flatten(2).transpose(1, 2)  # (B, 2048, 7, 7) -> (B, 49, 2048)
    image_mask = torch.ones(regions.shape[:2], dtype=torch.bool)
    with torch.no_grad():
        out = model.scores(x["input_ids"], x["input_mask"], regions, image_mask, x["segment_ids"])
    return out, x["input_mask"].bool()


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_parity_with_authors_model(fixtures_root, attn_implementation):
    from safetensors.torch import load_file

    model, ref = _reference_model(
        fixtures_root,
        json.loads((fixtures_root / "umt-reference" / "config.json").read_text())["real_labels"],
        attn_implementation,
    )
    assert model.bert.config._attn_implementation == attn_implementation
    out, mask = _reference_scores(model, fixtures_root)
    expected = load_file(str(fixtures_root / "umt-reference" / "expected.safetensors"))
    assert set(expected) == {"emissions", "classifier", "aux_emissions"}
    for key, want in expected.items():
        assert out[key].shape == want.shape
        torch.testing.assert_close(out[key][mask], want[mask], atol=1e-5, rtol=0)


def test_import_maps_labels_by_name(fixtures_root):
    """Our label order differs from the authors'; columns must follow the names."""
    from safetensors.torch import load_file

    model, ref = _reference_model(fixtures_root, LABELS)
    out, mask = _reference_scores(model, fixtures_root)
    expected = load_file(str(fixtures_root / "umt-reference" / "expected.safetensors"))
    cols = [ref["real_labels"].index(x) for x in LABELS]
    torch.testing.assert_close(out["emissions"][mask], expected["emissions"][..., cols][mask],
                               atol=1e-5, rtol=0)  # fmt: skip
    ref_state = load_file(str(fixtures_root / "umt-reference" / "weights.safetensors"))
    rows = [ref["reference_labels"].index(x) for x in LABELS]
    crf = model.crf.crf
    assert torch.equal(crf.transitions, ref_state["crf.transitions"][rows][:, rows])
    cls, sep = ref["reference_labels"].index("[CLS]"), ref["reference_labels"].index("[SEP]")
    trans = ref_state["crf.transitions"]
    want_start = ref_state["crf.start_transitions"][cls] + trans[cls, rows]
    assert torch.equal(crf.start_transitions, want_start)  # [CLS] starts, then the label
    want_end = trans[rows, sep] + ref_state["crf.end_transitions"][sep]
    assert torch.equal(crf.end_transitions, want_end)  # the label, then [SEP] ends
    aux_trans = ref_state["aux_crf.transitions"]  # span labels [pad] O B I X [CLS] [SEP]
    aux_end = aux_trans[1:4, 6] + ref_state["aux_crf.end_transitions"][6]
    assert torch.equal(model.aux_crf.crf.end_transitions, aux_end)
    assert torch.equal(model.aux_crf.crf.transitions, aux_trans[1:4, 1:4])
    with pytest.raises(ValueError, match="B-FOO"):
        _reference_model(fixtures_root, ["O", "B-FOO", "I-FOO"])


def _authors_best_path(start, trans, end, em, cls, sep, real):
    """Viterbi over the authors' labels for [CLS] w1 .. wn [SEP]: the ends forced to [CLS] and
    [SEP], the words restricted to the real labels (the fixture's emission columns)."""
    score = start[cls] + trans[cls, real] + em[0]  # (R,) real labels at word 1
    back = []
    for t in range(1, em.shape[0]):
        cand = score[:, None] + trans[real][:, real]  # (R, R)
        best, arg = cand.max(dim=0)
        score, back = best + em[t], back + [arg]
    score = score + trans[real, sep] + end[sep]
    path = [int(score.argmax())]
    for arg in reversed(back):
        path.append(int(arg[path[-1]]))
    return path[::-1], float(score.max())


def test_word_level_crf_decodes_like_the_authors_crf(fixtures_root):
    """One sub-word per word: our CRF over the words finds the authors' best path over
    [CLS] w1 .. wn [SEP] (first and last labels forced to [CLS] and [SEP])."""
    import itertools

    from safetensors.torch import load_file

    root = fixtures_root / "umt-reference"
    ref = json.loads((root / "config.json").read_text())
    model, _ = _reference_model(fixtures_root, ref["real_labels"])
    state = load_file(str(root / "weights.safetensors"))
    x = load_file(str(root / "inputs.safetensors"))
    emissions = load_file(str(root / "expected.safetensors"))["emissions"]  # (3, 14, 9)
    labels = ref["reference_labels"]
    cls, sep = labels.index("[CLS]"), labels.index("[SEP]")
    real = [labels.index(x) for x in ref["real_labels"]]
    start, trans, end = (
        state[f"crf.{k}_transitions" if k else "crf.transitions"] for k in ("start", "", "end")
    )
    naive_differs = False
    for i, n in enumerate(x["input_mask"].sum(1).tolist()):
        words = emissions[i, 1 : n - 1]  # drop [CLS] and [SEP]: each sub-word a word
        want, _ = _authors_best_path(start, trans, end, words, cls, sep, real)
        mask = torch.ones(1, len(words), dtype=torch.bool)
        assert model.crf.decode(words[None], mask)[0] == want
        naive_crf = type(model.crf)(len(real))  # the authors' real rows copied as they are
        naive_crf.crf.transitions.data = trans[real][:, real]
        naive_crf.crf.start_transitions.data = start[real]
        naive_crf.crf.end_transitions.data = end[real]
        naive_differs |= naive_crf.decode(words[None], mask)[0] != want
    assert naive_differs, "the fixture should tell the naive copy apart"
    # the Viterbi above against brute force on the shortest post (4 words, 9^4 paths)
    n = int(x["input_mask"].sum(1).min())
    i = int(x["input_mask"].sum(1).argmin())
    words = emissions[i, 1 : n - 1]
    best = max(
        itertools.product(range(len(real)), repeat=len(words)),
        key=lambda ys: float(
            start[cls] + trans[cls, real[ys[0]]] + trans[real[ys[-1]], sep] + end[sep]
            + sum(words[t, y] for t, y in enumerate(ys))
            + sum(trans[real[a], real[b]] for a, b in zip(ys, ys[1:]))
        ),
    )  # fmt: skip
    assert list(best) == _authors_best_path(start, trans, end, words, cls, sep, real)[0]


def test_conversion_matrix():
    m = conversion_matrix(LABELS)  # O, B-PER, I-PER, B-LOC, I-LOC, B-ORG, I-ORG, B-MISC, I-MISC
    assert m.shape == (3, 9)
    assert m[0].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert m[1].tolist() == [0, 0.25, 0, 0.25, 0, 0.25, 0, 0.25, 0]
    assert m[2].tolist() == [0, 0, 0.25, 0, 0.25, 0, 0.25, 0, 0.25]
    two = conversion_matrix(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    assert two[1].tolist() == [0, 0.5, 0, 0.5, 0]


# ----------------------------------------------------------------------------- collator


def test_gathering_matches_word_ids(twitter_posts):
    posts = twitter_posts
    posts[0].tokens[1] = "\u00a0"  # a word the tokenizer reduces to nothing
    tok = make_tokenizer(posts)
    labels = label_set(("PER", "LOC", "ORG", "OTHER"))
    model = UMT(tiny_config(use_images=False), labels, tok).eval()
    batch = model.collator()(posts)
    words = [[tok.unk_token if t == "\u00a0" else t for t in p.tokens] for p in posts]
    enc = tok(words, is_split_into_words=True, truncation=True, max_length=64)
    assert any(len(enc.word_ids(i)) > len(p.tokens) + 2 for i, p in enumerate(posts))
    for i, p in enumerate(posts):
        ids = enc.word_ids(i)
        kept = sorted({w for w in ids if w is not None})
        assert kept == list(range(len(kept)))
        firsts = [ids.index(w) for w in kept]
        assert batch["word_index"][i, : len(kept)].tolist() == firsts
        assert batch["word_mask"][i].sum() == len(kept)
        want = [labels.index(t) for t in p.tags[: len(kept)]]
        assert batch["labels"][i, : len(kept)].tolist() == want
        assert batch["span_labels"][i, : len(kept)].tolist() == [
            "OBI".index(t[0]) for t in p.tags[: len(kept)]
        ]
    em, _, _ = model._word_scores(batch)
    with torch.no_grad():
        sub = model.scores(batch["input_ids"], batch["attention_mask"])["emissions"]
    torch.testing.assert_close(em[0, 3], sub[0, batch["word_index"][0, 3]])


def test_truncation_pads_predictions_with_o(cmner_posts):
    tok = make_tokenizer(cmner_posts)
    model = UMT(tiny_config(use_images=False, max_len=6), LABELS, tok).eval()
    batch = model.collator()(cmner_posts[:2])
    assert batch["input_ids"].shape[1] == 6 and batch["word_mask"].sum(1).tolist() == [4, 4]
    pred = model.decode(batch)
    assert [len(x) for x in pred] == [len(p.tokens) for p in cmner_posts[:2]]
    assert all(t == "O" for x in pred for t in x[4:])


def test_unknown_tag_names_post(cmner_posts):
    tok = make_tokenizer(cmner_posts)
    post = Post("W42", ["a", "b"], ["B-PER", "B-FOO"])
    with pytest.raises(ValueError, match="W42.*B-FOO"):
        UMTCollator(tok, LABELS)([post])


def test_images_and_masks(cmner_posts):
    tok = make_tokenizer(cmner_posts)
    collate = UMTCollator(tok, LABELS, 64, True, 49, 16)
    r = torch.randn(49, 16)
    batch = collate([(cmner_posts[0], r), (cmner_posts[1], None), (cmner_posts[2], r, False)])
    assert batch["image_mask"].tolist() == [[True] * 49, [False] * 49, [False] * 49]
    assert torch.equal(batch["regions"][0], r) and not batch["regions"][1:].any()
    with pytest.raises(ValueError, match="regions of shape"):
        collate([(cmner_posts[0], torch.zeros(49, 8))])


def test_no_image_is_a_learned_blank_image(cmner_posts):
    """A post without an image goes through the image path with a blank (all-zero) image: the
    same as a zero image seen in full, whatever the masked regions hold, and still trained."""
    torch.manual_seed(0)
    tok = make_tokenizer(cmner_posts)
    model = UMT(tiny_config(), LABELS, tok).eval()
    batch = model.collator()(cmner_posts[:3])  # no images
    ids, att = batch["input_ids"], batch["attention_mask"]
    off = torch.zeros(3, 49, dtype=torch.bool)
    with torch.no_grad():
        blank = model.scores(ids, att, batch["regions"], off)["emissions"]
        junk = model.scores(ids, att, torch.randn(3, 49, 16), off)["emissions"]
        zero_seen = model.scores(ids, att, torch.zeros(3, 49, 16), ~off)["emissions"]
        photo = model.scores(ids, att, torch.randn(3, 49, 16), ~off)["emissions"]
        mixed_mask = off.clone()
        mixed_mask[1] = True  # the second post has an image, the others not
        mixed = model.scores(ids, att, torch.randn(3, 49, 16), mixed_mask)["emissions"]
    assert torch.equal(blank, junk)  # masked regions are ignored
    torch.testing.assert_close(blank, zero_seen, atol=1e-5, rtol=0)  # = a blank image
    assert not torch.allclose(blank, photo, atol=1e-3)  # an image does change the scores
    assert torch.equal(mixed[[0, 2]], blank[[0, 2]])  # a neighbour's image changes nothing
    model.train()
    model.loss(batch).backward()  # the blank image is learned: the image modules get gradients
    assert model.vismap2text.bias.grad.abs().sum() > 0 and model.gate.weight.grad.abs().sum() > 0
    assert not model.vismap2text.weight.grad.any()  # ... but no region value reaches them


# ----------------------------------------------------------------------------- training


def test_frozen_layers_keep_their_values(cmner_posts):
    tok = make_tokenizer(cmner_posts)
    model = UMT(tiny_config(freeze_bottom_layers=1), LABELS, tok)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(
        n.startswith(("bert.embeddings.", "bert.encoder.layer.0.")) for n in frozen
    )
    assert any(
        n.startswith("bert.encoder.layer.1.")
        for n, p in model.named_parameters()
        if p.requires_grad
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    batch = model.collator()([(p, torch.randn(49, 16)) for p in cmner_posts[:4]])
    model.loss(batch).backward()
    opt.step()
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]) == (n in frozen), n


def _layer_outputs(model) -> dict[str, torch.Tensor]:
    """Records the output of the embeddings and of each encoder layer at every forward."""
    outs: dict[str, torch.Tensor] = {}

    def keep(name):
        return lambda m, a, o: outs.__setitem__(name, o[0] if isinstance(o, tuple) else o)

    model.bert.embeddings.register_forward_hook(keep("emb"))
    for i, layer in enumerate(model.bert.encoder.layer):
        layer.register_forward_hook(keep(f"layer{i}"))
    return outs


@pytest.mark.parametrize("budget", [0, 1])  # 1 MiB: most trainable layers recompute
def test_frozen_bottom_builds_no_graph(cmner_posts, budget):
    tok = make_tokenizer(cmner_posts)
    bert = {**TINY_BERT, "num_hidden_layers": 3}
    cfg = tiny_config(bert_config=bert, freeze_bottom_layers=2, activation_budget_mib=budget)
    model = UMT(cfg, LABELS, tok).train()
    outs = _layer_outputs(model)
    loss = model.loss(model.collator()([(p, torch.randn(49, 16)) for p in cmner_posts[:4]]))
    for name in ("emb", "layer0", "layer1"):  # frozen: no graph, so nothing stored for backward
        assert not outs[name].requires_grad and outs[name].grad_fn is None, name
    assert outs["layer2"].grad_fn is not None
    recomputing = [x.gradient_checkpointing for x in model._recomputable]
    assert any(recomputing) == bool(budget)
    loss.backward()
    for n, p in model.named_parameters():
        frozen = n.startswith(
            ("bert.embeddings.", "bert.encoder.layer.0.", "bert.encoder.layer.1.")
        )
        assert p.requires_grad != frozen, n
        assert (p.grad is None) == frozen, n
    assert model.bert.encoder.layer[2].attention.self.query.weight.grad.abs().sum() > 0


def test_recomputing_gives_the_same_gradients_and_stores_less(cmner_posts):
    tok = make_tokenizer(cmner_posts)
    batch = [(p, torch.randn(49, 16)) for p in cmner_posts]
    grads, stored = [], []
    for budget in (0, 1):
        torch.manual_seed(0)
        model = UMT(tiny_config(freeze_bottom_layers=1, activation_budget_mib=budget), LABELS, tok)
        model.train()
        sizes = []

        def pack(t, sizes=sizes):
            sizes.append(t.numel() * t.element_size())
            return t

        torch.manual_seed(1)  # the same dropout masks; a recomputed layer replays its own
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model.loss(model.collator()(batch))
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
        stored.append(sum(sizes))
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        torch.testing.assert_close(grads[1][n], grads[0][n], atol=1e-6, rtol=1e-5)
    assert stored[1] < 0.5 * stored[0]


def test_sdpa_and_eager_agree(cmner_posts):
    tok = make_tokenizer(cmner_posts)
    torch.manual_seed(0)
    sdpa = UMT(tiny_config(), LABELS, tok).eval()
    eager = UMT(tiny_config(attn_implementation="eager"), LABELS, tok).eval()
    eager.load_state_dict(sdpa.state_dict())
    assert eager.bert.config._attn_implementation == "eager"
    batch = sdpa.collator()([(p, torch.randn(49, 16)) for p in cmner_posts])
    batch["image_mask"][1] = False  # a post without an image: the masked cross-attention too
    with torch.no_grad():
        a, b = sdpa.scores(**_score_args(batch)), eager.scores(**_score_args(batch))
    mask = batch["attention_mask"].bool()
    for key in a:
        torch.testing.assert_close(a[key][mask], b[key][mask], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="attn_implementation"):
        UMTConfig(attn_implementation="flash")


def _score_args(batch):
    keys = ("input_ids", "attention_mask", "regions", "image_mask", "token_type_ids")
    return {k: batch[k] for k in keys if k in batch}


@pytest.mark.parametrize("use_images", [True, False])
def test_overfits_eight_real_posts(cmner_posts, use_images):
    torch.manual_seed(0)
    tok = make_tokenizer(cmner_posts)
    model = UMT(tiny_config(use_images=use_images), LABELS, tok)
    assert hasattr(model, "gate") == use_images
    regions = [torch.randn(49, 16) if i % 3 else None for i in range(len(cmner_posts))]
    batch = model.collator()(list(zip(cmner_posts, regions, strict=True)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        model.train()
        opt.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    pred = model.decode(batch)
    gold = [p.tags for p in cmner_posts]
    assert losses[-1] < 0.1 * losses[0]
    assert f1_score(gold, pred) == 1.0


def test_rebuild_from_config_labels_tokenizer_state(cmner_posts):
    tok = make_tokenizer(cmner_posts)
    model = UMT(tiny_config(), LABELS, tok).eval()
    saved = {"config": model.config.to_dict(), "labels": model.labels,
             "tokenizer": tokenizer_state(tok), "state": model.state_dict()}  # fmt: skip
    saved = json.loads(json.dumps({k: v for k, v in saved.items() if k != "state"})) | {
        "state": saved["state"]
    }
    again = UMT(UMTConfig.from_dict(saved["config"]), saved["labels"],
                tokenizer_from_state(saved["tokenizer"])).eval()  # fmt: skip
    again.load_state_dict(saved["state"])
    examples = [(p, torch.randn(49, 16)) for p in cmner_posts]
    b1, b2 = model.collator()(examples), again.collator()(examples)
    assert torch.equal(b1["input_ids"], b2["input_ids"])
    assert model.decode(b1) == again.decode(b2)
    with pytest.raises(ValueError, match="unknown UMTConfig keys"):
        UMTConfig.from_dict({"bert": "x", "hidden": 3})
