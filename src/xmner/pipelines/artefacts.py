"""Shared artefacts of an experiment, computed once and cached by content hash.

Translated corpora, aligned word vectors (ACN), tokenizers (UMT in tests) and image region
features are keyed by what produced them (settings and the content hashes of the input files),
written atomically under ``<out>/cache/`` and reused by every run that needs them. Each entry
records its settings and inputs in ``inputs.json`` and is sealed in its manifest when complete;
an entry that does not verify is discarded with a warning and recomputed.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

from xmner import manifest
from xmner.data.corpora import get_spec
from xmner.data.corpus import Post, read_corpus, write_corpus
from xmner.data.tags import unify_types
from xmner.io import content_hash, write_json
from xmner.pipelines.config import ExperimentConfig, ModelSection
from xmner.pipelines.schedules import Direction
from xmner.progress import Task, duration, say

log = logging.getLogger(__name__)


def unified(posts: list[Post]) -> list[Post]:
    """Copies of ``posts`` with type names unified (``OTHER`` -> ``MISC``)."""
    return [
        Post(p.id, list(p.tokens), unify_types(p.tags), list(p.image_ids), p.lang, p.corpus)
        for p in posts
    ]


def posts_hash(posts: list[Post]) -> str:
    """A content hash of posts (ids, tokens, tags)."""
    return content_hash([(p.id, p.tokens, p.tags) for p in posts])


def translated_train(
    cfg: ExperimentConfig,
    direction: Direction,
    source_posts: list[Post],
    cache: Path,
    inputs: dict[str, str] | None = None,
    progress: bool = False,
) -> tuple[list[Post], Path]:
    """The source train split translated into the target language; returns posts and report path.

    ``source_posts`` carry the source corpus' own type names; the result carries the target's
    (then unified by the caller). ``inputs`` are the fingerprints of the files it comes from.
    Cached in ``cache/translations/<direction>-<engine>-<hash>/``. ``progress`` prints the
    step's lines (``xmner.progress.Task``) named as the plan names it.
    """
    from xmner.translate.corpus import translate_split

    t = cfg.translate
    model = t.model_en2zh if direction.name == "en2zh" else t.model_zh2en
    settings = _translation_settings(cfg, direction)
    inputs = dict(inputs or {})
    out_dir = translation_dir(cfg, direction, source_posts, cache, inputs)
    target_path, report_path = out_dir / "train.txt", out_dir / "report.json"
    name = translation_step(cfg, direction)
    if manifest.sealed(out_dir, TRANSLATION_FILES):
        log.info("reusing translation %s", out_dir)
        if progress:
            say(f"{name} · cached")
        return _reread(target_path, direction, source_posts), report_path
    options = {"batch_size": t.batch_size, **_decoding(t)} if t.engine != "lexicon" else {}
    what = f"{len(source_posts)} posts" + (f", {model}" if t.engine != "lexicon" else "")
    with Task(name, unit="texts", what=what, enabled=progress) as task:
        posts, report = translate_split(
            source_posts, direction.source, direction.target, t.engine, model,
            cache_path=cache / "translations.sqlite", lexicon_path=t.lexicon,
            progress=task.set, **options,
        )  # fmt: skip
        task.result = report.headline()
    write_corpus(posts, target_path, get_spec(direction.target).fmt)
    write_json(report_path, report.to_dict())
    write_json(out_dir / "inputs.json", {"settings": settings, "inputs": inputs})
    manifest.seal(out_dir)
    log.info("translated %s:\n%s", direction.name, report.summary())
    return _reread(target_path, direction, source_posts), report_path


TRANSLATION_FILES = ["train.txt", "report.json", "inputs.json"]
EMBEDDING_FILES = ["acn_vocab.txt", "acn_embeddings.npy", "inputs.json"]


def translation_step(cfg: ExperimentConfig, direction: Direction) -> str:
    """The step's name in plan and progress: ``translate twitter2015 train -> zh (lexicon)``."""
    return f"translate {direction.source} train -> {direction.target_lang} ({cfg.translate.engine})"


def _translation_settings(cfg: ExperimentConfig, direction: Direction) -> dict:
    t = cfg.translate
    settings = {
        "engine": t.engine,
        "model": t.model_en2zh if direction.name == "en2zh" else t.model_zh2en,
        "lexicon": t.lexicon,
        "direction": direction.name,
    }
    if t.engine == "lexicon":  # the lexicon engine's logic changes with the code, not a model
        from xmner.translate.lexicon import LEXICON_VERSION

        settings["lexicon_version"] = LEXICON_VERSION
    else:
        settings |= added_settings(cfg.translate)
    return settings


def translation_dir(
    cfg: ExperimentConfig,
    direction: Direction,
    source_posts: list[Post],
    cache: Path,
    inputs: dict[str, str] | None = None,
) -> Path:
    """The cache folder of ``translated_train``'s result for these settings, inputs and posts."""
    key = content_hash(_translation_settings(cfg, direction), dict(inputs or {}),
                       posts_hash(source_posts))  # fmt: skip
    return cache / "translations" / f"{direction.name}-{cfg.translate.engine}-{key}"


#: TranslateSection fields added after runs existed, with their defaults: keys leave them out
#: at those defaults, so caches and cells made before they existed stay valid.
ADDED_TRANSLATE = {"beams": 4, "max_length": 256}


def added_settings(t) -> dict:
    """The later-added translation settings that differ from their defaults."""
    return {k: getattr(t, k) for k, v in ADDED_TRANSLATE.items() if getattr(t, k) != v}


def translate_key(t) -> dict:
    """The translation settings a result depends on, as a key (see ``ADDED_TRANSLATE``)."""
    old = {k: v for k, v in asdict(t).items() if k not in ADDED_TRANSLATE}
    return old | added_settings(t)


def _decoding(t) -> dict:
    """Beam size and output length under the engine's own option names."""
    if t.engine == "ctranslate2":
        return {"beam_size": t.beams, "max_decoding_length": t.max_length}
    return {"num_beams": t.beams, "max_new_tokens": t.max_length}


def _reread(path: Path, direction: Direction, source_posts: list[Post]) -> list[Post]:
    """Read a translated corpus back, with the source posts' image ids (the file has none)."""
    posts = read_corpus(path, corpus=f"{direction.source}-{direction.target_lang}")
    image_ids = {p.id: p.image_ids for p in source_posts}
    for post in posts:
        post.image_ids = list(image_ids.get(post.id, post.image_ids))
    return posts


def acn_vectors(
    cfg: ExperimentConfig,
    texts: dict[str, list[list[str]]],
    tokens: list[str],
    cache: Path,
    optional: list[str] = (),
    inputs: dict[str, str] | None = None,
    progress: bool = False,
) -> tuple[Path, Path, Path | None]:
    """Aligned word vectors for ACN covering ``tokens``: (vocab.txt, embeddings.npy, metrics).

    ``optional`` tokens (seen outside training only) get a row only where a vector exists.
    ``texts`` holds the English token lists and the Chinese character lists to train on
    (``{"en": [...], "zh": [...]}``). Mode ``train`` trains fastText on them and maps English
    onto the Chinese space (CC-CEDICT seed + refinement); mode ``vec`` reads the given aligned
    ``.vec`` files (e.g. MUSE's wiki.multi.*.vec). Tokens without a vector get U(-0.25, 0.25).
    ``progress`` prints the step's lines and those of its parts (fastText, alignment rounds).
    """
    from xmner.align.embeddings import Embeddings, read_vec
    from xmner.align.export import export_acn_embeddings
    from xmner.align.space import AlignConfig, build_aligned_space

    e = cfg.embed
    inputs = dict(inputs or {})
    out_dir = embedding_dir(cfg, texts, tokens, cache, optional, inputs)
    vocab, matrix = out_dir / "acn_vocab.txt", out_dir / "acn_embeddings.npy"
    metrics = out_dir / "metrics.json"
    name = vectors_step(cfg)
    if manifest.sealed(out_dir, EMBEDDING_FILES):
        log.info("reusing embeddings %s", out_dir)
        if progress:
            say(f"{name} · cached")
        return vocab, matrix, metrics if metrics.exists() else None
    t0 = time.perf_counter()
    if progress:
        say(f"{name} · started ({len(texts['en'])} English, {len(texts['zh'])} Chinese texts)")
    if e.mode == "train":
        align = AlignConfig(dict_max_rank=1000, iterations=e.refinement)
        space = build_aligned_space(
            texts["en"], texts["zh"], out_dir, dim=e.dim, epoch=e.epochs,
            identical=e.identical, align=align, progress=progress,
        )  # fmt: skip
        spaces = [space.tgt, space.src]  # Chinese characters first, then mapped English
    else:
        if not (e.en_vec and e.zh_vec):
            raise ValueError("embed.mode 'vec' needs embed.en_vec and embed.zh_vec (aligned)")
        with Task("reading aligned .vec files", enabled=progress):
            spaces = [read_vec(path, max_words=e.max_vocab) for path in (e.zh_vec, e.en_vec)]
    # Aligned vectors have unit length; the paper's OOV vectors are U(-0.25, 0.25) with norm
    # about 0.25 * sqrt(dim / 3). Scale the aligned ones to that norm so both live alike.
    norm = 0.25 * (spaces[0].dim / 3) ** 0.5
    spaces = [Embeddings(s.words, _unit(s.vectors) * norm) for s in spaces]
    export = export_acn_embeddings(tokens, spaces, out_dir, optional=optional)
    # names relative to this folder: the cache stays valid when the runs directory moves
    write_json(
        out_dir / "export.json",
        asdict(export) | {"vocab_path": vocab.name, "matrix_path": matrix.name},
    )
    write_json(out_dir / "inputs.json", {"settings": asdict(e), "inputs": inputs})
    manifest.seal(out_dir)
    if progress:
        say(f"{name} · done in {duration(time.perf_counter() - t0)} · {len(tokens)} tokens")
    return vocab, matrix, metrics if metrics.exists() else None


def vectors_step(cfg: ExperimentConfig) -> str:
    """The step's name in the plan and its progress: ``ACN word vectors (fastText + alignment)``."""
    kind = "fastText + alignment" if cfg.embed.mode == "train" else "aligned .vec files"
    return f"ACN word vectors ({kind})"


#: the image step's name in the plan and, per corpus and mode, in its progress
IMAGE_STEP = "image region features"


def embedding_dir(
    cfg: ExperimentConfig,
    texts: dict[str, list[list[str]]],
    tokens: list[str],
    cache: Path,
    optional: list[str] = (),
    inputs: dict[str, str] | None = None,
) -> Path:
    """The cache folder of ``acn_vectors``' result for these settings, texts and tokens."""
    key = content_hash(
        asdict(cfg.embed), dict(inputs or {}), texts, sorted(set(tokens)), sorted(set(optional))
    )
    return cache / "embeddings" / f"{cfg.embed.mode}-{key}"


def _unit(x):
    import numpy as np

    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def wordpiece_tokenizer(texts: list[list[str]], cache: Path, vocab_size: int = 2000):
    """A small BERT WordPiece tokenizer trained on ``texts`` (the smoke preset's UMT)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    key = content_hash("wordpiece", vocab_size, texts)
    path = cache / "tokenizers" / key
    if not manifest.sealed(path, ["tokenizer.json"]):
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
        tok.train_from_iterator((" ".join(t) for t in texts), trainer)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
            sep_token="[SEP]", mask_token="[MASK]",
        )  # fmt: skip
        fast.save_pretrained(path)
        manifest.seal(path)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def region_shape(cfg: ExperimentConfig, section: ModelSection) -> tuple[int, int]:
    """(regions, dim) of the model's image backbone: 49 x 2048 for ResNet-152, 49 x 512 VGG-16."""
    extractor = _extractor(cfg, section)
    return extractor.regions, extractor.dim


def _extractor(cfg: ExperimentConfig, section: ModelSection):
    if cfg.data.backbone_config:
        return _load_extractor(json.dumps(cfg.data.backbone_config, sort_keys=True), True)
    return _load_extractor(section.backbone, False)


@functools.lru_cache(maxsize=4)
def _load_extractor(spec: str, random_config: bool):
    """A backbone, loaded once per process: a hub id / dir / vgg16, or a random ResNet config."""
    import torch

    from xmner.data import images

    if random_config:
        from transformers import ResNetConfig

        torch.manual_seed(0)  # the same random weights, hence the same feature cache, every time
        return images.resnet_extractor(ResNetConfig(**json.loads(spec)))
    if spec == "vgg16":
        return images.vgg16_extractor()
    return images.resnet_extractor("microsoft/resnet-152" if spec == "resnet152" else spec)


def region_features(
    cfg: ExperimentConfig,
    section: ModelSection,
    posts: list[Post],
    cache: Path,
    mode: str | None = None,
    progress: bool = False,
) -> list:
    """Per post: (regions, dim) image regions (averaged over its images), or None without one.

    Image directories come from ``data.image_dirs`` keyed by the post's original corpus (a
    translated post keeps its id and image ids, so it finds its images too). ``mode``
    (none | one | all) defaults to ``data.images``. ``progress`` counts images per corpus.
    """
    mode = mode or cfg.data.images
    if mode == "none" or not cfg.data.image_dirs:
        return [None] * len(posts)
    from xmner.data import images

    extractor = _extractor(cfg, section)
    out: list = [None] * len(posts)
    groups: dict[str, list[int]] = {}
    for i, post in enumerate(posts):
        groups.setdefault(post.corpus.split("-")[0], []).append(i)
    for corpus, idx in groups.items():
        regions, report = images.post_regions(
            [posts[i] for i in idx], cfg.data.image_dirs.get(corpus), extractor,
            cache / "images", mode=mode, seed=0, progress=progress,
            name=f"{IMAGE_STEP} {corpus} (images {mode})",
        )  # fmt: skip
        log.info("%s images: %s", corpus, report.summary())
        for i, r in zip(idx, regions, strict=True):
            out[i] = r.regions if r.has_image else None
    return out
