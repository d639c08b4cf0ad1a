"""The cross-lingual experiment end to end: corpora, artefacts, every cell, the report.

A cell is (direction, model, schedule, seed); its run directory is
``<out>/<direction>/<model>/<schedule>/seed<k>/`` with ``config.json``, ``metrics.jsonl``,
``best.pt``, ``predictions.txt`` and ``results.json``, each recorded in the cell's
``MANIFEST.jsonl``. A cell whose ``results.json`` verifies and whose recorded inputs match is
skipped; a killed cell resumes from its last completed epoch. One process writes a runs
directory (``<out>/.lock``), one worker a cell (``<cell>/.lock``). Under ``accelerate launch``
every process trains each cell data-parallel and the main process alone locks and writes
(``distributed``); parallel workers (``--jobs``) get a GPU each when several are visible.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import resource
import shutil
import time
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from xmner import allocator, interrupt, locks, manifest, scalars
from xmner.data.corpora import SPLITS, get_spec, load_split
from xmner.data.corpus import Post, write_corpus
from xmner.data.tags import ENTITY_TYPES, label_set, rename_types
from xmner.eval.metrics import MODE, score
from xmner.io import content_hash, read_json, read_text, write_json
from xmner.pipelines import artefacts, devices, distributed, estimate, inputs
from xmner.pipelines.config import ExperimentConfig
from xmner.pipelines.schedules import DIRECTIONS, Direction, plan, schedule_dirname
from xmner.pipelines.train import StageConfig, fit, load_weights, predict
from xmner.progress import say

log = logging.getLogger(__name__)

LABELS = label_set(ENTITY_TYPES)  # unified: PER, LOC, ORG, MISC


@dataclass
class Timing:
    """Wall time and peak resident memory (so far) of one step."""

    step: str
    seconds: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Cell:
    """One trained model: what it transfers, with which model, schedule, seed and images.

    ``table2`` cells are CMNER's image ablation (target only); the others fill Tables 3 and 4.
    """

    direction: str
    model: str
    schedule: str
    seed: int
    images: str = "none"  # none | one | all
    table: str = "main"  # main | table2

    @property
    def name(self) -> str:
        """``en2zh/acn/TGT seed 1`` (and the image mode for Table 2 cells)."""
        extra = f" images {self.images}" if self.table == "table2" else ""
        return f"{self.direction}/{self.model}/{self.schedule} seed {self.seed}{extra}"

    def run_dir(self, out: Path) -> Path:
        """Where this cell's files live under the runs directory ``out``."""
        if self.table == "table2":
            return out / "table2" / self.model / self.images / f"seed{self.seed}"
        sched = schedule_dirname(self.schedule)
        return out / self.direction / self.model / sched / f"seed{self.seed}"


@dataclass
class Context:
    """Everything the cells share: corpora, translations, vocabularies, features, timings."""

    cfg: ExperimentConfig
    out: Path
    corpora: dict[tuple[str, str], list[Post]] = field(default_factory=dict)
    translations: dict[str, list[Post]] = field(default_factory=dict)
    translation_reports: dict[str, Path] = field(default_factory=dict)
    gold_test: dict[str, Path] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    features: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    timings: list[Timing] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # input file -> content hash
    train_sizes: dict[str, int] = field(default_factory=dict)  # corpus -> train posts (capped)
    started: float = field(default_factory=time.perf_counter)  # for "N min elapsed"
    progress: bool = False  # shared steps print their progress (the parent, not the workers)

    def inputs_of(self, *names: str) -> dict[str, str]:
        """The fingerprints of the named inputs (those this run has)."""
        return {n: self.inputs[n] for n in names if n in self.inputs}

    @property
    def cache(self) -> Path:
        return self.out / "cache"

    def timed(self, step: str, t0: float) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.timings.append(Timing(step, round(time.perf_counter() - t0, 1), round(peak, 1)))
        log.info("%s: %.1f s, peak RSS %.0f MB", step, self.timings[-1].seconds, peak)


def _cap(posts: list[Post], n: int) -> list[Post]:
    return posts[:n] if n > 0 else posts


def load_corpora(ctx: Context, write_gold: bool = True) -> None:
    """Read both corpora's splits (capped by ``data.max_posts``) with unified type names.

    The gold test posts go to ``<out>/data/`` unless ``write_gold`` is False (worker processes
    write only their own cell directories).
    """
    cfg = ctx.cfg
    for corpus in ("cmner", "twitter2015"):
        for split in SPLITS:
            raw = _cap(load_split(corpus, split, cfg.data.data_dir), cfg.data.max_posts)
            ctx.corpora[corpus, split] = artefacts.unified(raw)
            ctx.corpora[corpus, f"{split}:raw"] = raw
        ctx.train_sizes[corpus] = len(ctx.corpora[corpus, "train"])
        gold = ctx.out / "data" / f"{corpus}-test.txt"
        if write_gold:
            write_corpus(ctx.corpora[corpus, "test:raw"], gold, get_spec(corpus).fmt)
            manifest.record(gold)
        ctx.gold_test[corpus] = gold


def translations_needed(cfg: ExperimentConfig) -> list[str]:
    """The directions whose schedules read a translated source (TGT, SRC&TGT)."""
    return list(cfg.directions) if {"TGT", "SRC&TGT"} & set(cfg.schedules) else []


def _translation_inputs(ctx: Context, d: Direction) -> dict[str, str]:
    return ctx.inputs_of(inputs.corpus_input(d.source, "train"), "translate.lexicon", "cc-cedict")


def translation_dir(ctx: Context, name: str) -> Path:
    """Where ``prepare_translations`` finds or puts direction ``name``'s translated train split."""
    d = DIRECTIONS[name]
    source = ctx.corpora[d.source, "train:raw"]
    return artefacts.translation_dir(ctx.cfg, d, source, ctx.cache, _translation_inputs(ctx, d))


def prepare_translations(ctx: Context) -> None:
    """Translate each needed direction's source train split into the target language."""
    for name in translations_needed(ctx.cfg):
        t0 = time.perf_counter()
        d = DIRECTIONS[name]
        posts, report = artefacts.translated_train(
            ctx.cfg, d, ctx.corpora[d.source, "train:raw"], ctx.cache,
            _translation_inputs(ctx, d), progress=ctx.progress,
        )  # fmt: skip
        ctx.translations[name] = artefacts.unified(posts)
        ctx.translation_reports[name] = report
        ctx.timed(f"translate {d.source} train -> {d.target_lang}", t0)


def _training_posts(ctx: Context) -> list[Post]:
    """The train splits and their translations: the only text any model input is learnt from."""
    posts = [p for (c, s), ps in ctx.corpora.items() if s == "train" for p in ps]
    return posts + [p for ps in ctx.translations.values() for p in ps]


def _all_posts(ctx: Context) -> list[Post]:
    """Every post a cell reads (dev and test included): the tokens that need a vector."""
    posts = [p for (c, s), ps in ctx.corpora.items() if ":" not in s for p in ps]
    return posts + [p for ps in ctx.translations.values() for p in ps]


def prepare_acn(ctx: Context) -> None:
    """Aligned word vectors for every token the cells will read, and the character vocabulary."""
    from xmner.models.vocab import (
        build_bigram_vocab,
        build_char_vocab,
        build_vocab,
        load_embeddings,
    )

    t0 = time.perf_counter()
    posts = _training_posts(ctx)  # vocabularies and fastText never see dev or test text
    shared = {"chars": build_char_vocab(posts), "bigrams": build_bigram_vocab(posts)}
    if ctx.cfg.embed.mode == "random":  # no pretrained vectors: uniform [-0.25, 0.25], trained
        ctx.resources["acn"] = {
            "words": build_vocab(posts),
            "embeddings": None,
            "alignment_metrics": None,
            **shared,
        }
        return
    texts, tokens, unseen, used = _vector_inputs(ctx)
    vocab, matrix, metrics = artefacts.acn_vectors(
        ctx.cfg, texts, tokens, ctx.cache, unseen, used, progress=ctx.progress
    )
    words, emb = load_embeddings(vocab, matrix)
    ctx.resources["acn"] = {
        "words": words,
        "embeddings": emb,
        "alignment_metrics": metrics.relative_to(ctx.out).as_posix() if metrics else None,
        **shared,
    }
    ctx.timed(
        "embeddings (fastText + alignment)"
        if ctx.cfg.embed.mode == "train"
        else "embeddings (aligned .vec)",
        t0,
    )


def _vector_inputs(ctx: Context) -> tuple[dict, list[str], list[str], dict[str, str]]:
    """What ACN's word vectors are made from: texts, tokens, dev/test-only tokens, input files."""
    posts = _training_posts(ctx)
    texts = {
        "en": [p.tokens for p in posts if p.lang == "en"],
        "zh": [p.tokens for p in posts if p.lang == "zh"],
    }
    # training tokens get a row each; a dev/test-only token only where it has a vector
    tokens = sorted({t for p in posts for t in p.tokens})
    unseen = sorted({t for p in _all_posts(ctx) for t in p.tokens} - set(tokens))
    used = {k: v for k, v in ctx.inputs.items() if not k.startswith("images:")}
    return texts, tokens, unseen, used


def vectors_dir(ctx: Context) -> Path:
    """Where ``prepare_acn`` finds or puts the word vectors (needs the translations read)."""
    texts, tokens, unseen, used = _vector_inputs(ctx)
    return artefacts.embedding_dir(ctx.cfg, texts, tokens, ctx.cache, unseen, used)


def prepare_umt(ctx: Context) -> None:
    """The UMT tokenizer: from ``umt.bert`` or, for a random encoder, trained on the corpora."""
    from xmner.models.umt import load_tokenizer

    section = ctx.cfg.umt
    if section.bert_config:
        texts = [p.tokens for p in _training_posts(ctx)]
        ctx.resources["umt"] = {"tokenizer": artefacts.wordpiece_tokenizer(texts, ctx.cache)}
    elif section.bert:
        ctx.resources["umt"] = {"tokenizer": load_tokenizer(section.bert)}
    else:
        raise ValueError(
            "UMT needs BERT weights: --set umt.bert=PATH_OR_HUB_ID "
            "(e.g. bert-base-multilingual-cased)"
        )


def model_config(ctx: Context, model: str, target: str) -> dict:
    """The model's config fields for cells whose target corpus is ``target``."""
    section = getattr(ctx.cfg, model)
    return {**section.config, **section.target_config.get(target, {})}


def _with_regions(ctx: Context, model: str, raw: dict) -> dict:
    """``raw`` with the image regions' shape of the model's backbone (it decides, not a preset).

    A configured ``regions`` / ``region_dim`` that disagrees with the backbone is an error.
    """
    if not raw["use_images"]:
        return raw
    section = getattr(ctx.cfg, model)
    shape = dict(zip(("regions", "region_dim"), artefacts.region_shape(ctx.cfg, section)))
    for name, value in shape.items():
        if name in raw and raw[name] != value:
            raise ValueError(
                f"{model}.config.{name} = {raw[name]}, but its image backbone gives {value} "
                "(leave it unset: the backbone decides)"
            )
    return raw | shape


def build_model(ctx: Context, model: str, use_images: bool, target: str) -> torch.nn.Module:
    """A fresh model with the unified label set (seeded by the caller)."""
    from xmner.config import from_dict

    if model == "acn":
        from xmner.models.acn import ACN, ACNConfig

        res = ctx.resources["acn"]
        raw = _with_regions(
            ctx, model, {**model_config(ctx, model, target), "use_images": use_images}
        )
        if res["embeddings"] is not None:
            raw["word_dim"] = int(res["embeddings"].shape[1])
        config = from_dict(ACNConfig, raw, "acn.config")
        bigrams = res["bigrams"] if config.bigram_dim else None
        clusters = None
        if config.cluster_dim:  # the table loads only for a recipe that uses it
            from xmner.models.clusters import build_cluster_vocab

            if "clusters" not in res:
                res["clusters"] = build_cluster_vocab(_training_posts(ctx))
            clusters = res["clusters"]
        return ACN(config, LABELS, res["words"], res["chars"], res["embeddings"], bigrams, clusters)
    from xmner.models.umt import UMT, UMTConfig

    section = ctx.cfg.umt
    raw = _with_regions(ctx, model, {**model_config(ctx, model, target), "use_images": use_images})
    tokenizer = ctx.resources["umt"]["tokenizer"]
    if section.bert_config:
        raw["bert_config"] = {**section.bert_config, "vocab_size": len(tokenizer)}
    elif section.bert:
        raw["bert"] = section.bert
    config = from_dict(UMTConfig, raw, "umt.config")
    return UMT(config, LABELS, tokenizer)


def _examples(ctx: Context, model: str, posts: list[Post], images: str) -> list[tuple]:
    """(post, regions or None) pairs; region features are computed once per (model, mode, post)."""
    missing = [p for p in posts if (model, images, p.corpus, p.id) not in ctx.features]
    if missing:
        section = getattr(ctx.cfg, model)
        feats = artefacts.region_features(
            ctx.cfg, section, missing, ctx.cache, images, progress=ctx.progress
        )
        for post, regions in zip(missing, feats, strict=True):
            ctx.features[model, images, post.corpus, post.id] = regions
    return [(p, ctx.features[model, images, p.corpus, p.id]) for p in posts]


def _stage_data(ctx: Context, d: Direction, names: tuple[str, ...]) -> tuple[list[Post], list[str]]:
    posts, read = [], []
    for name in names:
        if name == "source":
            posts += ctx.corpora[d.source, "train"]
            read.append(f"{d.source}:train")
        elif name == "translated":
            posts += ctx.translations[d.name]
            read.append(f"{d.source}:train->{d.target_lang}")
        else:
            posts += ctx.corpora[d.target, "train"]
            read.append(f"{d.target}:train")
    return posts, read


def fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """A hash of tensors' values (to prove weights were or were not carried over)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _frozen(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if not p.requires_grad}


#: model settings that change how a cell runs, not its numbers: no part of its key
RUNTIME_ONLY = ("cpu_mmap_threshold_mib",)


def cell_key(cfg: ExperimentConfig, model: str, schedule: str, images: str) -> str:
    """A hash of the settings a cell's result depends on (its stages, data, artefacts)."""
    section = asdict(getattr(cfg, model))
    for config in (section["config"], *section["target_config"].values()):
        for name in RUNTIME_ONLY:
            config.pop(name, None)
    section["target_config"] = {k: v for k, v in section["target_config"].items() if v}
    stages = ("pretrain", "finetune") if schedule != "-" else ("train",)
    for stage in ("train", "pretrain", "finetune"):
        if stage not in stages:
            del section[stage]
    data = {k: v for k, v in asdict(cfg.data).items() if k != "data_dir"} | {"images": images}
    # the vocabularies and word vectors are learnt from every translation the run makes, so
    # the same cell run alone (``xmner train``) or in one direction only is another cell
    return content_hash(
        section,
        data,
        artefacts.translate_key(cfg.translate),
        asdict(cfg.embed),
        cfg.pretrain_select if schedule != "-" else None,
        sorted(translations_needed(cfg)),
    )


def _trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def cell_inputs(ctx: Context, cell: Cell) -> dict[str, str]:
    """The fingerprints of the input files a cell's result depends on."""
    used = dict(ctx.inputs)
    if cell.images == "none":
        used = {k: v for k, v in used.items() if not k.startswith("images:")}
    target = DIRECTIONS[cell.direction].target
    if cell.model == "acn" and model_config(ctx, "acn", target).get("cluster_dim"):
        from xmner.models.clusters import table_file

        used["clusters"] = inputs.fingerprint(table_file())  # the word clusters it embeds
    return used


def run_cell(ctx: Context, cell: Cell) -> dict:
    """Train, select and test one cell; returns (and writes) its results."""
    run_dir = cell.run_dir(ctx.out)
    with distributed.main_lock(run_dir):  # one worker per cell
        return _run_cell(ctx, cell, run_dir)


def _compare(run_dir: Path, key: str, used: dict[str, str]) -> tuple[str, str]:
    """How ``run_dir`` stands against a cell's settings ``key`` and inputs, changing nothing.

    ``("new", "")`` without a ``config.json``, ``("other-settings", "")``, ``("changed", what)``
    or ``("same", "")``; a damaged ``config.json`` is a ``ValueError`` naming it.
    """
    config_path = run_dir / "config.json"
    if not config_path.exists():
        return "new", ""
    config = read_json(manifest.verify(config_path))
    if config.get("key") != key:
        return "other-settings", ""
    changed = inputs.changes(config.get("inputs", {}), used)
    return ("changed", "; ".join(changed)) if changed else ("same", "")


def cell_status(ctx: Context, cell: Cell) -> str:
    """What ``run_cell`` would do with ``cell`` now (done, to do, stops: why); changes nothing."""
    run_dir = cell.run_dir(ctx.out)
    key = cell_key(ctx.cfg, cell.model, cell.schedule, cell.images)
    try:
        state, what = _compare(run_dir, key, cell_inputs(ctx, cell))
    except ValueError as err:
        return f"stops: {err}"
    if state == "other-settings":
        return "stops: made with other settings (use another --out)"
    if state == "changed":
        refuse = ctx.cfg.on_change == "refuse"
        return f"stops: inputs changed ({what})" if refuse else f"to do (inputs changed: {what})"
    results = run_dir / "results.json"
    if state == "same" and results.exists():
        damage = manifest.problem(results)
        return "done" if damage is None else f"stops: {results}: {damage}"
    metrics = run_dir / "metrics.jsonl"
    epochs = len(read_text(metrics).splitlines()) if state == "same" and metrics.exists() else 0
    return f"to do (resumes: {epochs} epoch(s) saved)" if epochs else "to do"


def _reusable(ctx: Context, cell: Cell, run_dir: Path, key: str, used: dict[str, str]) -> bool:
    """Whether ``run_dir`` holds this cell's work to keep; cleared if its inputs changed."""
    state, what = _compare(run_dir, key, used)
    if state == "new":
        return False
    if state == "other-settings":
        raise ValueError(
            f"{run_dir} holds a run made with other settings; to keep it, use another --out, "
            "else delete that directory"
        )
    if state == "same":
        return True
    if ctx.cfg.on_change == "refuse":
        raise ValueError(
            f"{run_dir}: inputs differ from those it was made from ({what}); rerun with "
            "--on-change recompute to recompute it, or use another --out"
        )
    log.warning("%s: inputs changed (%s); recomputing this cell", run_dir, what)
    scalars.discard(run_dir)  # its MLflow runs describe the work that goes now
    for entry in run_dir.iterdir():
        if entry.name != locks.LOCK:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return False


def _run_cell(ctx: Context, cell: Cell, run_dir: Path) -> dict:
    from xmner.models import checkpoint

    direction, model_name, schedule, seed = cell.direction, cell.model, cell.schedule, cell.seed
    cfg, d, p = ctx.cfg, DIRECTIONS[direction], plan(direction, schedule)
    section = getattr(cfg, model_name)
    images = cell.images
    use_images = images != "none"
    key = cell_key(cfg, model_name, schedule, images)
    used = cell_inputs(ctx, cell)
    results_path = run_dir / "results.json"
    # the main process decides (and may clear the folder); every process follows its answer
    if distributed.from_main(
        lambda: _reusable(ctx, cell, run_dir, key, used) and results_path.exists()
    ):
        return read_json(manifest.verify(results_path))
    t0 = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    if distributed.is_main() and not (run_dir / "config.json").exists():
        write_json(run_dir / "config.json", {
            "direction": direction, "model": model_name, "schedule": schedule, "seed": seed,
            "images": images, "table": cell.table, "key": key, "inputs": used,
            "experiment": asdict(cfg),
        })  # fmt: skip
        manifest.record(run_dir / "config.json")
    distributed.wait()
    torch.manual_seed(seed)
    model = build_model(ctx, model_name, use_images, d.target)
    frozen_before, trainable_before = fingerprint(_frozen(model)), fingerprint(_trainable(model))
    target_dev = ctx.corpora[d.target, "dev"]
    stages, fingerprints = [], {}
    if p.pretrain:
        posts, read = _stage_data(ctx, d, p.pretrain)
        select = cfg.pretrain_select
        dev = ctx.corpora[d.source, "dev"] if select == "source-dev" else target_dev
        stage_cfg = StageConfig(**{**asdict(section.pretrain), "select": select != "fixed"})
        result = _fit(ctx, model, cell, posts, dev, stage_cfg, run_dir, "pretrain")
        fingerprints["pretrain_best"] = fingerprint(load_weights(run_dir / "pretrain.best.pt"))
        stages.append(
            {
                **asdict(result),
                "train": read,
                "posts": len(posts),
                "select": None
                if select == "fixed"
                else f"{d.source if select == 'source-dev' else d.target}:dev",
            }
        )
    fingerprints["finetune_start"] = fingerprint(model.state_dict())
    posts, read = _stage_data(ctx, d, p.finetune)
    # "-" trains from scratch (the `train` stage); the others fine-tune what they pretrained
    stage, stage_cfg = ("finetune", section.finetune) if p.pretrain else ("train", section.train)
    result = _fit(ctx, model, cell, posts, target_dev, stage_cfg, run_dir, stage)
    stages.append(
        {**asdict(result), "train": read, "posts": len(posts), "select": f"{d.target}:dev"}
    )
    test = ctx.corpora[d.target, "test"]
    pred = predict(
        model,
        _examples(ctx, model_name, test, images),
        model.collator(),
        section.finetune.eval_batch_size,
        [len(x.tokens) for x in test],
    )
    scores = score([x.tags for x in test], pred)
    target_names = {"MISC": "OTHER"} if "OTHER" in get_spec(d.target).types else {}
    raw_test = ctx.corpora[d.target, "test:raw"]
    main = distributed.is_main()
    if main:
        write_corpus(
            [Post(x.id, x.tokens, rename_types(t, target_names), x.image_ids, x.lang, x.corpus)
             for x, t in zip(raw_test, pred, strict=True)],
            run_dir / "predictions.txt", get_spec(d.target).fmt,
        )  # fmt: skip
        manifest.record(run_dir / "predictions.txt")
        checkpoint.save(run_dir / "best.pt", model, {"direction": direction, "schedule": schedule})
        manifest.record(run_dir / "best.pt")
    report = ctx.translation_reports.get(direction)
    results = {
        "direction": direction, "model": model_name, "schedule": schedule, "seed": seed,
        "table": cell.table, "images": images,
        **scores.to_dict(), "mode": MODE, "test": f"{d.target}:test", "test_posts": len(test),
        "gold_test": ctx.gold_test[d.target].relative_to(ctx.out).as_posix(),
        "stages": stages,
        "fingerprints": {
            **fingerprints, "frozen_params": len(_frozen(model)),
            "frozen_before": frozen_before, "frozen_after": fingerprint(_frozen(model)),
            "trainable_before": trainable_before, "trainable_after": fingerprint(_trainable(model)),
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "translation_report": report.relative_to(ctx.out).as_posix() if report else None,
        "inputs": used,
    }  # fmt: skip
    if main:
        write_json(results_path, results)
        manifest.record(results_path)
    distributed.wait()  # the cell is written before any process moves on
    ctx.timed(f"cell {cell.name}", t0)
    return results


def _fit(ctx, model, cell, posts, dev, stage_cfg, run_dir, stage):
    train = _examples(ctx, cell.model, posts, cell.images)
    dev_examples = _examples(ctx, cell.model, dev, cell.images)
    return fit(
        model, train, dev_examples, model.collator(), stage_cfg, run_dir, stage, cell.seed,
        lengths=[len(p.tokens) for p in posts], dev_gold=[p.tags for p in dev],
        dev_lengths=[len(p.tokens) for p in dev], progress=ctx.cfg.progress, name=cell.name,
        log_to=_log_target(ctx, cell),
    )  # fmt: skip


def _log_target(ctx, cell: Cell) -> scalars.Target:
    """Where ``cell``'s stages log their per-epoch scalars (``log_with``)."""
    tags = {"direction": cell.direction, "model": cell.model, "schedule": cell.schedule}
    tags.update(seed=str(cell.seed), images=cell.images)
    return scalars.Target(
        scalars.resolve(ctx.cfg.log_with), str(ctx.out), Path(ctx.cfg.preset).stem, cell.name, tags
    )


def plan_cells(cfg: ExperimentConfig) -> list[Cell]:
    """Every cell to run, longest first: Tables 3 and 4, then CMNER's image ablation (Table 2).

    Table 2 (text only, one image, all images averaged; target-only on CMNER) is planned
    whenever ``data.image_dirs`` names CMNER's images and ``table2`` is on (``xmner train``,
    one cell, turns it off).
    """
    images = cfg.data.images
    order = {"SRC&TGT": 0, "TGT": 1, "SRC": 2, "-": 3}
    cells = [
        Cell(direction, model, schedule, seed, images)
        for direction in cfg.directions
        for schedule in sorted(cfg.schedules, key=order.__getitem__)
        for model in cfg.models
        for seed in cfg.seeds
    ]
    if cfg.table2 and cfg.data.image_dirs.get("cmner"):
        cells += [
            Cell("en2zh", model, "-", seed, mode, table="table2")
            for model in cfg.models
            for mode in ("none", "one", "all")
            for seed in cfg.seeds
        ]
    return cells


def prepare(
    cfg: ExperimentConfig,
    out: str | Path | None = None,
    fingerprints: dict | None = None,
    worker: bool = False,
) -> Context:
    """Read the corpora and build (or reuse from the cache) every shared artefact.

    ``fingerprints`` of the input files are computed unless given. A ``worker`` process finds
    every artefact made by its parent and writes nothing outside its cells.
    """
    ctx = Context(cfg, Path(out or cfg.out), progress=cfg.progress and not worker)
    t0 = time.perf_counter()
    ctx.inputs = dict(fingerprints) if fingerprints is not None else inputs.fingerprints(cfg)
    load_corpora(ctx, write_gold=not worker)
    ctx.timed("read corpora", t0)
    prepare_translations(ctx)
    if "acn" in cfg.models:
        prepare_acn(ctx)
    if "umt" in cfg.models:
        prepare_umt(ctx)
    return ctx


def prepare_features(ctx: Context, cells: list[Cell]) -> None:
    """Image regions of every post the cells read, computed once before any worker starts."""
    if not ctx.cfg.data.image_dirs:
        return
    t0 = time.perf_counter()
    posts = _all_posts(ctx)
    for model, images in sorted({(c.model, c.images) for c in cells if c.images != "none"}):
        _examples(ctx, model, posts, images)
    ctx.timed("image features", t0)


def worker_count(cfg: ExperimentConfig) -> int:
    """Cells trained at once: ``jobs``, or one per core when 0; one under ``accelerate launch``.

    A launch's processes train each cell together, so they take the cells one at a time.
    """
    if distributed.active():
        if cfg.jobs > 1:
            log.warning("jobs = %d ignored: a launch trains one cell at a time", cfg.jobs)
        return 1
    return cfg.jobs or os.cpu_count() or 1


def worker_threads(cfg: ExperimentConfig) -> int:
    """Torch threads per worker: ``threads`` if set, else the cores shared among the workers.

    Under a launch, the cores are shared among the launch's processes on this machine.
    """
    if cfg.threads > 0:
        return cfg.threads
    sharing = distributed.local_size() if distributed.active() else worker_count(cfg)
    return max(1, (os.cpu_count() or 1) // sharing)


_WORKER: dict[str, Context] = {}


def _worker_init(
    cfg: ExperimentConfig, out: str, level: int, fingerprints: dict, gpus: list[str], counter
) -> None:
    devices.claim_gpu(counter, gpus)  # before anything starts CUDA in this process
    interrupt.ignore_interrupt()  # Ctrl-C reaches every process of the group: the parent decides
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(worker_threads(cfg))
    _WORKER["ctx"] = prepare(cfg, out, fingerprints, worker=True)  # all cached by now: cheap


def _builder_init(level: int, threads: int) -> None:
    interrupt.ignore_interrupt()  # as a worker: the parent decides on Ctrl-C
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(threads)


def _build_shared(cfg: ExperimentConfig, out: str, fingerprints: dict, cells: list[Cell]):
    ctx = prepare(cfg, out, fingerprints)
    prepare_features(ctx, cells)
    return ctx.timings


def prepare_in_child(
    cfg: ExperimentConfig, out: Path, fingerprints: dict, cells: list[Cell]
) -> list[Timing]:
    """Build the shared artefacts in a child process; its step timings.

    What building leaves behind in a process (the lexicon's and jieba's tables, fastText's
    and the alignment's freed heap, kept by glibc: 0.48 GB on the offline preset) then ends
    with the child instead of staying in the parent beside the workers for the whole run.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    level = logging.getLogger().getEffectiveLevel()
    with ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_builder_init,
        initargs=(level, worker_threads(cfg)),
    ) as pool:
        future = pool.submit(_build_shared, cfg, str(out), fingerprints, cells)
        try:
            return future.result()
        except KeyboardInterrupt:
            with interrupt.shielded():
                _stop(pool)
            raise
        except BrokenProcessPool:
            raise ChildProcessError(
                "the process building the shared artefacts ended abruptly (killed, or out of "
                "memory); what it finished is cached: rerun the same command"
            ) from None


def release_posts(ctx: Context) -> None:
    """Drop the posts, vectors and features of ``ctx``, keeping its paths, counts and inputs.

    The parent of the workers reads the artefacts back only for their cache keys (report
    paths, fingerprints); holding them beside the workers for the whole run cost 0.17 GB.
    """
    ctx.corpora.clear()
    ctx.translations.clear()
    ctx.features.clear()
    kept = ("alignment_metrics",)  # what the report names; a new resource is dropped too
    ctx.resources = {
        model: {k: v for k, v in held.items() if k in kept} for model, held in ctx.resources.items()
    }
    gc.collect()
    allocator.trim()


def _worker_run(cell: Cell) -> tuple[dict, list[Timing]]:
    ctx = _WORKER["ctx"]
    done = len(ctx.timings)
    return run_cell(ctx, cell), ctx.timings[done:]


def run_cells(ctx: Context, cells: list[Cell]) -> list[dict]:
    """Run ``cells``: in this process, or ``jobs`` at a time in worker processes."""
    jobs = min(worker_count(ctx.cfg), len(cells))
    finished = _counter(ctx, cells)
    if jobs <= 1:
        return [finished(run_cell(ctx, cell)) for cell in cells]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    level = logging.getLogger().getEffectiveLevel()
    results: dict[Cell, dict] = {}
    spawn = multiprocessing.get_context("spawn")
    counter = spawn.Value("i", 0)  # numbers the workers as they start: worker k gets GPU k mod n
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=spawn,
        initializer=_worker_init,
        initargs=(ctx.cfg, str(ctx.out), level, ctx.inputs, devices.visible_gpus(), counter),
    ) as pool:
        futures = {pool.submit(_worker_run, cell): cell for cell in cells}
        try:
            for future in as_completed(futures):
                result, timings = future.result()
                results[futures[future]] = finished(result)
                ctx.timings += timings
        except KeyboardInterrupt:
            with interrupt.shielded():
                _stop(pool)
            raise
        except BrokenProcessPool:  # a worker was killed: say so in one line, keep the rest
            raise ChildProcessError(
                "a worker process ended abruptly (killed, or out of memory); "
                f"{len(results)} of {len(cells)} cells are done and kept, and a killed cell "
                "resumes from its last saved epoch: rerun the same command"
            ) from None
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [results[cell] for cell in cells]


def _counter(ctx: Context, cells: list[Cell]):
    """A function passing a cell's results through, printing the overall line if asked.

    ``cells 3/8 · 21 min elapsed · about 35 min left``: the time left is estimated again after
    each cell, from the costs measured so far (``estimate``).
    """
    done = 0

    def finished(result: dict) -> dict:
        nonlocal done
        done += 1
        if ctx.cfg.progress and distributed.is_main():  # one line, not one per process
            left = time_left(ctx, cells) if done < len(cells) else None
            elapsed = time.perf_counter() - ctx.started
            say(estimate.overall_line(done, len(cells), elapsed, left))
        return result

    return finished


def time_left(ctx: Context, cells: list[Cell]) -> estimate.Estimate:
    """The estimate of the cells not finished, from what the runs directory holds now."""
    statuses = [cell_status(ctx, cell) for cell in cells]
    return estimate.estimate(
        ctx.cfg, ctx.out, cells, statuses, ctx.train_sizes, worker_count(ctx.cfg)
    )


def _stop(pool) -> None:
    """Cancel the cells not started and end the workers now; a cell resumes at its last epoch."""
    workers = list((pool._processes or {}).values())  # no public handle; shutdown drops it
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join()


def check_inputs(cfg: ExperimentConfig, out: Path, fingerprints: dict[str, str]) -> None:
    """Compare the inputs with the last run's in ``out``: refuse or warn naming what changed."""
    env_path = out / "environment.json"
    if not env_path.exists():
        return
    before = read_json(manifest.verify(env_path)).get("inputs", {})
    # only files both runs read: a run with images off does not "lose" the image folders
    changed = [c for c in inputs.changes(before, fingerprints) if c.endswith(" changed")]
    if not changed:
        return
    what = "; ".join(changed)
    if cfg.on_change == "refuse":
        raise ValueError(
            f"{out}: inputs differ from the last run's ({what}); rerun with --on-change "
            "recompute to recompute what depends on them, or use another --out"
        )
    log.warning("%s: inputs changed since the last run (%s); recomputing what they feed", out, what)


def run_experiment(
    cfg: ExperimentConfig, out: str | Path | None = None
) -> tuple[list[dict], Context]:
    """Every requested cell, then the report under ``<out>/report/``.

    The runs directory is locked for the whole run: a second process on it stops naming the
    holder.
    """
    out = Path(out or cfg.out)
    with distributed.main_lock(out):
        return _run_experiment(cfg, out)


def _run_experiment(cfg: ExperimentConfig, out: Path) -> tuple[list[dict], Context]:
    from xmner.pipelines.environment import environment
    from xmner.pipelines.report import write_report

    t_all = time.perf_counter()
    torch.set_num_threads(worker_threads(cfg))
    fingerprints = distributed.from_main(lambda: inputs.fingerprints(cfg))
    main = distributed.is_main()
    if main:
        check_inputs(cfg, out, fingerprints)
        env = environment(fingerprints, worker_threads(cfg))
        if distributed.active():
            env["processes"] = distributed.world_size()  # data-parallel under a launcher
        write_json(out / "environment.json", env)
        manifest.record(out / "environment.json")
    cells = plan_cells(cfg)
    # with workers to come, a child builds the artefacts and this process only reads them back
    built = None
    if main and not distributed.active() and min(worker_count(cfg), len(cells)) > 1:
        built = prepare_in_child(cfg, out, fingerprints, cells)
    t0 = time.perf_counter()
    with distributed.main_first():  # the main process makes the artefacts, the others read them
        ctx = prepare(cfg, out, fingerprints, worker=not main or built is not None)
    ctx.started = t_all
    if built is None:
        with distributed.main_first():
            prepare_features(ctx, cells)
    else:  # the workers read the image features from the cache themselves
        ctx.timings = built
        release_posts(ctx)  # the workers read their own; this process keeps paths and counts
        ctx.timed(estimate.READ_BACK, t0)
    results = run_cells(ctx, cells)
    if not main:  # the report is the main process's
        return results, ctx
    t0 = time.perf_counter()
    notes = [
        f"Translation report ({name}): `{path.relative_to(ctx.out).as_posix()}`"
        for name, path in ctx.translation_reports.items()
    ]
    metrics = ctx.resources.get("acn", {}).get("alignment_metrics")
    if metrics:
        notes.append(f"Embedding alignment metrics: `{metrics}`")
    write_report(ctx.out, extra_notes=notes, bootstrap_samples=cfg.bootstrap_samples)
    ctx.timed("report", t0)
    ctx.timed("total", t_all)
    write_json(ctx.out / "report" / "timings.json", [asdict(t) for t in ctx.timings])
    manifest.record(ctx.out / "report" / "timings.json")
    return results, ctx
