"""The plan ``xmner reproduce`` prints first, and ``--dry-run``, on the smoke preset."""

import pytest

from xmner.cli import main
from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment
from xmner.pipelines.plan import make_plan, render_plan


def _argv(out, data_root, *extra):
    return [
        "reproduce",
        "--preset",
        "smoke",
        "--out",
        str(out),
        "--data-dir",
        str(data_root),
        *extra,
    ]


def test_dry_run_lists_data_steps_and_every_cell_and_writes_nothing(tmp_path, data_root, capsys):
    out = tmp_path / "runs"
    assert main(_argv(out, data_root, "--dry-run")) == 0
    text = capsys.readouterr().out
    assert f"data from {data_root}, at most 20 posts a split" in text
    assert "cmner        posts: train 20, dev 20, test 20" in text
    assert "translate twitter2015 train -> zh (lexicon)  to do" in text
    assert "cells (8: 0 done, 8 to run):" in text
    for cell in experiment.plan_cells(load_experiment("smoke")):
        assert f"  {cell.name} " in text
    assert f"report:  {out / 'report'}/" in text
    # nothing measured in a new runs directory: the reference machine's costs, said so
    assert "estimate: about <1 min for 8 cells left on 1 worker, peak memory about " in text
    assert "  from the packaged reference-machine costs (" in text
    assert "approximate: early stopping decides the epochs" in " ".join(text.split())
    assert not out.exists()  # nothing trained, nothing written


def test_after_a_run_the_plan_says_what_is_cached_and_done(tmp_path, data_root):
    cfg = load_experiment(
        "smoke",
        [f'out="{tmp_path}"', f'data.data_dir="{data_root}"', 'directions=["en2zh"]',
         'schedules=["-", "TGT"]'],
    )  # fmt: skip
    experiment.run_experiment(cfg)
    plan = make_plan(cfg)
    assert [s.status for s in plan.steps] == ["cached", "cached"]
    assert [(c.name, c.status) for c in plan.cells] == [
        ("en2zh/acn/TGT seed 1", "done"),
        ("en2zh/acn/- seed 1", "done"),
    ]
    assert "cells (2: 2 done, 0 to run):" in render_plan(plan)
    assert "estimate: nothing left to train" in render_plan(plan)
    run_dir = tmp_path / "en2zh" / "acn" / "target-only" / "seed1"
    results = run_dir / "results.json"
    results.write_text(results.read_text().replace('"seed": 1', '"seed": 2'))
    status = make_plan(cfg).cells[1].status  # the runner would refuse it too:
    assert status.startswith("stops:") and "altered since written" in status
    with pytest.raises(ValueError, match="altered since written"):
        experiment.run_cell(experiment.prepare(cfg), experiment.plan_cells(cfg)[1])
    results.unlink()
    plan = make_plan(cfg)
    assert plan.cells[1].status == "to do (resumes: 2 epoch(s) saved)"
    # its one stage is done (killed while testing): nothing left to train, from this run's stages
    assert (plan.estimate.cells, plan.estimate.seconds) == (1, 0.0)
    assert plan.estimate.source == f"3 finished stages in {tmp_path}/"


def test_images_with_a_folder_for_one_corpus_says_the_other_runs_text_only(tmp_path, data_root):
    cfg = load_experiment(
        "smoke",
        [f'out="{tmp_path}"', f'data.data_dir="{data_root}"', 'data.images="all"',
         f'data.image_dirs={{cmner="{tmp_path}"}}'],
    )  # fmt: skip
    text = render_plan(make_plan(cfg))
    assert "image region features" in text
    assert "no folder for twitter2015: its posts (and their translations) run text only" in text
    assert "no folder for cmner" not in text


def test_train_plans_its_one_cell_even_with_cmner_images(tmp_path, data_root, capsys):
    from xmner.cli import main

    images = data_root / "cmner" / "example_images"
    common = ["--preset", "smoke", "--out", str(tmp_path), "--data-dir", str(data_root),
              "--set", f'data.image_dirs={{cmner="{images}"}}', "--dry-run"]  # fmt: skip
    assert main(["reproduce", *common]) == 0
    assert "images all" in capsys.readouterr().out  # reproduce plans CMNER's image ablation ...
    args = ["train", *common, "--direction", "zh2en", "--model", "acn", "--schedule", "SRC"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "cells (1: 0 done, 1 to run)" in out and "images all" not in out  # ... train, one
