"""One English-Chinese space: train fastText, align (seed + refinement), evaluate, export.

Run directory (deterministic contents, cached by a key over config and inputs):
``config.json``, ``metrics.json``, ``en.vec`` (mapped), ``zh.vec``, ``mapping.npy`` (W, D x D,
``en @ W`` lands in the Chinese space), ``lexicon.txt`` (en -> zh), ``lexicon.zh-en.txt``,
``train_pairs.txt`` / ``test_pairs.txt`` (the dictionary split), and the fastText vectors.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from xmner import manifest
from xmner.align import dictionary as dico
from xmner.align.embeddings import (
    Embeddings,
    FastTextConfig,
    normalize,
    read_vec,
    train_fasttext,
    write_vec,
)
from xmner.align.evaluate import word_translation
from xmner.align.export import induce_lexicon, write_lexicon
from xmner.align.procrustes import Refinement, refine
from xmner.io import atomic_open, content_hash, read_json, write_json
from xmner.progress import Task, say

log = logging.getLogger(__name__)


@dataclass
class AlignConfig:
    """How a source space is mapped onto a target space."""

    center: bool = True  # MUSE's renorm,center,renorm (recommended for en-zh)
    iterations: int = 5
    max_rank: int = 15000  # refinement induces dictionaries among this many frequent words
    knn: int = 10
    keep_seed: bool = True  # refine on induced pairs plus the seed pairs
    dict_max_rank: int | None = None  # keep dictionary pairs whose words are both in the top-N
    test_fraction: float = 0.2
    split_seed: int = 0
    unsupervised: bool = False  # adversarial start instead of a seed dictionary
    adversarial_epochs: int = 5
    adversarial_steps: int = 1000  # mapping updates per epoch (MUSE: 31250, on a GPU)
    lexicon_words: int | None = None  # source words in lexicon.txt (None: all)


@dataclass
class AlignResult:
    """A finished run: its directory, metrics, mapping and the two aligned spaces."""

    out_dir: Path
    metrics: dict
    w: torch.Tensor
    src: Embeddings = field(repr=False)
    tgt: Embeddings = field(repr=False)
    cached: bool = False


def align_spaces(
    src: Embeddings,
    tgt: Embeddings,
    pairs: list[dico.Pair] | None,
    out_dir: str | Path,
    cfg: AlignConfig | None = None,
    *,
    extra_train_pairs: list[dico.Pair] = (),
    config_extra: dict | None = None,
    progress: bool = False,
    name: str = "alignment",
) -> AlignResult:
    """Map ``src`` onto ``tgt``; ``pairs`` is split into seed (train) and test by source word.

    ``extra_train_pairs`` (e.g. identical strings) join the seed only. With
    ``cfg.unsupervised`` the seed is not used to fit, only the test part to evaluate.
    ``progress`` prints a line per refinement round naming ``name``, with the round's P@1
    (CSLS) on the held-out pairs: an evaluation only, the mapping is chosen as without it.
    """
    cfg = cfg or AlignConfig()
    out = Path(out_dir)
    t0 = time.time()
    s = normalize(src.tensor().clone(), center=cfg.center)  # (N, D)
    t = normalize(tgt.tensor().clone(), center=cfg.center)  # (M, D)
    all_pairs = dico.to_indices(pairs or [], src, tgt)
    if cfg.dict_max_rank is not None:
        all_pairs = all_pairs[(all_pairs < cfg.dict_max_rank).all(dim=1)]
    if len(all_pairs) < 10:
        raise ValueError(
            f"expected >= 10 dictionary pairs in both vocabularies, got {len(all_pairs)}"
        )
    train, test = dico.split_pairs(all_pairs, test_fraction=cfg.test_fraction, seed=cfg.split_seed)
    train = torch.cat([train, dico.to_indices(extra_train_pairs, src, tgt)]).unique(dim=0)
    if cfg.unsupervised:
        from xmner.align.adversarial import AdversarialConfig, adversarial_mapping
        from xmner.align.procrustes import induce_dictionary

        adv = AdversarialConfig(
            epochs=cfg.adversarial_epochs, steps_per_epoch=cfg.adversarial_steps
        )
        w0, _ = adversarial_mapping(s, t, adv)
        train = induce_dictionary(s @ w0, t, max_rank=cfg.max_rank, knn=cfg.knn).pairs
    # a line per round already: no tenths, only heartbeats within a long round
    rounds = Task(name, cfg.iterations + 1, "rounds", enabled=progress, every=1.0)
    with rounds:
        result = refine(
            s,
            t,
            train,
            iterations=cfg.iterations,
            max_rank=cfg.max_rank,
            knn=cfg.knn,
            keep_seed=cfg.keep_seed and not cfg.unsupervised,
            on_round=_round_line(rounds, s, t, test, cfg) if progress else None,
        )
        rounds.result = f"best criterion {result.criterion:.4f}"
    src_al = Embeddings(src.words, (s @ result.w).numpy())
    tgt_al = Embeddings(tgt.words, t.numpy())
    metrics = word_translation(src_al.tensor(), tgt_al.tensor(), test, knn=cfg.knn)
    metrics |= _summary(result, len(train), time.time() - t0)
    _write_run(out, src_al, tgt_al, result, train, test, metrics, cfg, config_extra or {})
    return AlignResult(out, metrics, result.w, src_al, tgt_al)


def _round_line(task: Task, s: torch.Tensor, t: torch.Tensor, test: torch.Tensor, cfg):
    """A refinement callback printing ``round 2/5 · 3548 pairs · criterion 0.4123 · P@1 10.6``."""

    def on_round(step: int, pairs: int, criterion: float, w: torch.Tensor) -> None:
        line = f"round {step}/{cfg.iterations} · {pairs} pairs · criterion {criterion:.4f}"
        if len(test):
            p1 = word_translation(s @ w, t, test, knn=cfg.knn)["p_at_1_csls"]
            line += f" · P@1 {100 * p1:.1f}"
        task.say(line)
        task.update()

    return on_round


def _summary(result: Refinement, n_seed: int, seconds: float) -> dict:
    return {
        "criterion": result.criterion,
        "n_seed_pairs": n_seed,
        "n_final_pairs": len(result.pairs),
        "refinement": [{"pairs": p, "criterion": c} for p, c in result.history],
        "align_seconds": round(seconds, 1),
    }


def _write_run(out, src_al, tgt_al, result, train, test, metrics, cfg, extra) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_vec(out / "en.vec", src_al)
    write_vec(out / "zh.vec", tgt_al)
    with atomic_open(out / "mapping.npy", "wb") as f:
        np.save(f, result.w.numpy())
    for name, rows in (("train_pairs.txt", train), ("test_pairs.txt", test)):
        dico.write_dictionary(
            out / name, [(src_al.words[i], tgt_al.words[j]) for i, j in rows.tolist()]
        )
    write_lexicon(out / "lexicon.txt", induce_lexicon(src_al, tgt_al, max_src=cfg.lexicon_words))
    write_lexicon(out / "lexicon.zh-en.txt", induce_lexicon(tgt_al, src_al))
    write_json(out / "config.json", {"align": asdict(cfg), **extra})
    write_json(out / "metrics.json", metrics)  # written last: its presence marks a finished run


#: The files of a finished run, checked whole against the folder's manifest before reuse.
RUN_FILES = ("config.json", "metrics.json", "en.vec", "zh.vec", "mapping.npy")


def build_aligned_space(
    en_texts: list[list[str]],
    zh_texts: list[list[str]],
    out_dir: str | Path,
    dim: int = 300,
    *,
    epoch: int = 10,
    min_count: int = 2,
    lowercase_en: bool = True,
    identical: bool = True,
    align: AlignConfig | None = None,
    progress: bool = False,
) -> AlignResult:
    """Train fastText on English tokens and Chinese characters, map en onto zh, evaluate, export.

    The shared space is the (normalised) Chinese fastText space; English vectors are rotated
    into it. The seed is CC-CEDICT (one-character headwords; plus identical strings when
    ``identical``) restricted to the 1000 most frequent words of each side (rare words of these
    small corpora have poor vectors), 20% of its source words held out for P@k. Cached: if
    ``out_dir`` holds a finished run with the same key whose files verify against its manifest,
    it is loaded instead of recomputed (fastText vectors likewise, each on its own).
    ``progress`` prints the lines of ``fastText en``, ``fastText zh`` and ``alignment en -> zh``.
    """
    align = align or AlignConfig(dict_max_rank=1000)
    out = Path(out_dir)
    if lowercase_en:
        en_texts = [[w.lower() for w in text] for text in en_texts]
    en_cfg = FastTextConfig(dim=dim, epoch=epoch, min_count=min_count)
    zh_cfg = FastTextConfig.for_characters(dim=dim, epoch=epoch, min_count=min_count)
    key = content_hash(asdict(en_cfg), asdict(zh_cfg), asdict(align), identical, en_texts, zh_texts)
    extra = {
        "key": key,
        "fasttext_en": asdict(en_cfg),
        "fasttext_zh": asdict(zh_cfg),
        "identical": identical,
        "lowercase_en": lowercase_en,
        "shared_space": "zh",
    }
    if not manifest.damage(out, RUN_FILES) and read_json(out / "config.json").get("key") == key:
        log.info("aligned space cached in %s", out)
        if progress:
            say(f"fastText + alignment · cached in {out}")
        return _load_run(out)
    t0 = time.time()
    en = _cached_fasttext(en_texts, en_cfg, out / f"fasttext.en.{key}.vec", progress, "en")
    zh = _cached_fasttext(zh_texts, zh_cfg, out / f"fasttext.zh.{key}.vec", progress, "zh")
    extra["fasttext_seconds"] = round(time.time() - t0, 1)
    seed = dico.cedict_pairs(characters=True)
    extra_pairs = (
        [p for p in dico.identical_pairs(en, zh) if not p[0].isalpha()] if identical else []
    )
    result = align_spaces(
        en, zh, seed, out, align, extra_train_pairs=extra_pairs, config_extra=extra,
        progress=progress, name="alignment en -> zh",
    )  # fmt: skip
    for name in RUN_FILES:  # recorded last: a run cut short is recomputed, never half-loaded
        manifest.record(out / name, out)
    log.info("aligned space in %s: P@1 csls %.3f", out, result.metrics["p_at_1_csls"])
    return result


def _cached_fasttext(
    texts, cfg: FastTextConfig, path: Path, progress: bool, lang: str
) -> Embeddings:
    if manifest.usable(path):  # verified whole against the manifest, else deleted
        if progress:
            say(f"fastText {lang} · cached")
        return read_vec(path)
    vectors = train_fasttext(texts, cfg, out_vec=path, progress=progress, name=f"fastText {lang}")
    manifest.record(path)
    return vectors


def _load_run(out: Path) -> AlignResult:
    src, tgt = read_vec(out / "en.vec"), read_vec(out / "zh.vec")
    w = torch.from_numpy(np.load(out / "mapping.npy"))
    return AlignResult(out, read_json(out / "metrics.json"), w, src, tgt, cached=True)
