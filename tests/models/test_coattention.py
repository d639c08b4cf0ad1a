"""ACN's co-attention pinned to the equations of Zhang et al. (AAAI 2018), computed here.

The reference below uses the module's parameters but none of its helpers (no additive_scores,
no masked_softmax): one word, one region at a time, with plain torch ops in float64.
"""

from __future__ import annotations

import torch

from xmner.data.corpus import Post
from xmner.data.tags import label_set
from xmner.models.acn import ACN, ACNConfig, CoAttention
from xmner.models.vocab import build_char_vocab, build_vocab

H, R, D = 6, 4, 5


def reference(att: CoAttention, h, lengths, regions, has_image) -> list[torch.Tensor]:
    """u_t for the real words of each post, straight from the paper's equations."""
    out = []
    for b, n in enumerate(lengths):
        hb = h[b, :n]  # (n, H) BiLSTM states of the real words
        u_post = []
        # v_I = tanh(W_I r + b_I), one vector per region
        v = [torch.tanh(att.image.weight @ r + att.image.bias) for r in regions[b]]
        for t in range(n):
            # word-guided visual attention: e_j = w_alpha . tanh(W_h h_t + b + W_v v_j)
            q = att.vis_query.weight @ hb[t] + att.vis_query.bias
            e = torch.stack([att.vis_score @ torch.tanh(q + att.vis_key.weight @ vj) for vj in v])
            alpha = torch.exp(e) / torch.exp(e).sum()
            v_hat = sum(a * vj for a, vj in zip(alpha, v))
            # image-guided textual attention over the post's own words
            q = att.txt_query.weight @ v_hat + att.txt_query.bias
            z = torch.stack([att.txt_score @ torch.tanh(q + att.txt_key.weight @ hk) for hk in hb])
            beta = torch.exp(z) / torch.exp(z).sum()
            h_hat = sum(bk * hk for bk, hk in zip(beta, hb))
            # gated multimodal fusion
            hv = torch.tanh(att.fuse_vis.weight @ v_hat + att.fuse_vis.bias)
            hh = torch.tanh(att.fuse_txt.weight @ h_hat + att.fuse_txt.bias)
            g = torch.sigmoid(att.fuse_gate.weight @ torch.cat([hv, hh]))
            m = g * hv + (1 - g) * hh
            # filtration gate
            s = torch.sigmoid(att.filter_gate.weight @ torch.cat([hb[t], m]) + att.filter_gate.bias)
            u = s * torch.tanh(att.filter_value.weight @ m + att.filter_value.bias)
            u_post.append(u if has_image[b] else torch.zeros_like(u))
        out.append(torch.stack(u_post))
    return out


def _case(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    att = CoAttention(H, D).double().eval()
    lengths = [5, 3, 4]
    h = torch.randn(3, 5, H, generator=gen, dtype=torch.float64)
    mask = torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]
    regions = torch.randn(3, R, D, generator=gen, dtype=torch.float64)
    image_mask = torch.tensor([True, True, False])
    return att, h, mask, lengths, regions, image_mask


def test_coattention_equals_the_papers_equations():
    att, h, mask, lengths, regions, image_mask = _case()
    for chunk in (1, None):
        u, weights = att(h, mask, regions, image_mask, chunk)
        ref = reference(att, h, lengths, regions, image_mask)
        for b, n in enumerate(lengths):
            torch.testing.assert_close(u[b, :n], ref[b], rtol=0, atol=1e-6)
        assert weights["visual"].shape == (3, 5, R)


def _visual_context(att: CoAttention, *args) -> torch.Tensor:
    """v_hat (B, T, H), the input of the fusion's visual side, caught with a hook."""
    seen = []
    handle = att.fuse_vis.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0]))
    try:
        att(*args)
    finally:
        handle.remove()
    return seen[0]


def test_changing_one_region_changes_the_visual_context():
    att, h, mask, _, regions, image_mask = _case()
    before = _visual_context(att, h, mask, regions, image_mask)
    changed = regions.clone()
    changed[0, 2] += 1.0
    after = _visual_context(att, h, mask, changed, image_mask)
    assert (after[0] - before[0]).abs().amax(-1).min() > 1e-4  # every word of post 0
    torch.testing.assert_close(after[1:], before[1:], rtol=0, atol=0)  # other posts untouched


LABELS = label_set(("PER", "LOC"))


def _acn(posts, use_images: bool) -> ACN:
    torch.manual_seed(0)
    cfg = ACNConfig(word_dim=8, char_dim=4, char_filters=3, char_out=5, hidden=H, regions=R,
                    region_dim=D, dropout=0.0, use_images=use_images)  # fmt: skip
    return ACN(cfg, LABELS, build_vocab(posts), build_char_vocab(posts)).eval()


POSTS = [
    Post("a", ["Alice", "went", "to", "Paris", "today"], ["B-PER", "O", "O", "B-LOC", "O"]),
    Post("b", ["Bob", "stayed", "home"], ["B-PER", "O", "O"]),
]


def test_one_region_changes_the_emissions_of_a_post_with_an_image():
    model = _acn(POSTS, use_images=True)
    gen = torch.Generator().manual_seed(3)
    regions = torch.randn(R, D, generator=gen)
    batch = model.collator()([(POSTS[0], regions), (POSTS[1], None)])
    before, _ = model.encode(batch)
    batch["regions"][0, 1] += 1.0
    after, _ = model.encode(batch)
    assert (after[0] - before[0]).abs().amax(-1).min() > 1e-5  # every word of post 0
    assert torch.equal(after[1], before[1])


def test_post_without_image_has_exactly_the_text_only_emissions():
    model = _acn(POSTS, use_images=True)
    text_only = _acn(POSTS, use_images=False)
    missing = text_only.load_state_dict(model.state_dict(), strict=False)
    assert not missing.missing_keys  # every text-only parameter comes from the full model
    gen = torch.Generator().manual_seed(4)
    batch = model.collator()([(POSTS[0], torch.randn(R, D, generator=gen)), (POSTS[1], None)])
    n = len(POSTS[1].tokens)
    emissions, _ = model.encode(batch)
    for _ in range(3):  # whatever sits in the regions of a post without an image
        batch["regions"][1] = 10 * torch.randn(R, D, generator=gen)
        again, _ = model.encode(batch)
        assert torch.equal(again[1], emissions[1])
    # the same batch through a model without images: same numbers, bit for bit
    text, _ = text_only.encode(text_only.collator()(POSTS))
    assert torch.equal(emissions[1, :n], text[1, :n])
    assert not torch.allclose(emissions[0], text[0])  # the post with an image does differ
