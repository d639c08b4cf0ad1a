"""Every schedule end to end on the smoke preset (~20 posts a split), resume, and the CLI."""

import json

import pytest

from xmner.cli import main
from xmner.data.corpus import read_corpus
from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment

STAGE_READS = {
    "en2zh": {
        "-": [],
        "SRC": ["twitter2015:train"],
        "TGT": ["twitter2015:train->zh"],
        "SRC&TGT": ["twitter2015:train", "twitter2015:train->zh"],
    },
    "zh2en": {
        "-": [],
        "SRC": ["cmner:train"],
        "TGT": ["cmner:train->en"],
        "SRC&TGT": ["cmner:train", "cmner:train->en"],
    },
}
TARGET = {"en2zh": "cmner", "zh2en": "twitter2015"}


def _smoke(tmp_path, data_root, *overrides):
    return load_experiment(
        "smoke", [f'out="{tmp_path}"', f'data.data_dir="{data_root}"', *overrides]
    )


@pytest.mark.parametrize("model", ["acn", "umt"])
def test_all_schedules_both_directions(model, tmp_path, data_root):
    cfg = _smoke(tmp_path, data_root, f'models=["{model}"]')
    results, ctx = experiment.run_experiment(cfg)
    assert len(results) == 8
    for r in results:
        d, s = r["direction"], r["schedule"]
        pre = [st for st in r["stages"] if st["stage"] == "pretrain"]
        fine = [st for st in r["stages"] if st["stage"] == ("finetune" if pre else "train")]
        # the right corpora feed each stage
        assert (pre[0]["train"] if pre else []) == STAGE_READS[d][s]
        assert fine[0]["train"] == [f"{TARGET[d]}:train"] and fine[0]["posts"] == 20
        assert fine[0]["select"] == f"{TARGET[d]}:dev"
        if pre:
            assert pre[0]["posts"] == 20 * len(STAGE_READS[d][s])
            # fine-tuning starts from the selected pretrained weights
            assert r["fingerprints"]["finetune_start"] == r["fingerprints"]["pretrain_best"]
        assert r["test"] == f"{TARGET[d]}:test" and r["test_posts"] == 20
        assert 0.0 <= r["f1"] <= 1.0
        run_dir = tmp_path / d / model / ("target-only" if s == "-" else s) / "seed1"
        preds = read_corpus(run_dir / "predictions.txt")
        gold = read_corpus(tmp_path / r["gold_test"])
        assert [p.tokens for p in preds] == [g.tokens for g in gold]
        names = {t[2:] for p in preds for t in p.tags if t != "O"}
        assert "MISC" not in names if TARGET[d] == "twitter2015" else "OTHER" not in names
        assert (run_dir / "best.pt").exists() and (run_dir / "config.json").exists()
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == 2 * (1 + len(pre)) and "dev_f1" in json.loads(lines[-1])
    if model == "umt":
        for r in results:
            fp = r["fingerprints"]
            assert fp["frozen_params"] > 0  # embeddings + bottom encoder layers
            assert fp["frozen_before"] == fp["frozen_after"]  # frozen layers did not move
            assert fp["trainable_before"] != fp["trainable_after"]  # the rest did
    report = (tmp_path / "report" / "table3.md").read_text()
    assert f"| {model.upper()} | SRC&TGT |" in report
    assert (tmp_path / "report" / "results.csv").read_text().count("\n") == 9
    # a rerun skips every finished cell
    again, _ = experiment.run_experiment(cfg)
    assert again == results


def _metrics(run_dir):
    """metrics.jsonl without wall times: what an exact resume must reproduce line by line."""
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in x.items() if k != "seconds"} for x in lines]


def test_killed_run_resumes_to_the_same_result(tmp_path, data_root, monkeypatch):
    # dropout draws from torch's RNG in every step: only a restored RNG state gives equal epochs
    overrides = ['directions=["zh2en"]', 'schedules=["SRC"]', "acn.config.dropout=0.3"]
    clean, _ = experiment.run_experiment(_smoke(tmp_path / "clean", data_root, *overrides))
    real_fit = experiment.fit

    def dying_fit(*args, **kwargs):
        if "finetune" in (args[6:7] or [kwargs.get("stage")]):

            def die(epoch):
                raise KeyboardInterrupt("simulated kill after one epoch")

            kwargs["on_epoch_end"] = die
        return real_fit(*args, **kwargs)

    cfg = _smoke(tmp_path / "killed", data_root, *overrides)
    monkeypatch.setattr(experiment, "fit", dying_fit)
    with pytest.raises(KeyboardInterrupt):
        experiment.run_experiment(cfg)
    run_dir = tmp_path / "killed" / "zh2en" / "acn" / "SRC" / "seed1"
    assert (run_dir / "finetune.state.pt").exists() and not (run_dir / "results.json").exists()
    monkeypatch.setattr(experiment, "fit", real_fit)
    resumed, _ = experiment.run_experiment(cfg)
    for key in ("precision", "recall", "f1"):
        assert resumed[0][key] == clean[0][key]
    assert resumed[0]["fingerprints"] == clean[0]["fingerprints"]
    clean_dir = tmp_path / "clean" / "zh2en" / "acn" / "SRC" / "seed1"
    assert len(_metrics(run_dir)) == 4  # each epoch of both stages exactly once
    assert _metrics(run_dir) == _metrics(clean_dir)  # every epoch equal, not just the end
    assert (run_dir / "predictions.txt").read_text() == (clean_dir / "predictions.txt").read_text()


def test_cli_train_one_cell(tmp_path, data_root, capsys):
    argv = [
        "train",
        "--preset",
        "smoke",
        "--out",
        str(tmp_path),
        "--data-dir",
        str(data_root),
        "--direction",
        "en2zh",
        "--model",
        "acn",
        "--schedule",
        "-",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out  # the plan, then the scores
    assert out.startswith("plan: preset smoke")
    assert out.splitlines()[-1].startswith("en2zh acn - seed 1: P ")
    assert (tmp_path / "en2zh" / "acn" / "target-only" / "seed1" / "results.json").exists()


def test_umt_without_weights_is_a_clear_error(tmp_path, data_root, capsys):
    argv = [
        "reproduce",
        "--preset",
        "offline",
        "--out",
        str(tmp_path),
        "--data-dir",
        str(data_root),
        "--model",
        "umt",
        "--set",
        "data.max_posts=5",
        "--set",
        'schedules=["-"]',
    ]
    assert main(argv) == 1
    assert "umt.bert" in capsys.readouterr().err


def test_images_flow_from_files_to_both_models(tmp_path, data_root):
    """CMNER's 6 example posts with their 25 real images, a tiny random ResNet, --images all."""
    import shutil

    data = tmp_path / "data"
    (data / "cmner").mkdir(parents=True)
    for split in ("train.txt", "dev.txt", "test.txt"):
        shutil.copy(data_root / "cmner" / "example_text.txt", data / "cmner" / split)
    shutil.copytree(data_root / "twitter2015", data / "twitter2015")
    resnet = (
        '{embedding_size=8, hidden_sizes=[8, 8, 8, 16], depths=[1, 1, 1, 1], layer_type="basic"}'
    )
    cfg = load_experiment("smoke", [
        f'out="{tmp_path / "runs"}"', f'data.data_dir="{data}"', 'directions=["en2zh"]',
        'models=["acn", "umt"]', 'schedules=["-"]', 'data.images="all"',
        f'data.image_dirs={{cmner="{data_root / "cmner" / "example_images"}"}}',
        f"data.backbone_config={resnet}", "acn.config.region_dim=16",
        'umt.config={freeze_bottom_layers=3, max_len=256, region_dim=16}',
    ])  # fmt: skip
    results, ctx = experiment.run_experiment(cfg)
    main_cells = [r for r in results if r["table"] == "main"]
    assert [r["images"] for r in main_cells] == ["all", "all"]
    cmner_test = ctx.corpora["cmner", "test"]
    feats = [ctx.features["acn", "all", p.corpus, p.id] for p in cmner_test]
    assert all(f is not None and tuple(f.shape) == (49, 16) for f in feats)  # every post has images
    assert len({float(f.sum()) for f in feats}) == len(feats)  # each its own average
    one = [ctx.features["acn", "one", p.corpus, p.id] for p in cmner_test]
    # "one" takes a single image: it differs from the average wherever a post has several
    images_dir = data_root / "cmner" / "example_images"
    several = [len(list(images_dir.glob(f"{p.id}_*"))) > 1 for p in cmner_test]
    assert any(several) and not all(several)
    assert [not bool((a == b).all()) for a, b in zip(feats, one)] == several
    cached = list((tmp_path / "runs" / "cache" / "images").rglob("*.pt"))
    assert len(cached) == 25  # one feature file per real image, computed once
    assert all(0.0 <= r["f1"] <= 1.0 for r in results)
    # Table 2: CMNER target-only for each model and image mode, in its own run directories
    table2 = {(r["model"], r["images"]) for r in results if r["table"] == "table2"}
    assert table2 == {(m, i) for m in ("acn", "umt") for i in ("none", "one", "all")}
    runs = tmp_path / "runs"
    for model, images in table2:
        cell_dir = runs / "table2" / model / images / "seed1"
        config = json.loads((cell_dir / "config.json").read_text())
        assert config["images"] == images and config["schedule"] == "-"


def test_rerun_with_other_settings_is_refused(tmp_path, data_root):
    overrides = ['directions=["en2zh"]', 'schedules=["-", "SRC"]', "data.max_posts=8"]
    experiment.run_experiment(_smoke(tmp_path, data_root, *overrides))
    # the fine-tuning settings do not concern "-", only SRC
    cfg = _smoke(tmp_path, data_root, *overrides, "acn.finetune.lr=0.5")
    with pytest.raises(ValueError, match=r"SRC/seed1 holds a run made with other settings"):
        experiment.run_experiment(cfg)


def test_embeddings_and_vocabularies_never_see_dev_or_test_text(tmp_path, data_root, monkeypatch):
    from xmner.align import space

    seen = {}
    real = space.build_aligned_space

    def spy(en_texts, zh_texts, *args, **kwargs):
        seen["en"], seen["zh"] = en_texts, zh_texts
        return real(en_texts, zh_texts, *args, **kwargs)

    monkeypatch.setattr(space, "build_aligned_space", spy)
    cfg = _smoke(tmp_path, data_root, "data.max_posts=30", 'schedules=["-", "TGT"]')
    ctx = experiment.prepare(cfg)
    trained = {tuple(t) for lang in ("en", "zh") for t in seen[lang]}
    for (corpus, split), posts in ctx.corpora.items():
        if ":" in split:
            continue
        texts = {tuple(p.tokens) for p in posts}
        if split == "train":
            assert texts <= trained  # every training post is learnt from ...
        else:
            assert not texts & trained, f"{corpus}:{split} text reached fastText"
    for posts in ctx.translations.values():  # ... and so is every translated one
        assert {tuple(p.tokens) for p in posts} <= trained
    train_chars = {ch for (c, s), ps in ctx.corpora.items() if s == "train" for p in ps
                   for t in p.tokens for ch in t}  # fmt: skip
    translated = [p for ps in ctx.translations.values() for p in ps]
    train_chars |= {ch for p in translated for t in p.tokens for ch in t}
    assert set(ctx.resources["acn"]["chars"][2:]) <= train_chars


def test_cluster_vocabulary_comes_from_training_posts_only(tmp_path, data_root, monkeypatch):
    pytest.importorskip("spacy_lookups_data")
    from xmner.models import clusters

    seen = []
    real = clusters.build_cluster_vocab
    spy = lambda posts: seen.extend(posts) or real(seen)  # noqa: E731
    monkeypatch.setattr(clusters, "build_cluster_vocab", spy)
    cfg = _smoke(tmp_path, data_root, "data.max_posts=30", 'schedules=["-", "TGT"]',
                 "acn.target_config.twitter2015.cluster_dim=4")  # fmt: skip
    ctx = experiment.prepare(cfg)
    model = experiment.build_model(ctx, "acn", False, "twitter2015")
    expected = [p for (c, s), ps in ctx.corpora.items() if s == "train" for p in ps]
    expected += [p for ps in ctx.translations.values() for p in ps]
    assert [(p.id, p.lang) for p in seen] == [(p.id, p.lang) for p in expected]
    assert model.config.cluster_dim == 4 and model.clusters == real(expected)
    assert experiment.build_model(ctx, "acn", False, "cmner").clusters is None  # its own recipe
    # the table is an input of the cells that embed it, and of those only
    from xmner.pipelines import inputs

    table = inputs.fingerprint(clusters.table_file())
    assert (
        experiment.cell_inputs(ctx, experiment.Cell("zh2en", "acn", "SRC", 1))["clusters"] == table
    )
    assert "clusters" not in experiment.cell_inputs(ctx, experiment.Cell("en2zh", "acn", "SRC", 1))


def test_parallel_workers_give_the_results_of_one_process(tmp_path, data_root, monkeypatch):
    overrides = ['directions=["en2zh"]', 'schedules=["-", "SRC"]', "data.max_posts=12"]
    serial, _ = experiment.run_experiment(_smoke(tmp_path / "one", data_root, *overrides))
    cfg = _smoke(tmp_path / "two", data_root, *overrides, "jobs=2")

    def in_parent(*args, **kwargs):
        raise AssertionError("the parent built the word vectors itself")

    # with workers, a child process builds the shared artefacts (its memory ends with it)
    from xmner.align import space

    monkeypatch.setattr(space, "build_aligned_space", in_parent)
    parallel, ctx = experiment.run_experiment(cfg)
    steps = [t.step for t in ctx.timings]
    assert steps.index("embeddings (fastText + alignment)") < steps.index(
        "read the shared artefacts back"
    )
    strip = ("seconds", "path", "stages")
    assert [{k: v for k, v in r.items() if k not in strip} for r in parallel] == [
        {k: v for k, v in r.items() if k not in strip} for r in serial
    ]
    assert [s["best_dev_f1"] for r in parallel for s in r["stages"]] == [
        s["best_dev_f1"] for r in serial for s in r["stages"]
    ]
    assert {t.step for t in ctx.timings} >= {"cell en2zh/acn/- seed 1", "cell en2zh/acn/SRC seed 1"}
    # beside the workers the parent holds paths and counts, not posts or vectors
    assert ctx.corpora == {} and ctx.translations == {}
    assert set(ctx.resources["acn"]) == {"alignment_metrics"}
    assert ctx.train_sizes == {"cmner": 12, "twitter2015": 12}


@pytest.mark.parametrize(
    "flag, message",
    [
        (["--seeds", "1", "1"], "error: --seeds 1 1: config: seeds: expected distinct seeds"),
        (["--jobs", "0"], "expected a number of processes >= 1"),
        (["--images", "all"], "error: --images all: config: data.images = 'all' needs data.image_"),
    ],
)
def test_bad_reproduce_options_are_one_line_errors(tmp_path, data_root, capsys, flag, message):
    argv = ["reproduce", "--preset", "smoke", "--out", str(tmp_path), "--data-dir", str(data_root)]
    if flag[0] == "--jobs":  # argparse rejects it before anything runs
        with pytest.raises(SystemExit) as exc:
            main(argv + flag)
        assert exc.value.code == 2
    else:
        assert main(argv + flag) == 1
    err = capsys.readouterr().err
    assert message in err
    assert flag[0] == "--jobs" or len(err.strip().splitlines()) == 1
