"""A randomly initialised MarianMT model with a sentencepiece tokenizer trained on given text.

For offline tests and speed benchmarks of the ``marian`` and ``ctranslate2`` engines: the
directory it writes loads like an opus-mt checkout (``source.spm``, ``target.spm``,
``vocab.json`` with ``<pad>`` last, as CTranslate2's Marian loader expects).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RandomMarianConfig:
    """Sizes of the random model; the defaults are tiny, ``opus_mt()`` gives opus-mt's shape."""

    vocab_size: int = 1500
    d_model: int = 32
    layers: int = 1
    heads: int = 2
    ffn: int = 64
    max_positions: int = 256
    character_coverage: float = 0.98
    total_vocab: int = 0  # pad vocab.json with filler tokens up to this size (opus-mt-en-zh: 65001)
    target_tokens: tuple[str, ...] = (">>cmn_Hans<<",)

    @classmethod
    def opus_mt(cls, vocab_size: int = 8000) -> RandomMarianConfig:
        """d_model 512, 6+6 layers, 8 heads, ffn 2048, 65,001 tokens (opus-mt-en-zh's shape)."""
        return cls(vocab_size, 512, 6, 8, 2048, 512, total_vocab=65001)


def build_random_marian(
    out_dir: str | Path, texts: list[str], config: RandomMarianConfig | None = None, seed: int = 0
) -> Path:
    """Train sentencepiece on ``texts``, build a random MarianMT, save both to ``out_dir``."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    config = config or RandomMarianConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(out_dir / "spm"),
        vocab_size=config.vocab_size,
        character_coverage=config.character_coverage,
        model_type="unigram",
        hard_vocab_limit=False,
        bos_id=-1,
        eos_id=1,
        unk_id=0,
        pad_id=-1,
        num_threads=2,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(out_dir / "spm.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab = {"</s>": 0, "<unk>": 1}
    for token in [*config.target_tokens, *pieces]:
        vocab.setdefault(token, len(vocab))
    for i in range(config.total_vocab - len(vocab) - 1):
        vocab[f"<filler{i}>"] = len(vocab)
    vocab["<pad>"] = len(vocab)  # last, like opus-mt
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    for name in ("source.spm", "target.spm"):
        (out_dir / name).write_bytes((out_dir / "spm.model").read_bytes())
    tokenizer = MarianTokenizer(
        source_spm=str(out_dir / "source.spm"),
        target_spm=str(out_dir / "target.spm"),
        vocab=str(out_dir / "vocab.json"),
    )
    pad = vocab["<pad>"]
    model_config = MarianConfig(
        vocab_size=len(vocab),
        d_model=config.d_model,
        encoder_layers=config.layers,
        decoder_layers=config.layers,
        encoder_attention_heads=config.heads,
        decoder_attention_heads=config.heads,
        encoder_ffn_dim=config.ffn,
        decoder_ffn_dim=config.ffn,
        max_position_embeddings=config.max_positions,
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
        share_encoder_decoder_embeddings=True,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(model_config).eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    for name in ("spm.model", "spm.vocab"):
        (out_dir / name).unlink(missing_ok=True)
    return out_dir
