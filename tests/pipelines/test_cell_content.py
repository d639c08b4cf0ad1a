"""What each stage of each cell really trained on, selected with and scored: read from the
objects the training loop received and from the files a cell wrote, never from its own labels."""

import json
from pathlib import Path

import pytest

from xmner.cli import main
from xmner.data.corpus import read_corpus
from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment
from xmner.pipelines.schedules import DIRECTIONS

STAGE_LR = {"train": 0.05, "pretrain": 0.051, "finetune": 0.052}  # tells the stages apart


def _posts(examples):
    return [(p.id, p.lang, tuple(p.tokens)) for p, _ in examples]


@pytest.fixture(scope="module", params=["en2zh", "zh2en"])
def run(request, tmp_path_factory, data_root):
    """Every schedule of one direction, with a spy on the training loop."""
    direction = request.param
    out = tmp_path_factory.mktemp(direction)
    calls = []
    real_fit = experiment.fit

    def spy(model, train, dev, collate, cfg, run_dir, stage, seed, **kwargs):
        cell = Path(run_dir).relative_to(out).parts[2]
        calls.append({"cell": cell, "stage": stage, "train": _posts(train), "dev": _posts(dev),
                      "cfg": cfg, "dev_gold": kwargs["dev_gold"]})  # fmt: skip
        return real_fit(model, train, dev, collate, cfg, run_dir, stage, seed, **kwargs)

    cfg = load_experiment("smoke", [
        f'out="{out}"', f'data.data_dir="{data_root}"', f'directions=["{direction}"]',
        "data.max_posts=40", *(f"acn.{s}.lr={lr}" for s, lr in STAGE_LR.items()),
        *(f"acn.{s}.epochs=5" for s in STAGE_LR),
    ])  # fmt: skip
    mp = pytest.MonkeyPatch()
    mp.setattr(experiment, "fit", spy)
    try:
        results, ctx = experiment.run_experiment(cfg)
    finally:
        mp.undo()
    return direction, out, results, ctx, calls


def test_each_stage_trains_on_the_posts_its_schedule_names(run):
    direction, out, results, ctx, calls = run
    d = DIRECTIONS[direction]
    source = [(p.id, d.source_lang, tuple(p.tokens)) for p in ctx.corpora[d.source, "train"]]
    target = [(p.id, d.target_lang, tuple(p.tokens)) for p in ctx.corpora[d.target, "train"]]
    # the translated posts are the translation artefact's posts, in the target language
    artefact = ctx.translation_reports[direction].parent / "train.txt"
    translated = [(p.id, d.target_lang, tuple(p.tokens)) for p in read_corpus(artefact)]
    assert [i for i, _, _ in translated] == [i for i, _, _ in source]  # one per source post
    assert [t for _, _, t in translated] != [t for _, _, t in source]
    expected = {
        ("target-only", "train"): target,
        ("SRC", "pretrain"): source,
        ("TGT", "pretrain"): translated,
        ("SRC&TGT", "pretrain"): source + translated,
        **{(cell, "finetune"): target for cell in ("SRC", "TGT", "SRC&TGT")},
    }
    seen = {(c["cell"], c["stage"]): c["train"] for c in calls}
    assert seen.keys() == expected.keys()
    for key, posts in expected.items():
        assert seen[key] == posts, key


def test_every_stage_selects_on_target_dev_with_its_own_settings(run):
    direction, out, results, ctx, calls = run
    d = DIRECTIONS[direction]
    dev = ctx.corpora[d.target, "dev"]
    for call in calls:
        assert call["dev"] == [(p.id, d.target_lang, tuple(p.tokens)) for p in dev]
        assert call["dev_gold"] == [p.tags for p in dev]
        assert call["cfg"].lr == STAGE_LR[call["stage"]]
        assert call["cfg"].select  # target-dev selection, not a fixed budget
    for r in results:
        assert [s["stage"] for s in r["stages"]] == (
            ["train"] if r["schedule"] == "-" else ["pretrain", "finetune"]
        )


def test_reported_scores_equal_rescoring_the_predictions(run, capsys):
    direction, out, results, ctx, calls = run
    table = (out / "report" / ("table3.md" if direction == "en2zh" else "table4.md")).read_text()
    assert any(r["f1"] > 0 and r["precision"] != r["recall"] for r in results)  # not vacuous
    for r in results:
        cell = out / direction / "acn" / ("target-only" if r["schedule"] == "-" else r["schedule"])
        assert main(["evaluate", str(out / r["gold_test"]), str(cell / "seed1" / "predictions.txt"),
                     "--json"]) == 0  # fmt: skip
        rescored = json.loads(capsys.readouterr().out)
        for key in ("precision", "recall", "f1"):
            assert r[key] == pytest.approx(rescored[key], abs=1e-12)
        saved = json.loads((cell / "seed1" / "results.json").read_text())
        assert (saved["precision"], saved["recall"]) == (r["precision"], r["recall"])
        row = f"| ACN | {r['schedule']} | {100 * r['precision']:.2f} | {100 * r['recall']:.2f} |"
        assert row in table
