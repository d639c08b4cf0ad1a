"""ACN: the adaptive co-attention network of Zhang et al. (AAAI 2018) for multimodal NER.

Word embedding + char-CNN -> BiLSTM (padded: ``models/bilstm.py``) -> word-guided visual
attention -> image-guided textual attention -> gated multimodal fusion -> filtration gate ->
linear -> CRF.

Letters: B batch, T tokens (words; characters for Chinese), C characters per token,
R image regions, D region feature size, E word embedding size, H BiLSTM output size (both
directions), A attention size (= H), L labels.

Attention follows the paper: the query and the keys are summed inside the tanh,
``score(i, j) = w . tanh(W_q q_i + W_k k_j)``, so each word gets its own visual attention.
The score bias of the paper (``b_alpha``) is dropped: a constant added to every score cancels
in the softmax. Padding words, and the regions of a post without an image, get zero weight.
A post without an image is tagged from its text alone: its multimodal feature is zeroed, so
its emissions are exactly those of the text branch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xmner.config import drop_legacy_keys
from xmner.data.corpus import Post
from xmner.models.attention import additive_scores, masked_softmax, ragged_additive_scores
from xmner.models.bilstm import bilstm
from xmner.models.clusters import token_cluster
from xmner.models.crf import CRFHead
from xmner.models.segment import SEG_TAGS, segment_tags
from xmner.models.vocab import (
    PAD_ID,
    UNK_ID,
    build_char_vocab,
    build_vocab,
    check_vocab,
    load_embeddings,
    token_bigrams,
)

log = logging.getLogger(__name__)


#: Settings older checkpoints' configs hold but nothing read: the stage's (``StageConfig``) govern.
LEGACY_KEYS = ("lr", "finetune_lr", "batch_size")


@dataclass
class ACNConfig:
    """ACN sizes and switches (the paper's, with 300-d embeddings for CMNER).

    Optimiser, learning rate and batch size are the training stage's (``StageConfig``).
    """

    word_dim: int = 300
    bigram_dim: int = 0  # > 0: add a trained embedding of each token joined to the next
    seg_dim: int = 0  # > 0: add an embedding of the token's place in its jieba word (B/M/E/S)
    cluster_dim: int = 0  # > 0: add an embedding of the token's English Brown cluster
    word_dropout: float = 0.0  # training only: share of words read as <unk> (teaches <unk>)
    use_chars: bool = True
    char_dim: int = 30
    char_filters: int = 32
    char_kernels: tuple[int, ...] = (2, 3, 4)
    char_out: int = 50
    max_word_chars: int = 20
    hidden: int = 200  # BiLSTM output, both directions together
    use_images: bool = True
    regions: int = 49  # 7 x 7
    region_dim: int = 512  # 512 for VGG-16 pool5, 2048 for ResNet
    max_len: int = 250
    dropout: float = 0.5
    freeze_embeddings: bool = True  # applies to a given pretrained matrix only
    # Training on a CPU with glibc: blocks of 4 MiB or more go back to the system when freed
    # instead of staying in the heap (docs/models.md, "Memory"); 0: the allocator's own
    # threshold. Set for the whole training process; the numbers do not change.
    cpu_mmap_threshold_mib: int = 4

    def __post_init__(self) -> None:
        self.char_kernels = tuple(int(k) for k in self.char_kernels)
        if self.cpu_mmap_threshold_mib < 0:
            raise ValueError(
                f"cpu_mmap_threshold_mib must be >= 0, got {self.cpu_mmap_threshold_mib}"
            )
        if self.hidden % 2:
            raise ValueError(f"hidden must be even (two LSTM directions), got {self.hidden}")
        for name in ("word_dim", "hidden", "max_len", "regions", "region_dim", "max_word_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        d = asdict(self)
        d["char_kernels"] = list(self.char_kernels)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ACNConfig:
        """Rebuild from ``to_dict``; unknown keys are an error, except keys of older versions
        (``LEGACY_KEYS``), which are dropped with a log line."""
        d = drop_legacy_keys(d, LEGACY_KEYS, "ACNConfig")
        unknown = sorted(set(d) - set(_names(cls)))
        if unknown:
            raise ValueError(f"unknown ACNConfig keys {unknown}; expected some of {_names(cls)}")
        return cls(**d)


def _names(cls: type) -> list[str]:
    return sorted(f.name for f in fields(cls))


class CharCNN(nn.Module):
    """Character embeddings -> convolutions of several widths -> max over windows -> linear."""

    def __init__(self, n_chars: int, cfg: ACNConfig):
        super().__init__()
        self.emb = nn.Embedding(n_chars, cfg.char_dim, padding_idx=PAD_ID)
        nn.init.uniform_(self.emb.weight, -0.25, 0.25)
        with torch.no_grad():
            self.emb.weight[PAD_ID].zero_()
        self.kernels = cfg.char_kernels
        self.convs = nn.ModuleList(
            nn.Conv1d(cfg.char_dim, cfg.char_filters, k, padding=k - 1) for k in self.kernels
        )
        self.proj = nn.Linear(cfg.char_filters * len(self.kernels), cfg.char_out)

    def forward(self, chars: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        """chars (B, T, C), word_mask (B, T) -> (B, T, char_out); zeros at padding words."""
        flat = chars[word_mask]  # (N, C) real words only
        n = (flat != PAD_ID).sum(1).clamp(min=1)  # (N,)
        x = self.emb(flat).transpose(1, 2)  # (N, char_dim, C)
        pooled = []
        for conv, k in zip(self.convs, self.kernels, strict=True):
            y = conv(x)  # (N, F, C + k - 1)
            # only windows holding at least one real character compete in the max
            valid = torch.arange(y.shape[-1], device=y.device) < (n + k - 1).unsqueeze(1)
            pooled.append(y.masked_fill(~valid.unsqueeze(1), torch.finfo(y.dtype).min).amax(-1))
        feats = self.proj(torch.cat(pooled, dim=-1))  # (N, char_out)
        out = feats.new_zeros(*word_mask.shape, feats.shape[-1])  # (B, T, char_out)
        out[word_mask] = feats
        return out


class CoAttention(nn.Module):
    """Word-guided visual attention, image-guided textual attention, gated fusion, filtration."""

    def __init__(self, hidden: int, region_dim: int):
        super().__init__()
        h = hidden
        self.image = nn.Linear(region_dim, h)  # v_I = tanh(W_I r + b_I)
        self.vis_query = nn.Linear(h, h)  # W_{h_t} h_t + b_{h_t}
        self.vis_key = nn.Linear(h, h, bias=False)  # W_{v_I} v_I
        self.vis_score = nn.Parameter(torch.empty(h))  # W_{alpha_t}
        self.txt_query = nn.Linear(h, h)  # W_{x,v_t} v_t + b
        self.txt_key = nn.Linear(h, h, bias=False)  # W_x x
        self.txt_score = nn.Parameter(torch.empty(h))  # W_{beta_t}
        self.fuse_vis = nn.Linear(h, h)  # h_{v_t} = tanh(W v_t + b)
        self.fuse_txt = nn.Linear(h, h)  # h_{h_t} = tanh(W h_t' + b)
        self.fuse_gate = nn.Linear(2 * h, h, bias=False)  # g_t = sigmoid(W_g [h_v; h_h])
        self.filter_gate = nn.Linear(2 * h, h)  # s_t = sigmoid(W h_t + W m_t + b)
        self.filter_value = nn.Linear(h, h)  # u_t = s_t * tanh(W m_t + b)
        bound = h**-0.5
        nn.init.uniform_(self.vis_score, -bound, bound)
        nn.init.uniform_(self.txt_score, -bound, bound)

    def forward(
        self,
        h: torch.Tensor,
        mask: torch.Tensor,
        regions: torch.Tensor,
        image_mask: torch.Tensor,
        chunk: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """h (B, T, H), mask (B, T), regions (B, R, D), image_mask (B,) -> u (B, T, H), weights."""
        v = torch.tanh(self.image(regions))  # (B, R, H)
        region_mask = image_mask[:, None, None].expand(-1, 1, v.shape[1])  # (B, 1, R)
        vis = additive_scores(self.vis_query(h), self.vis_key(v), self.vis_score, chunk)
        alpha = masked_softmax(vis, region_mask)  # (B, T, R)
        v_hat = alpha @ v  # (B, T, H)
        lengths = mask.sum(1)  # (B,)
        txt = ragged_additive_scores(
            self.txt_query(v_hat), self.txt_key(h), self.txt_score, lengths, chunk
        )  # (B, T, T)
        beta = masked_softmax(txt, mask[:, None, :])  # (B, T, T)
        h_hat = beta @ h  # (B, T, H)
        hv = torch.tanh(self.fuse_vis(v_hat))  # (B, T, H)
        hh = torch.tanh(self.fuse_txt(h_hat))  # (B, T, H)
        g = torch.sigmoid(self.fuse_gate(torch.cat([hv, hh], dim=-1)))  # (B, T, H)
        m = g * hv + (1 - g) * hh  # (B, T, H)
        s = torch.sigmoid(self.filter_gate(torch.cat([h, m], dim=-1)))  # (B, T, H)
        u = s * torch.tanh(self.filter_value(m))  # (B, T, H)
        u = u * image_mask[:, None, None]  # a post without an image keeps its text alone
        return u, {"visual": alpha, "textual": beta}


class ACN(nn.Module):
    """Adaptive co-attention network with a CRF; ``use_images=False`` gives BiLSTM-CNN-CRF."""

    def __init__(
        self,
        config: ACNConfig,
        labels: list[str],
        words: list[str],
        chars: list[str],
        embeddings: torch.Tensor | None = None,
        bigrams: list[str] | None = None,
        clusters: list[str] | None = None,
    ):
        super().__init__()
        check_vocab(words, "word vocabulary")
        check_vocab(chars, "character vocabulary")
        if bool(config.bigram_dim) != (bigrams is not None):
            raise ValueError("give a bigram vocabulary exactly when config.bigram_dim > 0")
        if bigrams is not None:
            check_vocab(bigrams, "bigram vocabulary")
        if bool(config.cluster_dim) != (clusters is not None):
            raise ValueError("give a cluster vocabulary exactly when config.cluster_dim > 0")
        if clusters is not None:
            check_vocab(clusters, "cluster vocabulary")
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError(f"labels must be unique and non-empty, got {labels}")
        self.config, self.labels, self.words, self.chars = config, list(labels), words, chars
        self.pretrained = embeddings is not None
        self.word_emb = nn.Embedding(len(words), config.word_dim, padding_idx=PAD_ID)
        with torch.no_grad():
            if embeddings is None:
                nn.init.uniform_(self.word_emb.weight, -0.25, 0.25)
                self.word_emb.weight[PAD_ID].zero_()
            else:
                if tuple(embeddings.shape) != (len(words), config.word_dim):
                    raise ValueError(
                        f"embeddings: expected shape ({len(words)}, {config.word_dim}) for "
                        f"{len(words)} words, got {tuple(embeddings.shape)}"
                    )
                self.word_emb.weight.copy_(embeddings)
        self.word_emb.weight.requires_grad_(not (self.pretrained and config.freeze_embeddings))
        self.bigrams = bigrams
        self.bigram_emb = None
        if bigrams is not None:
            self.bigram_emb = nn.Embedding(len(bigrams), config.bigram_dim, padding_idx=PAD_ID)
            with torch.no_grad():
                nn.init.uniform_(self.bigram_emb.weight, -0.25, 0.25)
                self.bigram_emb.weight[PAD_ID].zero_()
        self.clusters = clusters
        self.cluster_emb = None
        if clusters is not None:
            self.cluster_emb = nn.Embedding(len(clusters), config.cluster_dim, padding_idx=PAD_ID)
        self.seg_emb = None
        if config.seg_dim:
            self.seg_emb = nn.Embedding(len(SEG_TAGS), config.seg_dim, padding_idx=PAD_ID)
        self.char_cnn = CharCNN(len(chars), config) if config.use_chars else None
        char_out = config.char_out if config.use_chars else 0
        extra = config.bigram_dim + config.seg_dim + config.cluster_dim
        lstm_in = config.word_dim + extra + char_out
        self.lstm = nn.LSTM(lstm_in, config.hidden // 2, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(config.dropout)
        self.coattention = (
            CoAttention(config.hidden, config.region_dim) if config.use_images else None
        )
        # emissions = W [h_t; u_t] + b, split so that the text-only model is the h_t half
        self.out_text = nn.Linear(config.hidden, len(labels))
        self.out_multimodal = (
            nn.Linear(config.hidden, len(labels), bias=False) if config.use_images else None
        )
        self.crf = CRFHead(len(labels))

    # --- construction helpers -------------------------------------------------------------
    def collator(self) -> ACNCollator:
        """The collator that turns (post, regions) examples into this model's batches."""
        c = self.config
        return ACNCollator(
            self.labels, self.words, self.chars, c.max_len, c.max_word_chars,
            c.use_images, c.regions, c.region_dim, self.bigrams, bool(c.seg_dim), self.clusters,
        )  # fmt: skip

    def init_state(self) -> dict[str, Any]:
        """What, besides config and weights, rebuilds this model (see ``checkpoint``)."""
        return {
            "labels": self.labels,
            "words": self.words,
            "chars": self.chars,
            "bigrams": self.bigrams,
            "clusters": self.clusters,
            "pretrained": self.pretrained,
        }

    @classmethod
    def rebuild(cls, config: ACNConfig, state: dict[str, Any]) -> ACN:
        """An untrained model shaped like the one ``init_state`` described."""
        emb = torch.zeros(len(state["words"]), config.word_dim) if state["pretrained"] else None
        bigrams, clusters = state.get("bigrams"), state.get("clusters")
        return cls(config, state["labels"], state["words"], state["chars"], emb, bigrams, clusters)

    # --- computation ----------------------------------------------------------------------
    def _batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        dev = self.out_text.weight.device
        return {k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def encode(
        self, batch: dict[str, Any], chunk: int | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Emissions (B, T, L) and attention weights ``visual`` (B, T, R), ``textual`` (B, T, T)."""
        batch = self._batch(batch)
        words, mask = batch["word_ids"], batch["mask"]  # (B, T), (B, T)
        if self.training and self.config.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.config.word_dropout
            words = words.masked_fill(drop & mask, UNK_ID)
        x = self.word_emb(words)  # (B, T, E)
        if self.bigram_emb is not None:
            x = torch.cat([x, self.bigram_emb(batch["bigram_ids"])], dim=-1)  # (B, T, E+G)
        if self.seg_emb is not None:
            x = torch.cat([x, self.seg_emb(batch["seg_ids"])], dim=-1)  # (B, T, E+G+S)
        if self.cluster_emb is not None:
            x = torch.cat([x, self.cluster_emb(batch["cluster_ids"])], dim=-1)  # (.., +K)
        if self.char_cnn is not None:
            x = torch.cat([x, self.char_cnn(batch["char_ids"], mask)], dim=-1)  # (B, T, E+50)
        x = self.dropout(x)
        h = bilstm(self.lstm, x, batch["lengths"])  # (B, T, H), zeros at padding
        h = self.dropout(h)
        emissions = self.out_text(h)  # (B, T, L)
        weights: dict[str, torch.Tensor] = {}
        if self.coattention is not None:
            if "regions" not in batch:
                raise ValueError("this ACN uses images: the batch needs 'regions' and 'image_mask'")
            u, weights = self.coattention(h, mask, batch["regions"], batch["image_mask"], chunk)
            emissions = emissions + self.out_multimodal(self.dropout(u))
        return emissions, weights

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        """Emission scores (B, T, L)."""
        return self.encode(batch)[0]

    def loss(self, batch: dict[str, Any]) -> torch.Tensor:
        """Mean CRF negative log-likelihood of ``batch['labels']``."""
        emissions = self.forward(batch)
        return self.crf.nll(
            emissions, batch["labels"].to(emissions.device), batch["mask"].to(emissions.device)
        )

    @torch.no_grad()
    def decode(self, batch: dict[str, Any]) -> list[list[str]]:
        """Label strings per post over its full length (tokens past ``max_len`` get ``O``)."""
        emissions = self.forward(batch)
        paths = self.crf.decode(emissions, batch["mask"].to(emissions.device))
        full = batch["post_lengths"].tolist()
        return [
            [self.labels[i] for i in path] + ["O"] * (n - len(path))
            for path, n in zip(paths, full, strict=True)
        ]


@dataclass
class ACNCollator:
    """Turns ``(post, regions (R, D) | None)`` examples into padded tensors and bool masks.

    Keys: ``word_ids`` (B, T), ``char_ids`` (B, T, C), ``mask`` (B, T), ``lengths`` (B,),
    ``post_lengths`` (B,) before truncation, ``labels`` (B, T), with a bigram vocabulary
    ``bigram_ids`` (B, T), with ``segments`` the jieba word places ``seg_ids`` (B, T), with a
    cluster vocabulary ``cluster_ids`` (B, T), and with images ``regions``
    (B, R, D) and ``image_mask`` (B,). Words are looked up as written, then lower-cased,
    then as ``<unk>``.
    """

    labels: list[str]
    words: list[str]
    chars: list[str]
    max_len: int = 250
    max_word_chars: int = 20
    use_images: bool = True
    regions: int = 49
    region_dim: int = 512
    bigrams: list[str] | None = None
    segments: bool = False
    clusters: list[str] | None = None

    def __post_init__(self) -> None:
        self.label_index = {t: i for i, t in enumerate(self.labels)}
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.bigram_index = {b: i for i, b in enumerate(self.bigrams or [])}
        self.cluster_index = {k: i for i, k in enumerate(self.clusters or [])}

    def _word_id(self, token: str) -> int:
        wid = self.word_index.get(token)
        if wid is None:
            wid = self.word_index.get(token.lower(), UNK_ID)
        return wid

    def _char_ids(self, token: str) -> list[int]:
        ids = [self.char_index.get(ch, UNK_ID) for ch in token[: self.max_word_chars]]
        return ids or [UNK_ID]

    def _example(self, ex: Post | tuple) -> tuple[Post, torch.Tensor | None]:
        post, regions = (ex, None) if isinstance(ex, Post) else ex
        if not post.tokens:
            raise ValueError(f"post {post.id}: has no tokens")
        if regions is not None and self.use_images:
            if tuple(regions.shape) != (self.regions, self.region_dim):
                raise ValueError(
                    f"post {post.id}: expected regions of shape ({self.regions}, "
                    f"{self.region_dim}), got {tuple(regions.shape)}"
                )
        return post, regions

    def __call__(self, examples: list[Post | tuple[Post, torch.Tensor | None]]) -> dict[str, Any]:
        """Collate a list of examples into one batch."""
        if not examples:
            raise ValueError("expected at least one example, got an empty list")
        pairs = [self._example(ex) for ex in examples]
        b = len(pairs)
        lengths = [min(len(p.tokens), self.max_len) for p, _ in pairs]
        t = max(lengths)
        word_ids = [[0] * t for _ in pairs]
        labels = [[0] * t for _ in pairs]
        char_rows: list[list[list[int]]] = []
        for row, ((post, _), n) in enumerate(zip(pairs, lengths, strict=True)):
            tokens = post.tokens[:n]
            word_ids[row][:n] = [self._word_id(tok) for tok in tokens]
            char_rows.append([self._char_ids(tok) for tok in tokens])
            try:
                labels[row][:n] = [self.label_index[tag] for tag in post.tags[:n]]
            except KeyError as err:
                raise ValueError(
                    f"post {post.id}: tag {err.args[0]!r} is not one of the labels {self.labels}"
                ) from None
        c = max(len(ids) for chars in char_rows for ids in chars)
        pad_word = [PAD_ID] * c
        char_ids = torch.tensor(
            [[ids + [PAD_ID] * (c - len(ids)) for ids in chars] + [pad_word] * (t - len(chars))
             for chars in char_rows]
        )  # fmt: skip
        lengths_t = torch.tensor(lengths)
        batch: dict[str, Any] = {
            "word_ids": torch.tensor(word_ids),
            "char_ids": char_ids,
            "mask": torch.arange(t)[None, :] < lengths_t[:, None],
            "lengths": lengths_t,
            "post_lengths": torch.tensor([len(p.tokens) for p, _ in pairs]),
            "labels": torch.tensor(labels),
        }
        if self.bigrams is not None:
            bigram_ids = [[PAD_ID] * t for _ in pairs]
            for row, ((post, _), n) in enumerate(zip(pairs, lengths, strict=True)):
                grams = token_bigrams(post.tokens)[:n]
                bigram_ids[row][:n] = [self.bigram_index.get(g, UNK_ID) for g in grams]
            batch["bigram_ids"] = torch.tensor(bigram_ids)
        if self.segments:
            seg_ids = [[PAD_ID] * t for _ in pairs]
            for row, ((post, _), n) in enumerate(zip(pairs, lengths, strict=True)):
                seg_ids[row][:n] = segment_tags(tuple(post.tokens))[:n]
            batch["seg_ids"] = torch.tensor(seg_ids)
        if self.clusters is not None:
            cluster_ids = [[PAD_ID] * t for _ in pairs]
            for row, ((post, _), n) in enumerate(zip(pairs, lengths, strict=True)):
                found = [token_cluster(tok) for tok in post.tokens[:n]]
                cluster_ids[row][:n] = [self.cluster_index.get(k, UNK_ID) for k in found]
            batch["cluster_ids"] = torch.tensor(cluster_ids)
        if self.use_images:
            regions = torch.zeros(b, self.regions, self.region_dim)
            for row, (_, reg) in enumerate(pairs):
                if reg is not None:
                    regions[row] = reg
            batch["regions"] = regions
            batch["image_mask"] = torch.tensor([reg is not None for _, reg in pairs])
        return batch


def build_acn(
    config: ACNConfig,
    labels: list[str],
    posts: list[Post],
    *,
    vocab_path: str | Path | None = None,
    embeddings_path: str | Path | None = None,
    min_count: int = 1,
) -> ACN:
    """An ACN whose words come from ``align/``'s export (``acn_vocab.txt`` + ``acn_embeddings.npy``)
    when given, else from ``posts`` with random embeddings; characters always come from ``posts``.
    """
    if (vocab_path is None) != (embeddings_path is None):
        raise ValueError("give both vocab_path and embeddings_path, or neither")
    chars = build_char_vocab(posts, min_count)
    if vocab_path is None:
        return ACN(config, labels, build_vocab(posts, min_count), chars)
    words, matrix = load_embeddings(vocab_path, embeddings_path)
    if matrix.shape[1] != config.word_dim:
        log.info("word_dim %d -> %d from %s", config.word_dim, matrix.shape[1], embeddings_path)
        config = ACNConfig(**{**config.to_dict(), "word_dim": int(matrix.shape[1])})
    return ACN(config, labels, words, chars, matrix)
