"""UMT (Yu et al., ACL 2020): BERT, a span-aware auxiliary branch and a multimodal interaction
module, with a CRF over the main labels and one over the span labels.

Module names follow the authors' ``MTCCMBertForMMTokenClassificationCRF`` one to one
(``bert``, ``self_attention`` (span branch), ``self_attention_v2`` (main branch), ``vismap2text``,
``vismap2text_v2``, ``txt2img_attention``, ``img2txt_attention``, ``txt2txt_attention``, ``gate``,
``classifier``, ``aux_classifier``, ``crf``, ``aux_crf``), so ``import_authors_checkpoint`` maps
their weights onto ours. Scores are computed per sub-word, then the first sub-word of each word
(token for Twitter, character for CMNER) is gathered: the CRFs see words only, never ``[CLS]``,
``[SEP]`` or continuation pieces.

Letters: B batch, S sub-words, W words, R image regions (49), D region size (2048),
H hidden size, L labels, A span labels (O, B, I).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xmner.config import drop_legacy_keys
from xmner.data.corpus import Post
from xmner.models.crf import CRFHead

log = logging.getLogger(__name__)

SPAN_LABELS = ("O", "B", "I")
#: The authors' main label order (Twitter); index 0 is padding.
REFERENCE_LABELS = (
    "[pad]", "O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC",
    "X", "[CLS]", "[SEP]",
)  # fmt: skip
REFERENCE_SPAN_LABELS = ("[pad]", "O", "B", "I", "X", "[CLS]", "[SEP]")
_TYPE_ALIASES = {"OTHER": "MISC", "MISC": "OTHER"}
_MASKED = -10000.0  # the authors' additive mask value
#: Settings older checkpoints' configs hold but nothing read: the stage's (``StageConfig``) govern.
LEGACY_KEYS = ("lr", "warmup", "batch_size")


@dataclass
class UMTConfig:
    """Sizes and switches of UMT (JSON-serialisable).

    Optimiser, learning rate, warm-up and batch size are the training stage's (``StageConfig``).
    """

    bert: str = "bert-base-multilingual-cased"  # hub id or local dir
    bert_config: dict[str, Any] | None = None  # build a random encoder from this instead
    use_images: bool = True
    region_dim: int = 2048
    regions: int = 49
    max_len: int = 256  # sub-words, [CLS] and [SEP] included
    freeze_bottom_layers: int = 3  # embeddings + encoder layers 0..n-1 (mBERT in the paper)
    attn_implementation: str = "sdpa"  # sdpa (fused kernel) | eager (explicit softmax, as theirs)
    # Stored activations of a training batch, estimated: past this, the trainable layers recompute
    # theirs in backward (same gradients, more time); 0: never (docs/umt.md, "Memory").
    activation_budget_mib: int = 1536
    # Training on a CPU with glibc: activations of 4 MiB or more go back to the system when
    # freed instead of staying in the heap (peak 0.46 instead of 0.52 of the authors' regime,
    # docs/umt.md); 0: the allocator's own threshold. Set for the whole training process.
    cpu_mmap_threshold_mib: int = 4
    txt2img_layers: int = 1
    img2txt_layers: int = 1
    txt2txt_layers: int = 1
    alpha: float = 0.5  # weight of the main classifier against the converted span scores
    beta: float = 0.5  # weight of the auxiliary span CRF loss

    def __post_init__(self) -> None:
        if self.max_len < 3:
            raise ValueError(f"max_len must be >= 3 (room for [CLS] w [SEP]), got {self.max_len}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        for name in ("txt2img_layers", "img2txt_layers", "txt2txt_layers", "regions"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.freeze_bottom_layers < 0:
            raise ValueError(f"freeze_bottom_layers must be >= 0, got {self.freeze_bottom_layers}")
        if self.attn_implementation not in ("sdpa", "eager"):
            raise ValueError(
                f"attn_implementation must be sdpa or eager, got {self.attn_implementation!r}"
            )
        if self.cpu_mmap_threshold_mib < 0:
            raise ValueError(
                f"cpu_mmap_threshold_mib must be >= 0, got {self.cpu_mmap_threshold_mib}"
            )
        if self.activation_budget_mib < 0:
            raise ValueError(
                f"activation_budget_mib must be >= 0, got {self.activation_budget_mib}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UMTConfig:
        """Rebuild from ``to_dict``; unknown keys are an error, except keys of older versions
        (``LEGACY_KEYS``), which are dropped with a log line."""
        d = drop_legacy_keys(d, LEGACY_KEYS, "UMTConfig")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown UMTConfig keys {unknown}; expected some of {sorted(known)}")
        return cls(**d)


# ----------------------------------------------------------------------------- layers


class _QKV(nn.Module):
    """Multi-head attention core: queries from one sequence, keys/values from another."""

    def __init__(self, cfg, eager: bool = False):
        super().__init__()
        self.eager = eager
        self.heads = cfg.num_attention_heads
        if cfg.hidden_size % self.heads:
            raise ValueError(f"hidden size {cfg.hidden_size} not divisible by {self.heads} heads")
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.p = cfg.attention_probs_dropout_prob

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        q = self.query(x).view(b, t, self.heads, -1).transpose(1, 2)  # (B, heads, T, h)
        k = self.key(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        v = self.value(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        p = self.p if self.training else 0.0
        if self.eager:  # the authors' arithmetic: scores, softmax, dropout, weighted sum
            scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + bias.to(q.dtype)
            out = F.dropout(scores.softmax(-1), p) @ v  # (B, heads, T, h)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=p)
        return out.transpose(1, 2).reshape(b, t, h)


class _Attention(nn.Module):
    def __init__(self, cfg, eager: bool):
        from transformers.models.bert.modeling_bert import BertSelfOutput

        super().__init__()
        self.self = _QKV(cfg, eager)
        self.output = BertSelfOutput(cfg)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, ctx, bias), x)


class _Layer(nn.Module):
    """A BERT layer whose attention reads keys/values from ``ctx`` (self-attention: ``x``)."""

    #: recompute this layer's activations in backward instead of storing them (set per batch)
    gradient_checkpointing = False

    def __init__(self, cfg, eager: bool):
        from transformers.models.bert.modeling_bert import BertIntermediate, BertOutput

        super().__init__()
        self.attention = _Attention(cfg, eager)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        a = self.attention(x, ctx, bias)
        return self.output(self.intermediate(a), a)


class _Stack(nn.Module):
    """``n`` layers; queries are updated, the context stays fixed (the authors' cross encoder)."""

    def __init__(self, cfg, n: int, eager: bool = False):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(cfg, eager) for _ in range(n))

    def forward(
        self, x: torch.Tensor, ctx: torch.Tensor | None, bias: torch.Tensor
    ) -> torch.Tensor:
        from torch.utils.checkpoint import checkpoint

        for layer in self.layer:
            c = x if ctx is None else ctx
            if layer.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(layer, x, c, bias, use_reentrant=False)  # same dropout masks
            else:
                x = layer(x, c, bias)
        return x


def _bias(mask: torch.Tensor) -> torch.Tensor:
    """Additive attention bias (B, 1, 1, S) from a (B, S) mask: 0 on, -10000 off."""
    return (1.0 - mask[:, None, None, :].float()) * _MASKED


# ----------------------------------------------------------------------------- labels


def check_labels(labels: list[str]) -> int:
    """Validate a BIO label list with ``O``; return the number of entity types."""
    if "O" not in labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be unique and contain 'O', got {labels}")
    bad = [x for x in labels if x != "O" and (x[:2] not in ("B-", "I-") or len(x) < 3)]
    if bad:
        raise ValueError(f"labels must be 'O', 'B-T' or 'I-T'; got {bad}")
    return sum(x.startswith("B-") for x in labels)


def conversion_matrix(labels: list[str]) -> torch.Tensor:
    """(A, L) map from span scores O/B/I to labels: O->O, B->each B-type 1/k, I likewise."""
    m = torch.zeros(len(SPAN_LABELS), len(labels))
    for row, prefix in enumerate(SPAN_LABELS):
        cols = [
            j
            for j, x in enumerate(labels)
            if (x == "O" if prefix == "O" else x[:2] == prefix + "-")
        ]
        for j in cols:
            m[row, j] = 1.0 / len(cols)
    return m


# ----------------------------------------------------------------------------- model


def build_encoder(config: UMTConfig) -> nn.Module:
    """The BERT encoder: random from ``bert_config`` or pretrained from ``bert`` (hub id or dir),
    with ``config.attn_implementation``'s attention kernel."""
    from transformers import AutoConfig, AutoModel

    kw = {"add_pooling_layer": False, "attn_implementation": config.attn_implementation}
    if config.bert_config is not None:
        d = dict(config.bert_config)
        cfg = AutoConfig.for_model(d.pop("model_type", "bert"), **d)
        return AutoModel.from_config(cfg, **kw)
    return AutoModel.from_pretrained(config.bert, **kw)


def _init_like_bert(module: nn.Module, std: float) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=std)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class UMT(nn.Module):
    """Unified multimodal transformer with a CRF over word-level labels."""

    def __init__(self, config: UMTConfig, labels: list[str], tokenizer: Any = None):
        super().__init__()
        self.labels = list(labels)
        types = check_labels(self.labels)
        self.tokenizer = tokenizer
        self.bert = build_encoder(config)
        cfg = self.bert.config
        # Record the encoder's shape so a checkpoint rebuilds without the hub.
        bert_config = json.loads(cfg.to_json_string())
        self.config = dataclasses.replace(config, bert_config=bert_config)
        if tokenizer is not None and len(tokenizer) > cfg.vocab_size:
            raise ValueError(f"tokenizer has {len(tokenizer)} entries, encoder {cfg.vocab_size}")
        h, d, n = cfg.hidden_size, config.region_dim, len(self.labels)
        eager = config.attn_implementation == "eager"
        self.self_attention = _Stack(cfg, 1, eager)  # span branch
        self.self_attention_v2 = _Stack(cfg, 1, eager)  # main branch
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
        if config.use_images:
            self.vismap2text = nn.Linear(d, h)
            self.vismap2text_v2 = nn.Linear(d, h)
            self.txt2img_attention = _Stack(cfg, config.txt2img_layers, eager)
            self.img2txt_attention = _Stack(cfg, config.img2txt_layers, eager)
            self.txt2txt_attention = _Stack(cfg, config.txt2txt_layers, eager)
            self.gate = nn.Linear(2 * h, h)
        self.classifier = nn.Linear(2 * h if config.use_images else h, n)
        self.aux_classifier = nn.Linear(h, len(SPAN_LABELS))
        for name, child in self.named_children():
            if name not in ("bert", "crf", "aux_crf"):
                _init_like_bert(child, cfg.initializer_range)
        self.crf = CRFHead(n)
        self.aux_crf = CRFHead(len(SPAN_LABELS))
        self.register_buffer("trans_matrix", conversion_matrix(self.labels), persistent=False)
        self._freeze(config.freeze_bottom_layers)
        self._recomputable = self._recomputable_layers()
        log.debug("UMT with %d labels (%d types), %s", n, types, self.config)

    def _freeze(self, n: int) -> None:
        layers = self.bert.encoder.layer
        if n > len(layers):
            raise ValueError(f"freeze_bottom_layers={n} but the encoder has {len(layers)} layers")
        if n > 0:
            # Nothing below layer n then requires grad, so autograd records no graph there and
            # stores none of its activations (tested): no torch.no_grad() split of BERT needed.
            for module in [self.bert.embeddings, *layers[:n]]:
                module.requires_grad_(False)

    def _recomputable_layers(self) -> list[nn.Module]:
        """The trainable layers, bottom to top, each with a ``gradient_checkpointing`` switch."""
        if not self.config.activation_budget_mib:
            return []
        if not getattr(self.bert, "supports_gradient_checkpointing", False):
            log.warning("%s cannot recompute activations: activation_budget_mib ignored",
                        type(self.bert).__name__)  # fmt: skip
            return []
        enable = getattr(self.bert, "activation_checkpointing_enable", None)
        enable = enable or self.bert.gradient_checkpointing_enable  # transformers < 5.2x
        enable({"use_reentrant": False})  # installs the checkpoint function; switched per batch
        # enabling also hooks the embeddings' output to require grad (for adapters); that would
        # record a graph, and store activations, through the frozen bottom: remove the hook
        self.bert.disable_input_require_grads()
        self.bert.config.use_cache = False  # an encoder keeps no cache; silences a warning
        top = list(self.bert.encoder.layer[self.config.freeze_bottom_layers :])
        heads = [m for m in self.modules() if isinstance(m, _Layer)]
        for layer in self.bert.encoder.layer:
            layer.gradient_checkpointing = False
        return top + heads

    def _plan_recompute(self, batch: int, length: int) -> int:
        """Switch recomputing on for as many trainable layers as keep a training batch of
        ``batch`` x ``length`` sub-words within the activation budget; returns how many."""
        n = 0
        if self._recomputable and self.training and torch.is_grad_enabled():
            c = self.bert.config
            # bytes a BERT layer stores per sub-word in training (fp32): about 12 hidden-sized
            # and 2 intermediate-sized tensors, and per head the softmax output, its dropout
            # mask and the dropped probabilities (measured within 10 % at 768 x 3072 x 12)
            per = (
                4 * (12 * c.hidden_size + 2 * c.intermediate_size)
                + 9 * c.num_attention_heads * length
            )
            stored = self.config.activation_budget_mib * 2**20 // (batch * length * per)
            n = max(0, len(self._recomputable) - int(stored))
        for i, layer in enumerate(self._recomputable):
            layer.gradient_checkpointing = i < n
        return n

    def init_state(self) -> dict[str, Any]:
        """Labels and tokenizer files: with the config, what rebuilds this model (checkpoints)."""
        tok = tokenizer_state(self.tokenizer) if self.tokenizer is not None else None
        return {"labels": self.labels, "tokenizer": tok}

    @classmethod
    def rebuild(cls, config: UMTConfig, init: Mapping[str, Any]) -> UMT:
        """An untrained UMT shaped by ``config`` (its recorded ``bert_config``: no hub access)."""
        tok = tokenizer_from_state(init["tokenizer"]) if init.get("tokenizer") else None
        return cls(config, list(init["labels"]), tok)

    def collator(self) -> UMTCollator:
        """The collator matching this model's labels, tokenizer and image settings."""
        if self.tokenizer is None:
            raise ValueError(
                "this UMT has no tokenizer; pass one to UMT(config, labels, tokenizer)"
            )
        c = self.config
        return UMTCollator(
            self.tokenizer, self.labels, c.max_len, c.use_images, c.regions, c.region_dim
        )

    def scores(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        regions: torch.Tensor | None = None,
        image_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Sub-word scores: ``emissions`` and ``classifier`` (B, S, L), ``aux_emissions`` (B, S, A).

        ``regions`` (B, R, D) and ``image_mask`` (B, R) are required when ``use_images``.
        """
        self._plan_recompute(*input_ids.shape)
        seq = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state  # (B, S, H)
        seq = self.dropout(seq)
        txt_bias = _bias(attention_mask)  # (B, 1, 1, S)
        aux = self.aux_classifier(self.self_attention(seq, None, txt_bias))  # (B, S, A)
        main = self.self_attention_v2(seq, None, txt_bias)  # (B, S, H)
        if self.config.use_images:
            if regions is None or image_mask is None:
                raise ValueError("use_images=True needs regions (B, R, D) and image_mask (B, R)")
            # A post without an image (mask all off) sees a blank image. The zeroing does it: 49
            # equal rows get equal scores, so attention is uniform and the image side is a learned
            # constant; the -10000 shared by all its scores cancels in the softmax (docs/umt.md).
            regions = regions * image_mask[..., None].to(regions.dtype)
            img_bias = _bias(image_mask)  # (B, 1, 1, R)
            vis = self.vismap2text(regions)  # (B, R, H)
            txt_img = self.txt2img_attention(main, vis, img_bias)  # (B, S, H)
            vis_v2 = self.vismap2text_v2(regions)  # (B, R, H)
            img_txt = self.img2txt_attention(vis_v2, main, txt_bias)  # (B, R, H)
            txt_txt = self.txt2txt_attention(main, img_txt, img_bias)  # (B, S, H)
            gate = torch.sigmoid(self.gate(torch.cat([txt_txt, txt_img], dim=-1)))  # (B, S, H)
            main = torch.cat([txt_txt, gate * txt_img], dim=-1)  # (B, S, 2H)
        classifier = self.classifier(main)  # (B, S, L)
        a = self.config.alpha
        emissions = a * classifier + (1 - a) * aux @ self.trans_matrix.to(aux.dtype)
        return {"emissions": emissions, "classifier": classifier, "aux_emissions": aux}

    def _word_scores(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        dev = self.trans_matrix.device
        b = {k: v.to(dev) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        out = self.scores(
            b["input_ids"], b["attention_mask"], b.get("regions"), b.get("image_mask"),
            b.get("token_type_ids"),
        )  # fmt: skip
        idx = b["word_index"]  # (B, W)
        em = out["emissions"].gather(1, idx[..., None].expand(-1, -1, len(self.labels)))
        aux = out["aux_emissions"].gather(1, idx[..., None].expand(-1, -1, len(SPAN_LABELS)))
        return em, aux, b  # (B, W, L), (B, W, A)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Main emissions gathered at each word's first sub-word (B, W, L), as the CRF sees them."""
        return self._word_scores(batch)[0]

    def loss(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Main CRF NLL + beta * span CRF NLL, each averaged over the batch."""
        em, aux, b = self._word_scores(batch)
        main = self.crf.nll(em, b["labels"], b["word_mask"])
        return main + self.config.beta * self.aux_crf.nll(aux, b["span_labels"], b["word_mask"])

    @torch.no_grad()
    def decode(self, batch: Mapping[str, torch.Tensor]) -> list[list[str]]:
        """Best label sequence per post, at full post length (a truncated tail gets ``O``)."""
        em, _, b = self._word_scores(batch)
        paths = self.crf.decode(em, b["word_mask"])
        out = []
        for path, n in zip(paths, batch["lengths"].tolist(), strict=True):
            tags = [self.labels[i] for i in path][:n]
            out.append(tags + ["O"] * (n - len(tags)))
        return out


# ----------------------------------------------------------------------------- collator


@dataclass
class UMTCollator:
    """Builds padded UMT batches from ``(post, regions)`` or ``(post, regions, has_image)``.

    ``regions`` is a (R, D) tensor or ``None`` (no image: zero regions, mask off). A plain
    ``Post`` is accepted too (no image). Words are tokenised pretokenised; a word the tokenizer
    reduces to nothing (e.g. U+00A0) is replaced by the unknown token so that every word keeps
    a first sub-word.
    """

    tokenizer: Any
    labels: list[str]
    max_len: int = 256
    use_images: bool = True
    regions: int = 49
    region_dim: int = 2048
    _empty: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        check_labels(list(self.labels))
        self._index = {x: i for i, x in enumerate(self.labels)}
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError("UMTCollator needs a fast tokenizer (word_ids())")

    def _words(self, tokens: list[str]) -> list[str]:
        new = [t for t in set(tokens) if t not in self._empty]
        if new:
            ids = self.tokenizer(new, add_special_tokens=False)["input_ids"]
            self._empty.update((t, not i) for t, i in zip(new, ids, strict=True))
        return [self.tokenizer.unk_token if self._empty[t] else t for t in tokens]

    def _label_ids(self, post: Post) -> tuple[list[int], list[int]]:
        try:
            ids = [self._index[t] for t in post.tags]
        except KeyError as e:
            raise ValueError(
                f"post {post.id}: tag {e.args[0]!r} is not one of the model's labels {self.labels}"
            ) from None
        return ids, [SPAN_LABELS.index(t[0]) for t in post.tags]

    def __call__(self, examples: list[Any]) -> dict[str, torch.Tensor]:
        items = [
            (e, None, None) if isinstance(e, Post) else (tuple(e) + (None,))[:3] for e in examples
        ]
        posts = [p for p, _, _ in items]
        enc = self.tokenizer(
            [self._words(p.tokens) for p in posts], is_split_into_words=True, truncation=True,
            max_length=self.max_len, padding=True, return_tensors="pt",
        )  # fmt: skip
        firsts = []
        for i in range(len(posts)):
            first: dict[int, int] = {}
            for pos, w in enumerate(enc.word_ids(i)):
                if w is not None and w not in first:
                    first[w] = pos
            firsts.append([first[w] for w in range(len(first))])
        n_words = max([1, *(len(f) for f in firsts)])
        bsz = len(posts)
        word_index = torch.zeros(bsz, n_words, dtype=torch.long)
        word_mask = torch.zeros(bsz, n_words, dtype=torch.bool)
        labels = torch.full((bsz, n_words), self._index["O"], dtype=torch.long)
        span_labels = torch.zeros(bsz, n_words, dtype=torch.long)
        for i, (post, first) in enumerate(zip(posts, firsts, strict=True)):
            ids, spans = self._label_ids(post)
            k = len(first)
            word_index[i, :k] = torch.tensor(first, dtype=torch.long)
            word_mask[i, : max(k, 1)] = True  # an empty post keeps one dummy step for the CRF
            labels[i, :k] = torch.tensor(ids[:k], dtype=torch.long)
            span_labels[i, :k] = torch.tensor(spans[:k], dtype=torch.long)
        batch = {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "word_index": word_index,
            "word_mask": word_mask,
            "labels": labels,
            "span_labels": span_labels,
            "lengths": torch.tensor([len(p.tokens) for p in posts], dtype=torch.long),
        }
        if "token_type_ids" in enc:
            batch["token_type_ids"] = enc["token_type_ids"]
        if self.use_images:
            batch["regions"], batch["image_mask"] = self._images(items)
        return batch

    def _images(self, items: list[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
        regions = torch.zeros(len(items), self.regions, self.region_dim)
        mask = torch.zeros(len(items), self.regions, dtype=torch.bool)
        for i, (post, r, has_image) in enumerate(items):
            if r is None or has_image is False:
                continue
            if tuple(r.shape) != (self.regions, self.region_dim):
                raise ValueError(
                    f"post {post.id}: regions of shape {tuple(r.shape)}, "
                    f"expected ({self.regions}, {self.region_dim})"
                )
            regions[i] = r
            mask[i] = True
        return regions, mask


# ----------------------------------------------------------------------------- checkpoints


def load_tokenizer(name_or_path: str | Path) -> Any:
    """A fast tokenizer from a hub id or a local directory."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(name_or_path))


def tokenizer_state(tokenizer: Any) -> dict[str, str | bytes]:
    """The tokenizer's saved files as {file name: text (or bytes)}, for a ``weights_only`` load."""
    state: dict[str, str | bytes] = {}
    with tempfile.TemporaryDirectory() as d:
        tokenizer.save_pretrained(d)
        for p in sorted(Path(d).iterdir()):
            data = p.read_bytes()
            try:
                state[p.name] = data.decode("utf-8")
            except UnicodeDecodeError:  # e.g. a sentencepiece model
                state[p.name] = data
    return state


def tokenizer_from_state(state: Mapping[str, str | bytes]) -> Any:
    """Rebuild a tokenizer from ``tokenizer_state``'s output."""
    with tempfile.TemporaryDirectory() as d:
        for name, data in state.items():
            if "/" in name or "\\" in name or name.startswith("."):
                raise ValueError(f"bad tokenizer file name {name!r} in checkpoint")
            blob = data.encode("utf-8") if isinstance(data, str) else data
            (Path(d) / name).write_bytes(blob)
        return load_tokenizer(d)


def import_authors_checkpoint(
    model: UMT,
    state: Mapping[str, torch.Tensor] | str | Path,
    reference_labels: list[str] | tuple[str, ...] = REFERENCE_LABELS,
    reference_span_labels: list[str] | tuple[str, ...] = REFERENCE_SPAN_LABELS,
) -> None:
    """Load a state_dict saved by the authors' UMT code into ``model``, in place.

    ``state`` is the dict or a ``.safetensors`` / ``.bin`` file. Their classifier and CRF rows
    for padding, ``X``, ``[CLS]`` and ``[SEP]`` are dropped; the rows of ``model.labels`` are
    kept, matched by name (``OTHER`` and ``MISC`` are taken as one type). Their CRFs run over
    ``[CLS] .. [SEP]``; ours over words, so the start and end scores fold in the transitions
    from ``[CLS]`` and to ``[SEP]`` (see ``_word_level_crf``).
    """
    if not model.config.use_images:
        raise ValueError("the authors' UMT is multimodal: build the model with use_images=True")
    if not isinstance(state, Mapping):
        state = _read_state(Path(state))
    rows = _rows(model.labels, list(reference_labels))
    span_rows = _rows(list(SPAN_LABELS), list(reference_span_labels))
    references = {"crf": list(reference_labels), "aux_crf": list(reference_span_labels)}
    crfs: dict[str, dict[str, torch.Tensor]] = {"crf": {}, "aux_crf": {}}
    ours: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        name = name.removeprefix("module.")
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
            "LayerNorm.beta", "LayerNorm.bias"
        )
        if name.startswith(("bert.pooler.", "bert.embeddings.position_ids")):
            continue
        head, _, leaf = name.partition(".")
        if head in ("classifier", "aux_classifier"):
            value = value[rows if head == "classifier" else span_rows]
        elif head in ("crf", "aux_crf"):
            crfs[head][leaf] = value
            continue
        ours[name] = value
    for head, r in (("crf", rows), ("aux_crf", span_rows)):
        if crfs[head]:
            word_crf = _word_level_crf(crfs[head], r, references[head], head)
            ours.update({f"{head}.crf.{leaf}": v for leaf, v in word_crf.items()})
    missing, unexpected = model.load_state_dict(ours, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint does not match UMT: missing {missing[:8]}, unexpected {unexpected[:8]}"
        )


def _word_level_crf(
    crf: Mapping[str, torch.Tensor], rows: list[int], reference: list[str], head: str
) -> dict[str, torch.Tensor]:
    """The authors' CRF over ``[CLS] w1 .. wn [SEP]`` as a CRF over the words' labels ``rows``.

    A real label never starts or ends their sequences, so the start score of label j is
    ``start[CLS] + trans[CLS, j]`` and its end score ``trans[j, SEP] + end[SEP]``; with one
    sub-word per word both CRFs then rank every label path alike.
    """
    leaves = ("transitions", "start_transitions", "end_transitions")
    if sorted(crf) != sorted(leaves):
        raise ValueError(f"checkpoint's {head} holds {sorted(crf)}, expected {list(leaves)}")
    if "[CLS]" not in reference or "[SEP]" not in reference:
        raise ValueError(f"the checkpoint's labels {reference} lack '[CLS]' or '[SEP]'")
    trans, cls, sep = crf["transitions"], reference.index("[CLS]"), reference.index("[SEP]")
    return {
        "transitions": trans[rows][:, rows],
        "start_transitions": crf["start_transitions"][cls] + trans[cls, rows],
        "end_transitions": trans[rows, sep] + crf["end_transitions"][sep],
    }


def _rows(labels: list[str], reference: list[str]) -> list[int]:
    index = {x: i for i, x in enumerate(reference)}
    rows = []
    for x in labels:
        alias = x[:2] + _TYPE_ALIASES.get(x[2:], x[2:]) if x != "O" else x
        if x not in index and alias not in index:
            raise ValueError(f"label {x!r} is not in the checkpoint's labels {reference}")
        rows.append(index.get(x, index.get(alias)))
    return rows


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)
