"""MT engines behind one protocol: ``translate(texts) -> texts``.

Engines: ``marian`` (transformers MarianMT), ``hf-seq2seq`` (any AutoModelForSeq2SeqLM with
language codes: M2M100, NLLB), ``ctranslate2`` (a converted model; see :func:`convert_model`)
and ``lexicon`` (word by word with CC-CEDICT, the offline default). Model arguments accept hub
ids and local directories alike. Heavy libraries are imported inside the engines.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Protocol, runtime_checkable

from xmner.io import file_hash

log = logging.getLogger(__name__)

ENGINES = ("lexicon", "marian", "hf-seq2seq", "ctranslate2")
MARIAN_MODELS = {
    ("en", "zh"): "Helsinki-NLP/opus-mt-en-zh",
    ("zh", "en"): "Helsinki-NLP/opus-mt-zh-en",
}
# Multilingual opus-mt models need a target-language token at the start of the source.
MARIAN_TARGET_TOKENS = {("en", "zh"): ">>cmn_Hans<<"}
SEQ2SEQ_DEFAULT = "facebook/nllb-200-distilled-600M"
NLLB_CODES = {"en": "eng_Latn", "zh": "zho_Hans"}


@runtime_checkable
class Translator(Protocol):
    """A batch of source strings in, the same number of target strings out.

    An engine may also offer ``for_entities()``: the engine that entity spans, translated on
    their own, go to (:func:`for_entities`).
    """

    def translate(self, texts: list[str]) -> list[str]: ...


def for_entities(translator: Translator) -> Translator:
    """The engine for entity spans translated on their own: the translator's ``for_entities()``
    where it has one (the lexicon engine glosses words inside a name shortly), else itself."""
    view = getattr(translator, "for_entities", None)
    return view() if callable(view) else translator


def by_length(texts: list[str], batch_size: int) -> list[list[int]]:
    """Index batches of similar length (less padding), longest first."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _target_token(tokenizer, src: str, tgt: str, target_token: str | None) -> str:
    token = target_token or MARIAN_TARGET_TOKENS.get((src, tgt), "")
    if token and token not in tokenizer.get_vocab():
        log.info("target token %s not in the vocabulary; not used", token)
        return ""
    return token


class MarianTranslator:
    """transformers MarianMT (``Helsinki-NLP/opus-mt-*`` or a local directory)."""

    engine = "marian"

    def __init__(
        self,
        src: str,
        tgt: str,
        model: str | None = None,
        *,
        batch_size: int = 16,
        num_beams: int = 4,
        max_new_tokens: int = 256,
        device: str | None = None,
        target_token: str | None = None,
    ):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.src, self.tgt = src, tgt
        self.model = model or MARIAN_MODELS.get((src, tgt))
        if self.model is None:
            raise ValueError(f"no default Marian model for {src}->{tgt}; pass --model")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model)
        self.net = AutoModelForSeq2SeqLM.from_pretrained(self.model).to(self.device).eval()
        self.prefix = _target_token(self.tokenizer, src, tgt, target_token)
        self.batch_size, self.num_beams, self.max_new_tokens = batch_size, num_beams, max_new_tokens
        self.settings = f"beams={num_beams} max_new_tokens={max_new_tokens}"  # cache key

    def _generate_kwargs(self) -> dict:
        return {"num_beams": self.num_beams, "max_new_tokens": self.max_new_tokens}

    def _prepare(self, texts: list[str]) -> list[str]:
        return [f"{self.prefix} {t}" if self.prefix else t for t in texts]

    def translate(self, texts: list[str]) -> list[str]:
        """Translate in length-sorted batches; output order follows input order."""
        import torch

        out = [""] * len(texts)
        for batch in by_length(texts, self.batch_size):
            enc = self.tokenizer(
                self._prepare([texts[i] for i in batch]),
                return_tensors="pt",
                padding=True,
                truncation=True,
            ).to(self.device)
            with torch.inference_mode():
                ids = self.net.generate(**enc, **self._generate_kwargs())
            for i, text in zip(
                batch, self.tokenizer.batch_decode(ids, skip_special_tokens=True), strict=True
            ):
                out[i] = text.strip()
        return out


class Seq2SeqTranslator(MarianTranslator):
    """Any AutoModelForSeq2SeqLM with language codes (NLLB: ``eng_Latn``; M2M100: ``en``)."""

    engine = "hf-seq2seq"

    def __init__(self, src: str, tgt: str, model: str | None = None, **kwargs):
        super().__init__(src, tgt, model or SEQ2SEQ_DEFAULT, **kwargs)
        self.prefix = ""
        vocab = self.tokenizer.get_vocab()
        src_code = NLLB_CODES[src] if NLLB_CODES.get(src) in vocab else src
        self.tgt_code = NLLB_CODES[tgt] if NLLB_CODES.get(tgt) in vocab else tgt
        if hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = src_code
        if hasattr(self.tokenizer, "get_lang_id"):  # M2M100
            self.bos = self.tokenizer.get_lang_id(self.tgt_code)
        else:
            self.bos = self.tokenizer.convert_tokens_to_ids(self.tgt_code)

    def _generate_kwargs(self) -> dict:
        return {**super()._generate_kwargs(), "forced_bos_token_id": self.bos}


class CTranslate2Translator:
    """A CTranslate2 model directory (from :func:`convert_model`) with its tokenizer files."""

    engine = "ctranslate2"

    def __init__(
        self,
        src: str,
        tgt: str,
        model: str,
        *,
        batch_size: int = 16,
        beam_size: int = 4,
        max_decoding_length: int = 256,
        device: str = "auto",
        compute_type: str = "default",
        threads: int = 0,
        target_token: str | None = None,
    ):
        import ctranslate2
        from transformers import AutoTokenizer

        if not model or not Path(model).is_dir():
            raise FileNotFoundError(
                f"{model}: expected a CTranslate2 model directory "
                "(make one with 'xmner translate convert')"
            )
        self.src, self.tgt, self.model = src, tgt, str(model)
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.net = ctranslate2.Translator(
            str(model), device=device, compute_type=compute_type, intra_threads=threads
        )
        self.tokenizer = AutoTokenizer.from_pretrained(str(model))
        self.prefix = _target_token(self.tokenizer, src, tgt, target_token)
        self.batch_size, self.beam_size = batch_size, beam_size
        self.max_decoding_length = max_decoding_length
        # cache key: the weights file's hash stands for its quantization (int8, float16, ...)
        weights = Path(model) / "model.bin"
        digest = file_hash(weights) if weights.is_file() else "-"
        self.settings = (
            f"beams={beam_size} max_decoding_length={max_decoding_length} "
            f"compute_type={compute_type} weights={digest}"
        )

    def encode(self, text: str) -> list[str]:
        """Source tokens as CTranslate2 wants them (with the tokenizer's ``</s>``)."""
        text = f"{self.prefix} {text}" if self.prefix else text
        return self.tokenizer.convert_ids_to_tokens(self.tokenizer.encode(text))

    def translate(self, texts: list[str], **options) -> list[str]:
        """Translate with ``translate_batch``; extra options go to CTranslate2."""
        out = [""] * len(texts)
        opts = {"beam_size": self.beam_size, "max_decoding_length": self.max_decoding_length}
        opts.update(options)
        for batch in by_length(texts, self.batch_size):
            results = self.net.translate_batch([self.encode(texts[i]) for i in batch], **opts)
            for i, res in zip(batch, results, strict=True):
                ids = self.tokenizer.convert_tokens_to_ids(res.hypotheses[0])
                out[i] = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        return out


def convert_model(
    model: str, out_dir: str | Path, *, quantization: str | None = "int8", force: bool = False
) -> Path:
    """Convert a transformers seq2seq model (hub id or directory) to CTranslate2 with its tokenizer.

    int8 by default (the fast CPU setting). CTranslate2's Marian loader drops the last vocabulary
    entry assuming it is ``<pad>``, as in every opus-mt model; other layouts are refused.
    """
    import ctranslate2
    from transformers import AutoConfig, AutoTokenizer

    out_dir = Path(out_dir)
    config = AutoConfig.from_pretrained(model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    if config.model_type == "marian":
        vocab = getattr(tokenizer, "encoder", None) or tokenizer.get_vocab()  # vocab.json as is
        last = max(vocab, key=vocab.get)
        if last != "<pad>":
            raise ValueError(f"{model}: CTranslate2 expects <pad> last in vocab.json, got {last!r}")
    staging = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    converter = ctranslate2.converters.TransformersConverter(model)
    converter.convert(str(staging), quantization=quantization, force=True)
    tokenizer.save_pretrained(staging)
    if out_dir.exists():
        if not force:
            raise FileExistsError(f"{out_dir} exists; pass force=True (--force) to replace it")
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return out_dir


def make_translator(
    engine: str,
    src: str,
    tgt: str,
    model: str | None = None,
    *,
    lexicon_path: str | Path | None = None,
    **options,
) -> Translator:
    """The named engine for ``src -> tgt``; ``options`` go to its constructor.

    A directory made by ``xmner translate convert`` can only run on CTranslate2: named with
    engine ``marian`` or ``hf-seq2seq`` (one direction converted, the other not), it runs there.
    """
    if engine in ("marian", "hf-seq2seq") and model and is_ctranslate2_dir(model):
        log.info("%s is a CTranslate2 model: translating %s->%s with ctranslate2", model, src, tgt)
        engine, options = "ctranslate2", _ctranslate2_options(options)
    if engine == "lexicon":
        from xmner.translate.lexicon import LexiconTranslator

        return LexiconTranslator(src, tgt, lexicon_path)
    if engine == "marian":
        return MarianTranslator(src, tgt, model, **options)
    if engine == "hf-seq2seq":
        return Seq2SeqTranslator(src, tgt, model, **options)
    if engine == "ctranslate2":
        if model is None:
            raise ValueError("engine ctranslate2 needs --model DIR (a converted model)")
        return CTranslate2Translator(src, tgt, model, **options)
    raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")


def is_ctranslate2_dir(model: str | Path) -> bool:
    """Whether ``model`` is a local directory converted for CTranslate2 (it has ``model.bin``)."""
    path = Path(model)
    return (
        path.is_dir()
        and (path / "model.bin").is_file()
        and not ((path / "model.safetensors").exists() or (path / "pytorch_model.bin").exists())
    )


def _ctranslate2_options(options: dict) -> dict:
    """transformers-engine options renamed for :class:`CTranslate2Translator`."""
    names = {"num_beams": "beam_size", "max_new_tokens": "max_decoding_length"}
    out = {names.get(k, k): v for k, v in options.items()}
    if out.get("device") is None:
        out.pop("device", None)
    return out
