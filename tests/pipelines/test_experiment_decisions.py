"""experiment.py's decisions without training: cells, keys, stage data, reuse, workers, inputs.

Synthetic configs (the smoke preset with overrides), tiny hand-made posts and temporary run
directories; every heavy step (translation, word vectors, image regions, tokenizers, training)
is replaced by a recorder. Seconds in all, so it runs under mutation testing (see
``tests/pipelines/test_experiment.py`` for the same paths end to end).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from xmner import io, manifest, scalars
from xmner.data.corpus import Post, read_corpus
from xmner.pipelines import artefacts, estimate, experiment, inputs
from xmner.pipelines.config import load_experiment
from xmner.pipelines.experiment import Cell, Context
from xmner.pipelines.schedules import DIRECTIONS, SCHEDULES, plan

LANG = {"cmner": "zh", "twitter2015": "en"}
OTHER = {"cmner": "twitter2015", "twitter2015": "cmner"}


def _cfg(*overrides: str):
    return load_experiment("smoke", list(overrides))


def _posts(corpus: str, split: str, lang: str | None = None, n: int = 2) -> list[Post]:
    """``n`` posts whose ids and first tokens say where they come from; all share ``common``."""
    lang = lang or LANG[corpus]
    return [
        Post(f"{corpus}-{split}-{i}", [f"{corpus}.{split}.{i}", "common"], ["O", "O"], [f"img{i}"],
             lang, corpus)
        for i in range(n)
    ]  # fmt: skip


def _context(tmp_path: Path, cfg=None, fingerprints: dict | None = None) -> Context:
    """Both corpora (each split, and its raw copy) and both translations, as ``prepare`` holds."""
    ctx = Context(cfg or _cfg(), tmp_path / "runs")
    for corpus in ("cmner", "twitter2015"):
        for split in ("train", "dev", "test"):
            ctx.corpora[corpus, split] = _posts(corpus, split)
            ctx.corpora[corpus, f"{split}:raw"] = _posts(corpus, f"{split}-raw")
        ctx.train_sizes[corpus] = len(ctx.corpora[corpus, "train"])
    for name, d in DIRECTIONS.items():  # the source's ids, in the target language
        ctx.translations[name] = [
            Post(p.id, [f"{name}.{p.tokens[0]}"], ["O"], [], d.target_lang, f"{d.source}-tr")
            for p in _posts(d.source, "train")
        ]
    ctx.inputs = dict(fingerprints or {})
    return ctx


def _ids(posts: list[Post]) -> list[tuple[str, str, str]]:
    return [(p.corpus, p.id, p.lang) for p in posts]


# ---- cells ---------------------------------------------------------------------------------


def test_cell_name_and_run_dir(tmp_path):
    main = Cell("zh2en", "umt", "SRC&TGT", 3)
    assert (main.images, main.table) == ("none", "main")
    assert main.name == "zh2en/umt/SRC&TGT seed 3"
    assert main.run_dir(tmp_path) == tmp_path / "zh2en" / "umt" / "SRC&TGT" / "seed3"
    scratch = Cell("en2zh", "acn", "-", 1, "all")
    assert scratch.name == "en2zh/acn/- seed 1"  # images named for Table 2 cells only
    assert scratch.run_dir(tmp_path) == tmp_path / "en2zh" / "acn" / "target-only" / "seed1"
    ablation = Cell("en2zh", "acn", "-", 2, "one", table="table2")
    assert ablation.name == "en2zh/acn/- seed 2 images one"
    assert ablation.run_dir(tmp_path) == tmp_path / "table2" / "acn" / "one" / "seed2"


def test_plan_cells_longest_schedule_first_then_models_then_seeds():
    cfg = _cfg('directions=["zh2en", "en2zh"]', 'models=["umt", "acn"]', "seeds=[2, 1]")
    cells = experiment.plan_cells(cfg)
    expected = [
        Cell(d, m, s, seed)
        for d in ("zh2en", "en2zh")
        for s in ("SRC&TGT", "TGT", "SRC", "-")
        for m in ("umt", "acn")
        for seed in (2, 1)
    ]
    assert cells == expected
    assert all(c.images == "none" and c.table == "main" for c in cells)
    one = experiment.plan_cells(_cfg('schedules=["SRC", "-", "TGT"]', 'directions=["en2zh"]'))
    assert [c.schedule for c in one] == ["TGT", "SRC", "-"]


def test_plan_cells_adds_table2_only_with_cmner_images_and_table2_on():
    cmner = 'data.image_dirs={cmner="/img/cmner"}'
    cfg = _cfg(
        cmner, 'directions=["zh2en"]', 'schedules=["-"]', "seeds=[1, 2]", 'data.images="one"'
    )
    cells = experiment.plan_cells(cfg)
    assert cells[:2] == [Cell("zh2en", "acn", "-", 1, "one"), Cell("zh2en", "acn", "-", 2, "one")]
    assert cells[2:] == [
        Cell("en2zh", "acn", "-", seed, mode, table="table2")
        for mode in ("none", "one", "all")
        for seed in (1, 2)
    ]
    assert len(experiment.plan_cells(_cfg(cmner, "table2=false"))) == 8
    assert len(experiment.plan_cells(_cfg('data.image_dirs={twitter2015="/img/tw"}'))) == 8
    assert len(experiment.plan_cells(_cfg(cmner))) == 8 + 3


def test_translations_needed_only_for_schedules_that_read_a_translation():
    assert experiment.translations_needed(_cfg('schedules=["-", "SRC"]')) == []
    for schedule in ("TGT", "SRC&TGT"):
        cfg = _cfg(f'schedules=["{schedule}"]', 'directions=["zh2en", "en2zh"]')
        assert experiment.translations_needed(cfg) == ["zh2en", "en2zh"]
    assert experiment.translations_needed(_cfg('directions=["en2zh"]')) == ["en2zh"]


# ---- cell keys -----------------------------------------------------------------------------


def _key(*overrides: str, model: str = "acn", schedule: str = "TGT", images: str = "none"):
    return experiment.cell_key(_cfg(*overrides), model, schedule, images)


def test_cell_key_changes_with_the_stages_a_schedule_runs():
    base, scratch = _key(), _key(schedule="-")
    assert len(base) == 16 and base == _key()  # stable
    assert base != scratch
    # SRC, TGT and SRC&TGT run the same stages on the same artefacts: one key (their folders differ)
    assert _key(schedule="SRC") == base == _key(schedule="SRC&TGT")
    assert _key("acn.pretrain.lr=0.5") != base and _key("acn.finetune.lr=0.5") != base
    assert _key("acn.train.lr=0.5") == base  # the "-" stage: not run by TGT
    assert _key("acn.train.lr=0.5", schedule="-") != scratch
    for unread in ("acn.pretrain.lr=0.5", "acn.finetune.lr=0.5", 'pretrain_select="fixed"'):
        assert _key(unread, schedule="-") == scratch, unread
    assert _key('pretrain_select="fixed"') != base


def test_cell_key_changes_with_settings_data_and_artefacts_not_with_paths_or_workers():
    base = _key()
    changed = [
        "acn.config.hidden=32", "data.max_posts=5", 'translate.engine="marian"',
        "translate.beams=5", "embed.dim=8", 'acn.target_config={cmner={dropout=0.5}}',
    ]  # fmt: skip
    for override in changed:
        assert _key(override) != base, override
    assert _key(images="one") != base
    # the cell's image mode decides, not the run's (a Table 2 cell of any run is the same cell)
    folders = 'data.image_dirs={cmner="/i"}'
    one = _key(folders, images="one", schedule="-")
    assert one == _key(folders, 'data.images="all"', images="one", schedule="-")
    assert one != _key(folders, 'data.images="all"', images="all", schedule="-")
    assert _key(model="umt") != base
    same = [
        'data.data_dir="/elsewhere"', 'out="/elsewhere"', "seeds=[7]", "jobs=3", "threads=2",
        "umt.config.max_len=64", 'models=["acn", "umt"]', "progress=true",
        "bootstrap_samples=5", 'on_change="refuse"',
    ]  # fmt: skip
    for override in same:
        assert _key(override) == base, override
    # the translations the vocabularies are learnt from: both directions unless one is asked
    assert _key('directions=["en2zh"]') != base
    assert _key('directions=["zh2en", "en2zh"]') == base
    assert _key('schedules=["-"]', schedule="-") != _key(schedule="-")


# ---- what each stage reads -----------------------------------------------------------------


@pytest.mark.parametrize("direction", ["en2zh", "zh2en"])
def test_stage_data_reads_source_translation_and_target_train_splits(tmp_path, direction):
    ctx = _context(tmp_path)
    d = DIRECTIONS[direction]
    source = _ids(_posts(d.source, "train"))
    translated = [(f"{d.source}-tr", i, d.target_lang) for _, i, _ in source]
    target = _ids(_posts(d.target, "train"))
    src_read, tr_read = f"{d.source}:train", f"{d.source}:train->{d.target_lang}"
    expected = {
        "SRC": (source, [src_read]),
        "TGT": (translated, [tr_read]),
        "SRC&TGT": (source + translated, [src_read, tr_read]),
    }
    for schedule in SCHEDULES:
        p = plan(direction, schedule)
        posts, read = experiment._stage_data(ctx, d, p.pretrain)
        assert (_ids(posts), read) == expected.get(schedule, ([], [])), schedule
        posts, read = experiment._stage_data(ctx, d, p.finetune)
        assert (_ids(posts), read) == (target, [f"{d.target}:train"]), schedule
    # TGT reads the translation, in the target language, not the source it came from
    posts, _ = experiment._stage_data(ctx, d, ("translated",))
    assert {p.lang for p in posts} == {d.target_lang}
    assert [p.tokens for p in posts] == [[f"{direction}.{d.source}.train.{i}"] for i in (0, 1)]
    # any names, in their order; the corpora themselves are never extended
    posts, read = experiment._stage_data(ctx, d, ("translated", "source", "target"))
    assert (_ids(posts), read) == (translated + source + target, [tr_read, src_read, read[2]])
    assert read[2] == f"{d.target}:train"
    assert _ids(ctx.corpora[d.source, "train"]) == source
    assert _ids(ctx.corpora[d.target, "train"]) == target
    assert len(ctx.translations[direction]) == 2


def test_training_posts_are_train_splits_and_translations_only(tmp_path):
    ctx = _context(tmp_path)
    ids = [p.id for p in experiment._training_posts(ctx)]
    assert ids == [
        "cmner-train-0", "cmner-train-1", "twitter2015-train-0", "twitter2015-train-1",
        "twitter2015-train-0", "twitter2015-train-1", "cmner-train-0", "cmner-train-1",
    ]  # fmt: skip
    corpora = [p.corpus for p in experiment._training_posts(ctx)]
    assert corpora[4:] == ["twitter2015-tr"] * 2 + ["cmner-tr"] * 2
    every = experiment._all_posts(ctx)
    splits = [p.id.split("-")[1] for p in every[:12]]
    assert splits == ["train", "train", "dev", "dev", "test", "test"] * 2
    assert "raw" not in {p.id.split("-")[-2] for p in every}  # the raw copies are the same posts
    assert [p.corpus for p in every[12:]] == ["twitter2015-tr"] * 2 + ["cmner-tr"] * 2
    assert len(every) == 16


def test_vector_inputs_learn_from_training_text_and_list_dev_test_tokens_apart(tmp_path):
    images = {"images:cmner": "i1", "images:twitter2015": "i2"}
    files = {"cmner/train.txt": "a", "cc-cedict": "b", **images}
    ctx = _context(tmp_path, fingerprints=files)
    texts, tokens, unseen, used = experiment._vector_inputs(ctx)
    train_en = [["twitter2015.train.0", "common"], ["twitter2015.train.1", "common"]]
    train_zh = [["cmner.train.0", "common"], ["cmner.train.1", "common"]]
    assert texts == {
        "en": train_en + [["zh2en.cmner.train.0"], ["zh2en.cmner.train.1"]],
        "zh": train_zh + [["en2zh.twitter2015.train.0"], ["en2zh.twitter2015.train.1"]],
    }
    assert tokens == sorted({t for ts in texts["en"] + texts["zh"] for t in ts})
    assert unseen == [f"{c}.{s}.{i}" for c in ("cmner", "twitter2015") for s in ("dev", "test")
                      for i in (0, 1)]  # fmt: skip
    assert "common" in tokens and "common" not in unseen  # in dev too, but learnt from train
    assert used == {"cmner/train.txt": "a", "cc-cedict": "b"}  # the vectors see no images
    assert ctx.inputs == files
    expected = artefacts.embedding_dir(ctx.cfg, texts, tokens, ctx.cache, unseen, used)
    assert experiment.vectors_dir(ctx) == expected
    assert expected.parent == tmp_path / "runs" / "cache" / "embeddings"
    ctx.inputs["cc-cedict"] = "c"
    assert experiment.vectors_dir(ctx) != expected
    ctx.inputs = dict(files)
    ctx.corpora["cmner", "dev"][0].tokens[0] = "other"
    assert experiment.vectors_dir(ctx) != expected  # the optional rows are part of the key


def test_prepare_acn_random_vocabularies_come_from_training_text(tmp_path):
    ctx = _context(tmp_path, _cfg('embed.mode="random"'))
    experiment.prepare_acn(ctx)
    res = ctx.resources["acn"]
    words = set(res["words"])
    assert {"cmner.train.0", "en2zh.twitter2015.train.1", "common", "<pad>"} <= words
    assert not {t for t in words if ".dev." in t or ".test." in t or "raw" in t}
    assert res["embeddings"] is None and res["alignment_metrics"] is None
    assert "<pad>" in res["chars"] and "v" not in res["chars"]  # "dev" has the only v
    assert "cmner.train.0 common" in res["bigrams"]
    assert not any(".dev." in b for b in res["bigrams"])
    assert ctx.timings == []


@pytest.mark.parametrize("mode", ["train", "vec"])
def test_prepare_acn_vectors_get_training_texts_and_unseen_tokens(tmp_path, monkeypatch, mode):
    ctx = _context(tmp_path, _cfg(f'embed.mode="{mode}"'), {"cc-cedict": "b", "images:x": "i"})
    ctx.progress = True
    calls = []

    def vectors(cfg, texts, tokens, cache, unseen, used, progress=False):
        calls.append((cfg, texts, tokens, cache, unseen, used, progress))
        folder = cache / "embeddings" / "x"
        folder.mkdir(parents=True)
        (folder / "vocab.txt").write_text("<pad>\n<unk>\ncommon\n")
        np.save(folder / "matrix.npy", np.ones((3, 4), dtype=np.float32))
        return folder / "vocab.txt", folder / "matrix.npy", folder / "metrics.json"

    monkeypatch.setattr(experiment.artefacts, "acn_vectors", vectors)
    experiment.prepare_acn(ctx)
    texts, tokens, unseen, used = experiment._vector_inputs(ctx)
    assert calls == [(ctx.cfg, texts, tokens, ctx.cache, unseen, used, True)]
    res = ctx.resources["acn"]
    assert res["words"] == ["<pad>", "<unk>", "common"]
    assert res["embeddings"].shape == (3, 4)
    assert res["alignment_metrics"] == "cache/embeddings/x/metrics.json"
    assert "<unk>" in res["chars"] and "cmner.train.0 common" in res["bigrams"]
    step = "embeddings (fastText + alignment)" if mode == "train" else "embeddings (aligned .vec)"
    assert [t.step for t in ctx.timings] == [step]


def test_prepare_acn_without_alignment_metrics(tmp_path, monkeypatch):
    ctx = _context(tmp_path)

    def vectors(cfg, texts, tokens, cache, unseen, used, progress=False):
        cache.mkdir(parents=True)
        (cache / "v.txt").write_text("<pad>\n<unk>\n")
        np.save(cache / "m.npy", np.zeros((2, 3), dtype=np.float32))
        return cache / "v.txt", cache / "m.npy", None

    monkeypatch.setattr(experiment.artefacts, "acn_vectors", vectors)
    experiment.prepare_acn(ctx)
    assert ctx.resources["acn"]["alignment_metrics"] is None


def test_prepare_umt_tokenizer_from_training_text_or_named_weights(tmp_path, monkeypatch):
    seen = []
    wordpiece = lambda texts, cache: seen.append((texts, cache)) or "wp"  # noqa: E731
    monkeypatch.setattr(experiment.artefacts, "wordpiece_tokenizer", wordpiece)
    ctx = _context(tmp_path)
    experiment.prepare_umt(ctx)  # the smoke preset: a random BERT of a given shape
    assert ctx.resources["umt"] == {"tokenizer": "wp"}
    assert seen == [([p.tokens for p in experiment._training_posts(ctx)], ctx.cache)]
    import xmner.models.umt

    monkeypatch.setattr(xmner.models.umt, "load_tokenizer", lambda name: f"tok:{name}")
    ctx = _context(tmp_path, _cfg('umt.bert="some/bert"'))
    ctx.cfg.umt.bert_config = {}  # (a --set table merges into the preset's, so set it here)
    experiment.prepare_umt(ctx)
    assert ctx.resources["umt"] == {"tokenizer": "tok:some/bert"}
    ctx.cfg.umt.bert = None
    with pytest.raises(
        ValueError, match=r"^UMT needs BERT weights: --set umt.bert=PATH_OR_HUB_ID \(e"
    ):
        experiment.prepare_umt(ctx)
    assert len(seen) == 1


# ---- corpora and translations --------------------------------------------------------------


def test_load_corpora_caps_unifies_and_writes_gold_unless_a_worker(tmp_path, monkeypatch):
    asked = []

    def load_split(corpus, split, root):
        asked.append((corpus, split, root))
        tag = "B-OTHER" if corpus == "cmner" else "B-MISC"
        return [
            Post(f"{split}{i}", ["w", "x"], [tag, "O"], [], LANG[corpus], corpus)
            for i in range({"train": 3, "dev": 4, "test": 5}[split])
        ]

    monkeypatch.setattr(experiment, "load_split", load_split)
    cfg = _cfg('data.data_dir="/data"', "data.max_posts=2")
    ctx = Context(cfg, tmp_path / "runs")
    experiment.load_corpora(ctx)
    assert asked == [
        (c, s, "/data") for c in ("cmner", "twitter2015") for s in ("train", "dev", "test")
    ]
    assert list(ctx.corpora) == [
        (c, s) for c in ("cmner", "twitter2015") for split in ("train", "dev", "test")
        for s in (split, f"{split}:raw")
    ]  # fmt: skip
    assert [p.id for p in ctx.corpora["cmner", "dev"]] == ["dev0", "dev1"]
    assert ctx.train_sizes == {"cmner": 2, "twitter2015": 2}  # the capped train splits
    assert ctx.corpora["cmner", "test"][0].tags == ["B-MISC", "O"]  # unified
    assert ctx.corpora["cmner", "test:raw"][0].tags == ["B-OTHER", "O"]  # as written
    for corpus in ("cmner", "twitter2015"):
        gold = tmp_path / "runs" / "data" / f"{corpus}-test.txt"
        assert ctx.gold_test[corpus] == gold
        assert manifest.problem(gold) is None
        assert [p.tags for p in read_corpus(gold)] == [
            p.tags for p in ctx.corpora[corpus, "test:raw"]
        ]
    uncapped = Context(_cfg("data.max_posts=0"), tmp_path / "worker")
    experiment.load_corpora(uncapped, write_gold=False)
    assert len(uncapped.corpora["twitter2015", "train"]) == 3
    assert uncapped.train_sizes == {"cmner": 3, "twitter2015": 3}  # train, not dev (4) or test
    assert uncapped.gold_test["cmner"] == tmp_path / "worker" / "data" / "cmner-test.txt"
    assert not (tmp_path / "worker").exists()


def test_cap():
    posts = _posts("cmner", "train", n=3)
    assert experiment._cap(posts, 1) == posts[:1]
    assert experiment._cap(posts, 2) == posts[:2]
    assert experiment._cap(posts, 0) == posts


def test_translations_are_keyed_by_the_source_train_split_and_its_inputs(tmp_path, monkeypatch):
    files = {"twitter2015/train.txt": "t", "cmner/train.txt": "c", "translate.lexicon": "l",
             "cc-cedict": "d", "twitter2015/test.txt": "x", "images:cmner": "i"}  # fmt: skip
    ctx = _context(tmp_path, _cfg('schedules=["TGT"]'), files)
    mine = {"twitter2015/train.txt": "t", "translate.lexicon": "l", "cc-cedict": "d"}
    assert experiment._translation_inputs(ctx, DIRECTIONS["en2zh"]) == mine
    d = DIRECTIONS["zh2en"]
    source = ctx.corpora["cmner", "train:raw"]
    theirs = {"cmner/train.txt": "c", "translate.lexicon": "l", "cc-cedict": "d"}
    expected = artefacts.translation_dir(ctx.cfg, d, source, ctx.cache, theirs)
    assert experiment.translation_dir(ctx, "zh2en") == expected
    assert experiment.translation_dir(ctx, "en2zh") != expected
    calls = []

    def translated(cfg, d, posts, cache, used, progress=False):
        calls.append((d.name, [p.id for p in posts], cache, used, progress, cfg))
        out = [
            Post(p.id, p.tokens, ["B-OTHER"] * len(p.tokens), [], d.target_lang, "t") for p in posts
        ]
        return out, cache / f"{d.name}.md"

    monkeypatch.setattr(experiment.artefacts, "translated_train", translated)
    ctx.progress = True
    experiment.prepare_translations(ctx)
    raw_ids = ["twitter2015-train-raw-0", "twitter2015-train-raw-1"]
    assert calls[0] == ("en2zh", raw_ids, ctx.cache, mine, True, ctx.cfg)
    assert [c[0] for c in calls] == ["en2zh", "zh2en"]
    assert ctx.translations["zh2en"][0].tags == ["B-MISC", "B-MISC"]  # unified
    assert ctx.translation_reports == {n: ctx.cache / f"{n}.md" for n in ("en2zh", "zh2en")}
    assert [t.step for t in ctx.timings] == ["translate twitter2015 train -> zh",
                                            "translate cmner train -> en"]  # fmt: skip
    ctx = _context(tmp_path, _cfg('schedules=["-", "SRC"]'))
    ctx.translations.clear()
    experiment.prepare_translations(ctx)
    assert ctx.translations == {} and len(calls) == 2


# ---- models' settings and image regions ----------------------------------------------------


def test_model_config_applies_the_target_corpus_recipe(tmp_path):
    ctx = _context(tmp_path, _cfg("acn.target_config={cmner={dropout=0.3, hidden=4}}"))
    cmner = experiment.model_config(ctx, "acn", "cmner")
    assert (cmner["dropout"], cmner["hidden"], cmner["char_dim"]) == (0.3, 4, 8)
    twitter = experiment.model_config(ctx, "acn", "twitter2015")
    assert (twitter["dropout"], twitter["hidden"]) == (0.0, 16)
    assert ctx.cfg.acn.config["hidden"] == 16  # the section is not changed
    assert experiment.model_config(ctx, "umt", "cmner") == {
        "freeze_bottom_layers": 3,
        "max_len": 256,
    }


def test_with_regions_takes_the_backbones_shape(tmp_path, monkeypatch):
    ctx = _context(tmp_path, _cfg('umt.backbone="vgg16"'))
    sections = []
    shape = lambda cfg, s: sections.append((s.backbone, cfg)) or (49, 32)  # noqa: E731
    monkeypatch.setattr(experiment.artefacts, "region_shape", shape)
    raw = {"use_images": False, "regions": 3}
    assert experiment._with_regions(ctx, "acn", raw) is raw and sections == []
    got = experiment._with_regions(ctx, "umt", {"use_images": True, "hidden": 4})
    assert got == {"use_images": True, "hidden": 4, "regions": 49, "region_dim": 32}
    assert sections == [("vgg16", ctx.cfg)]
    same = {"use_images": True, "regions": 49, "region_dim": 32}
    assert experiment._with_regions(ctx, "acn", dict(same)) == same
    assert [s for s, _ in sections] == ["vgg16", "resnet152"]
    message = (
        r"^acn.config.region_dim = 64, but its image backbone gives 32 \(leave it unset: the "
        r"backbone decides\)$"
    )
    with pytest.raises(ValueError, match=message):
        experiment._with_regions(ctx, "acn", {"use_images": True, "region_dim": 64})
    with pytest.raises(ValueError, match=r"^umt.config.regions = 7, but .* gives 49 "):
        experiment._with_regions(ctx, "umt", {"use_images": True, "regions": 7, "region_dim": 32})


def _fake_regions(monkeypatch, calls: list):
    def region_features(cfg, section, posts, cache, mode=None, progress=False):
        calls.append((section.backbone, [p.id for p in posts], cache, mode, progress, cfg))
        return [f"{section.backbone}:{mode}:{p.corpus}:{p.id}" for p in posts]

    monkeypatch.setattr(experiment.artefacts, "region_features", region_features)


def test_examples_compute_each_posts_regions_once_per_model_and_mode(tmp_path, monkeypatch):
    ctx = _context(tmp_path, _cfg('umt.backbone="vgg16"'))
    ctx.progress = True
    calls = []
    _fake_regions(monkeypatch, calls)
    train = ctx.corpora["cmner", "train"]
    pairs = experiment._examples(ctx, "acn", train, "one")
    assert pairs == [(p, f"resnet152:one:cmner:{p.id}") for p in train]
    assert calls == [
        ("resnet152", ["cmner-train-0", "cmner-train-1"], ctx.cache, "one", True, ctx.cfg)
    ]
    # the same id in another corpus (a translation keeps its source's id) is another post
    tr = ctx.translations["zh2en"][:1]
    both = experiment._examples(ctx, "acn", [*tr, train[1]], "one")
    assert [r for _, r in both] == [
        "resnet152:one:cmner-tr:cmner-train-0",
        "resnet152:one:cmner:cmner-train-1",
    ]
    assert calls[1] == ("resnet152", ["cmner-train-0"], ctx.cache, "one", True, ctx.cfg)
    experiment._examples(ctx, "acn", train, "all")
    experiment._examples(ctx, "umt", train, "one")
    assert [(c[0], c[3]) for c in calls[2:]] == [("resnet152", "all"), ("vgg16", "one")]
    assert len(ctx.features) == 7
    experiment._examples(ctx, "acn", train, "one")
    assert len(calls) == 4  # all cached
    # regions that do not pair up with the posts asked for are an error, not a silent shift
    monkeypatch.setattr(experiment.artefacts, "region_features", lambda *a, **k: [1, 2, 3])
    with pytest.raises(ValueError, match="zip"):
        experiment._examples(ctx, "acn", train, "none")


def test_prepare_features_for_every_image_mode_of_the_cells(tmp_path, monkeypatch):
    calls = []
    _fake_regions(monkeypatch, calls)
    ctx = _context(tmp_path)  # no image folders: nothing to compute
    experiment.prepare_features(ctx, [Cell("en2zh", "acn", "-", 1, "one")])
    assert calls == [] and ctx.timings == []
    ctx = _context(tmp_path, _cfg('data.image_dirs={cmner="/i"}', 'models=["acn", "umt"]'))
    cells = [
        Cell("en2zh", "umt", "-", 1, "one"), Cell("en2zh", "acn", "-", 1, "all"),
        Cell("en2zh", "acn", "-", 2, "all"), Cell("en2zh", "acn", "-", 1, "none"),
        Cell("zh2en", "acn", "TGT", 1, "one"),
    ]  # fmt: skip
    experiment.prepare_features(ctx, cells)
    every = [p.id for p in experiment._all_posts(ctx)]
    assert [(c[0], c[3]) for c in calls] == [
        ("resnet152", "all"),
        ("resnet152", "one"),
        ("resnet152", "one"),
    ]
    assert calls[0][1] == every
    assert [t.step for t in ctx.timings] == ["image features"]


# ---- the inputs a cell depends on ----------------------------------------------------------


def test_cell_inputs_drop_images_without_them_and_add_the_cluster_table(tmp_path, monkeypatch):
    files = {"cmner/train.txt": "a", "images:cmner": "i", "images:twitter2015": "j"}
    ctx = _context(tmp_path, _cfg("acn.target_config={cmner={cluster_dim=4}}"), files)
    table = tmp_path / "clusters.json"
    table.write_text("{}")
    import xmner.models.clusters

    monkeypatch.setattr(xmner.models.clusters, "table_file", lambda: table)
    assert experiment.cell_inputs(ctx, Cell("zh2en", "acn", "-", 1)) == {"cmner/train.txt": "a"}
    assert experiment.cell_inputs(ctx, Cell("zh2en", "acn", "-", 1, "one")) == files
    with_table = experiment.cell_inputs(ctx, Cell("en2zh", "acn", "-", 1))
    assert with_table == {"cmner/train.txt": "a", "clusters": inputs.fingerprint(table)}
    assert experiment.cell_inputs(ctx, Cell("en2zh", "umt", "-", 1)) == {"cmner/train.txt": "a"}
    assert ctx.inputs == files
    assert ctx.inputs_of("images:cmner", "cc-cedict") == {"images:cmner": "i"}
    assert ctx.cache == tmp_path / "runs" / "cache"


def _settle(run_dir: Path, key: str, used: dict, **more) -> None:
    """A cell directory as ``_run_cell`` leaves it: a recorded ``config.json``, and ``more``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(run_dir / "config.json", {"key": key, "inputs": used})
    manifest.record(run_dir / "config.json")
    for name, text in more.items():
        (run_dir / f"{name}.{'jsonl' if name == 'metrics' else 'json'}").write_text(text)
        manifest.record(run_dir / f"{name}.{'jsonl' if name == 'metrics' else 'json'}")


def test_compare_a_run_directory_with_a_cells_settings_and_inputs(tmp_path):
    run_dir = tmp_path / "cell"
    assert experiment._compare(run_dir, "k", {"a": "1"}) == ("new", "")
    _settle(run_dir, "k", {"a": "1", "b": "2"})
    assert experiment._compare(run_dir, "other", {"a": "1", "b": "2"}) == ("other-settings", "")
    assert experiment._compare(run_dir, "k", {"a": "1", "b": "2"}) == ("same", "")
    changed = experiment._compare(run_dir, "k", {"a": "9", "c": "3"})
    assert changed == ("changed", "a changed; c is new; b is gone")
    io.write_json(run_dir / "config.json", {"key": "k"})  # written, not recorded
    with pytest.raises(manifest.DamagedFile, match=r"/cell/config.json: cut: 17 bytes, "):
        experiment._compare(run_dir, "k", {})
    manifest.record(run_dir / "config.json")
    assert experiment._compare(run_dir, "k", {}) == ("same", "")  # no inputs recorded: none
    assert experiment._compare(run_dir, "k", {"a": "1"}) == ("changed", "a is new")


def _status_context(tmp_path, *overrides):
    ctx = _context(tmp_path, _cfg(*overrides), {"cmner/train.txt": "a", "images:cmner": "i"})
    cell = Cell("en2zh", "acn", "-", 1)
    key = experiment.cell_key(ctx.cfg, "acn", "-", "none")
    return ctx, cell, cell.run_dir(ctx.out), key


def test_cell_status_says_what_run_cell_would_do(tmp_path):
    ctx, cell, run_dir, key = _status_context(tmp_path)
    assert experiment.cell_status(ctx, cell) == "to do"
    (run_dir).mkdir(parents=True)
    (run_dir / "results.json").write_text("{}")  # left without a config: not this cell's
    (run_dir / "metrics.jsonl").write_text("{}\n{}\n")
    assert experiment.cell_status(ctx, cell) == "to do"
    _settle(run_dir, key, {"cmner/train.txt": "a"})
    assert experiment.cell_status(ctx, cell) == "stops: " + (
        f"{run_dir / 'results.json'}: not in {run_dir / 'MANIFEST.jsonl'} (never finished "
        "writing, or written by other code)"
    )
    (run_dir / "results.json").unlink()
    assert experiment.cell_status(ctx, cell) == "to do (resumes: 2 epoch(s) saved)"
    (run_dir / "metrics.jsonl").write_text("")
    assert experiment.cell_status(ctx, cell) == "to do"
    (run_dir / "metrics.jsonl").unlink()
    assert experiment.cell_status(ctx, cell) == "to do"
    _settle(run_dir, key, {"cmner/train.txt": "a"}, results="{}", metrics="{}\n")
    assert experiment.cell_status(ctx, cell) == "done"
    other = Cell("en2zh", "acn", "-", 1, "one")  # reads the images: another key
    assert other.run_dir(ctx.out) == run_dir
    assert (
        experiment.cell_status(ctx, other) == "stops: made with other settings (use another --out)"
    )
    ctx.inputs["cmner/train.txt"] = "b"
    assert experiment.cell_status(ctx, cell) == "to do (inputs changed: cmner/train.txt changed)"
    ctx.cfg.on_change = "refuse"
    assert experiment.cell_status(ctx, cell) == "stops: inputs changed (cmner/train.txt changed)"
    ctx.inputs["cmner/train.txt"] = "a"
    (run_dir / "results.json").write_text("[]")
    assert experiment.cell_status(ctx, cell) == (
        f"stops: {run_dir / 'results.json'}: altered since written (SHA-256 differs)"
    )
    (run_dir / "config.json").write_text("{}")
    assert experiment.cell_status(ctx, cell).startswith(
        f"stops: {run_dir / 'config.json'}: cut: 2 bytes, "
    )


def test_reusable_keeps_refuses_or_clears_a_run_directory(tmp_path, monkeypatch, caplog):
    ctx, cell, run_dir, key = _status_context(tmp_path)
    used = {"cmner/train.txt": "a"}
    assert experiment._reusable(ctx, cell, run_dir, key, used) is False
    assert not run_dir.exists()
    _settle(run_dir, key, used, metrics="{}\n")
    assert experiment._reusable(ctx, cell, run_dir, key, used) is True
    where = re.escape(str(run_dir))
    message = (
        f"^{where} holds a run made with other settings; to keep it, use another --out, else "
        "delete that directory$"
    )
    with pytest.raises(ValueError, match=message):
        experiment._reusable(ctx, cell, run_dir, "other", used)
    ctx.cfg.on_change = "refuse"
    message = (
        rf"^{where}: inputs differ from those it was made from \(cmner/train.txt changed\); "
        r"rerun with --on-change recompute to recompute it, or use another --out$"
    )
    with pytest.raises(ValueError, match=message):
        experiment._reusable(ctx, cell, run_dir, key, {"cmner/train.txt": "b"})
    assert (run_dir / "metrics.jsonl").exists()
    (run_dir / ".lock").write_text("")
    (run_dir / "tb").mkdir()
    (run_dir / "tb" / "events").write_text("x")
    discarded = []
    monkeypatch.setattr(experiment.scalars, "discard", discarded.append)
    ctx.cfg.on_change = "recompute"
    with caplog.at_level(logging.WARNING, logger=experiment.log.name):
        assert experiment._reusable(ctx, cell, run_dir, key, {"cmner/train.txt": "b"}) is False
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]
    assert discarded == [run_dir]
    assert caplog.messages == [
        f"{run_dir}: inputs changed (cmner/train.txt changed); recomputing this cell"
    ]


def test_check_inputs_compares_the_files_both_runs_read(tmp_path, caplog):
    out = tmp_path / "runs"
    cfg = _cfg('on_change="refuse"')
    experiment.check_inputs(cfg, out, {"a": "1"})  # a new runs directory
    out.mkdir()
    io.write_json(out / "environment.json", {"python": "3"})
    manifest.record(out / "environment.json")
    experiment.check_inputs(cfg, out, {"a": "1"})  # none recorded: nothing changed
    io.write_json(out / "environment.json", {"inputs": {"a": "1", "b": "2", "gone": "3"}})
    manifest.record(out / "environment.json")
    experiment.check_inputs(cfg, out, {"a": "1", "b": "2", "new": "4"})  # images off, or on
    message = (
        rf"^{out}: inputs differ from the last run's \(a changed; b changed\); rerun with "
        r"--on-change recompute to recompute what depends on them, or use another --out$"
    )
    with pytest.raises(ValueError, match=message):
        experiment.check_inputs(cfg, out, {"a": "9", "b": "8"})
    with caplog.at_level(logging.WARNING, logger=experiment.log.name):
        experiment.check_inputs(_cfg(), out, {"a": "9", "b": "2"})
    assert caplog.messages == [
        f"{out}: inputs changed since the last run (a changed); recomputing what they feed"
    ]
    (out / "environment.json").write_text("{}")
    with pytest.raises(manifest.DamagedFile, match="environment.json: cut: 2 bytes"):
        experiment.check_inputs(cfg, out, {"a": "1"})


# ---- workers -------------------------------------------------------------------------------


def _machine(monkeypatch, cores: int | None, world: int | None = None, local: int | None = None):
    monkeypatch.setattr(experiment.os, "cpu_count", lambda: cores)
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE",
                 "LOCAL_WORLD_SIZE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    if world:
        monkeypatch.setenv("WORLD_SIZE", str(world))
    if local:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local))


def test_worker_count(monkeypatch, caplog):
    _machine(monkeypatch, 6)
    assert experiment.worker_count(_cfg("jobs=3")) == 3
    assert experiment.worker_count(_cfg("jobs=0")) == 6
    _machine(monkeypatch, None)
    assert experiment.worker_count(_cfg("jobs=0")) == 1
    _machine(monkeypatch, 6, world=2)
    with caplog.at_level(logging.WARNING, logger=experiment.log.name):
        assert experiment.worker_count(_cfg("jobs=1")) == 1
        assert caplog.messages == []
        assert experiment.worker_count(_cfg("jobs=2")) == 1
        assert experiment.worker_count(_cfg("jobs=0")) == 1
    assert caplog.messages == ["jobs = 2 ignored: a launch trains one cell at a time"]


def test_worker_threads(monkeypatch):
    _machine(monkeypatch, 8)
    assert experiment.worker_threads(_cfg("threads=1", "jobs=1")) == 1
    assert experiment.worker_threads(_cfg("threads=3", "jobs=8")) == 3
    assert experiment.worker_threads(_cfg("threads=0", "jobs=1")) == 8
    assert experiment.worker_threads(_cfg("threads=0", "jobs=3")) == 2  # 8 // 3
    assert experiment.worker_threads(_cfg("threads=0", "jobs=16")) == 1
    assert experiment.worker_threads(_cfg("threads=0", "jobs=0")) == 1  # a worker per core
    _machine(monkeypatch, None)
    assert experiment.worker_threads(_cfg("threads=0", "jobs=2")) == 1
    assert experiment.worker_threads(_cfg("threads=0", "jobs=1")) == 1
    _machine(monkeypatch, 8, world=4, local=2)  # two of the launch's processes on this machine
    assert experiment.worker_threads(_cfg("threads=0", "jobs=1")) == 4
    _machine(monkeypatch, 8, world=4)
    assert experiment.worker_threads(_cfg("threads=0", "jobs=1")) == 2


def test_counter_prints_the_overall_line_with_the_time_left(tmp_path, monkeypatch):
    ctx = _context(tmp_path, _cfg("progress=true"))
    ctx.started = 100.0
    cells = [Cell("en2zh", "acn", "-", 1), Cell("zh2en", "acn", "-", 1)]
    asked, lines = [], []
    monkeypatch.setattr(experiment, "time_left", lambda c, cs: asked.append((c, cs)) or "LEFT")
    monkeypatch.setattr(experiment, "say", lines.append)
    monkeypatch.setattr(experiment.estimate, "overall_line", lambda *a: a)
    monkeypatch.setattr(experiment.time, "perf_counter", lambda: 160.0)
    finished = experiment._counter(ctx, cells)
    result = {"f1": 0.5}
    assert finished(result) is result
    assert finished({}) == {}
    assert lines == [(1, 2, 60.0, "LEFT"), (2, 2, 60.0, None)]
    assert asked == [(ctx, cells)]
    ctx.cfg.progress = False
    assert experiment._counter(ctx, cells)(result) is result and len(lines) == 2


def test_time_left_estimates_from_statuses_and_train_sizes(tmp_path, monkeypatch):
    _machine(monkeypatch, 4)
    ctx = _context(tmp_path, _cfg("jobs=0"))
    ctx.train_sizes["cmner"] = 3  # what load_corpora counted: the parent keeps no posts
    cells = [Cell("en2zh", "acn", "-", 1), Cell("zh2en", "acn", "TGT", 1)]
    key = experiment.cell_key(ctx.cfg, "acn", "-", "none")
    _settle(cells[0].run_dir(ctx.out), key, {}, results="{}")
    got = []
    monkeypatch.setattr(estimate, "estimate", lambda *a: got.append(a) or "E")
    assert experiment.time_left(ctx, cells) == "E"
    assert got == [(ctx.cfg, ctx.out, cells, ["done", "to do"], {"cmner": 3, "twitter2015": 2}, 4)]


def test_stop_cancels_waiting_cells_and_ends_the_workers():
    events = []
    process = SimpleNamespace(
        terminate=lambda: events.append("terminate"), join=lambda: events.append("join")
    )
    pool = SimpleNamespace(
        _processes={1: process, 2: process},
        shutdown=lambda **kw: events.append(kw),
    )
    experiment._stop(pool)
    assert events == [
        {"wait": False, "cancel_futures": True},
        "terminate",
        "terminate",
        "join",
        "join",
    ]
    events.clear()
    pool._processes = None  # shut down already
    experiment._stop(pool)
    assert events == [{"wait": False, "cancel_futures": True}]


# ---- small helpers -------------------------------------------------------------------------


def test_fingerprint_hashes_names_and_values_in_name_order():
    a, b = torch.arange(6.0).reshape(2, 3), torch.tensor([1, 2], dtype=torch.int64)
    h = hashlib.sha256()
    for name, t in (("a", a), ("b", b)):
        h.update(name.encode())
        h.update(t.numpy().tobytes())
    assert experiment.fingerprint({"b": b, "a": a}) == h.hexdigest()[:16]
    assert experiment.fingerprint({"a": a}) != experiment.fingerprint({"c": a})
    assert experiment.fingerprint({"a": a.t()}) == experiment.fingerprint({"a": a.t().contiguous()})
    weight = torch.nn.Parameter(a.clone())  # a parameter that needs grad hashes as its values
    assert experiment.fingerprint({"a": weight, "b": b}) == h.hexdigest()[:16]


def test_frozen_and_trainable_parameters():
    layer = torch.nn.Linear(2, 3)
    layer.weight.requires_grad_(False)
    assert list(experiment._frozen(layer)) == ["weight"]
    assert list(experiment._trainable(layer)) == ["bias"]
    assert experiment._frozen(layer)["weight"] is layer.weight


def test_log_target_names_the_cell_for_the_scalars_backend(tmp_path):
    ctx = _context(tmp_path, _cfg('log_with="none"', 'preset="/presets/mine.toml"'))
    target = experiment._log_target(ctx, Cell("zh2en", "umt", "SRC&TGT", 2, "all"))
    assert target == scalars.Target(
        "none", str(tmp_path / "runs"), "mine", "zh2en/umt/SRC&TGT seed 2",
        {"direction": "zh2en", "model": "umt", "schedule": "SRC&TGT", "seed": "2", "images": "all"},
    )  # fmt: skip


def test_timed_records_seconds_and_peak_memory(tmp_path, monkeypatch, caplog):
    ctx = _context(tmp_path)
    monkeypatch.setattr(experiment.time, "perf_counter", lambda: 12.37)
    usage = SimpleNamespace(ru_maxrss=2048 * 1024 + 700)  # kB on Linux
    monkeypatch.setattr(experiment.resource, "getrusage", lambda who: usage)
    with caplog.at_level(logging.INFO, logger=experiment.log.name):
        ctx.timed("read corpora", 10.0)
    assert ctx.timings == [experiment.Timing("read corpora", 2.4, 2048.7)]
    assert caplog.messages == ["read corpora: 2.4 s, peak RSS 2049 MB"]


def test_a_killed_worker_is_one_line_saying_what_is_kept(tmp_path, monkeypatch):
    """A worker killed mid-cell (OOM, a signal) ends the run with a plain error, not a traceback."""
    import concurrent.futures as cf
    import threading
    from concurrent.futures.process import BrokenProcessPool

    class Pool:  # the first cell finishes, then the pool breaks under the second
        def __init__(self, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, cell):
            future = cf.Future()
            if cell.seed == 1:
                future.set_result(({"f1": 0.5}, []))
            else:  # breaks while the run waits for it, after the first cell came in
                broken = BrokenProcessPool("terminated abruptly")
                threading.Timer(0.2, future.set_exception, [broken]).start()
            return future

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Pool)
    ctx = _context(tmp_path, _cfg("jobs=2", "progress=false"))
    cells = [Cell("en2zh", "acn", "-", 1), Cell("en2zh", "acn", "-", 2)]
    with pytest.raises(ChildProcessError) as err:
        experiment.run_cells(ctx, cells)
    assert str(err.value) == (
        "a worker process ended abruptly (killed, or out of memory); 1 of 2 cells are done and "
        "kept, and a killed cell resumes from its last saved epoch: rerun the same command"
    )
