"""The time and memory estimate: hand-checked arithmetic on synthetic run directories."""

import json

import pytest

from xmner.pipelines import estimate
from xmner.pipelines.config import load_experiment
from xmner.pipelines.experiment import Cell

POSTS = {"twitter2015": 100, "cmner": 50}  # train posts: en2zh's source and target


def _cfg(tmp_path):
    # offline caps: pretrain 12 epochs (patience 2), fine-tuning 40 (patience 5)
    return load_experiment("offline", [f'out="{tmp_path}"'])


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))


def _stage(stage, posts, epochs, seconds):
    return {"stage": stage, "posts": posts, "epochs_run": epochs, "seconds": seconds}


def _run_dir(tmp_path):
    """One finished TGT cell and one killed in fine-tuning epoch 4; timings of an earlier run."""
    done, resumed = Cell("en2zh", "acn", "TGT", 1), Cell("en2zh", "acn", "TGT", 3)
    # pretrain: 40 s over 100 posts x 4 epochs = 0.1 s a post-epoch; fine-tune: 100 / (50 x 10)
    stages = [_stage("pretrain", 100, 4, 40.0), _stage("finetune", 50, 10, 100.0)]
    _write(done.run_dir(tmp_path) / "results.json",
           {"direction": "en2zh", "model": "acn", "stages": stages})  # fmt: skip
    # the killed cell finished pretraining (same cost: 100 translated posts x 4 epochs in 40 s)
    _write(resumed.run_dir(tmp_path) / "pretrain.done.json", {"epochs_run": 4, "seconds": 40.0})
    lines = [{"stage": "pretrain", "epoch": e} for e in range(4)]
    lines += [{"stage": "finetune", "epoch": e, "seconds": 20.0 * (e + 1)} for e in range(3)]
    _write(
        resumed.run_dir(tmp_path) / "metrics.jsonl", "".join(json.dumps(x) + "\n" for x in lines)
    )
    timings = [
        {"step": "read corpora", "seconds": 1, "peak_rss_mb": 300.0},
        {"step": "embeddings (fastText + alignment)", "seconds": 2, "peak_rss_mb": 400.0},
        {"step": "cell en2zh/acn/TGT seed 1", "seconds": 140, "peak_rss_mb": 1500.0},
        {"step": "cell en2zh/acn/- seed 1", "seconds": 90, "peak_rss_mb": 1700.0},
        {"step": "report", "seconds": 3, "peak_rss_mb": 450.0},
    ]
    _write(tmp_path / "report" / "timings.json", timings)
    return [done, Cell("en2zh", "acn", "TGT", 2), resumed]


STATUSES = ["done", "to do", "to do (resumes: 7 epoch(s) saved)"]


def test_costs_are_pooled_per_direction_model_and_stage(tmp_path):
    cells = _run_dir(tmp_path)
    costs = estimate.measured(tmp_path, cells, POSTS)
    assert costs.stages == {
        ("en2zh", "acn", "pretrain"): estimate.StageCost(0.1, 4.0, 2),
        ("en2zh", "acn", "finetune"): estimate.StageCost(0.2, 10.0, 1),
    }
    assert (costs.worker_rss_mb, costs.parent_rss_mb) == ({"acn": 1700.0}, 400.0)
    assert costs.source == f"3 finished stages in {tmp_path}/"


def test_the_parent_beside_the_workers_is_its_read_back_not_the_builders(tmp_path):
    timings = [
        {"step": "read corpora", "seconds": 1, "peak_rss_mb": 300.0},
        {"step": "embeddings (fastText + alignment)", "seconds": 2, "peak_rss_mb": 1100.0},
        {"step": "read the shared artefacts back", "seconds": 4, "peak_rss_mb": 450.0},
        {"step": "cell en2zh/acn/- seed 1", "seconds": 90, "peak_rss_mb": 1800.0},
    ]
    _write(tmp_path / "report" / "timings.json", timings)
    assert estimate.memory(tmp_path) == ({"acn": 1800.0}, 450.0)


def test_seconds_left_count_only_what_is_not_saved(tmp_path):
    cells = _run_dir(tmp_path)
    one = estimate.estimate(_cfg(tmp_path), tmp_path, cells, STATUSES, POSTS, workers=1)
    # seed 2: 100 x 4 x 0.1 + 50 x 10 x 0.2 = 140 s; seed 3: (10 - 3) x 50 x 0.2 = 70 s
    assert one.seconds == pytest.approx(210.0)
    assert (one.cells, one.workers, one.unknown) == (2, 1, [])
    assert one.peak_rss_mb == 1700.0  # one process: the larger of parent and worker
    assert one.source == f"3 finished stages in {tmp_path}/"
    two = estimate.estimate(_cfg(tmp_path), tmp_path, cells, STATUSES, POSTS, workers=2)
    assert two.seconds == pytest.approx(140.0)  # 140 s on one worker, 70 s on the other
    assert two.peak_rss_mb == 400.0 + 2 * 1700.0  # the parent and two workers
    # a cell whose inputs changed starts again: its saved epochs are not counted
    changed = estimate.estimate(
        _cfg(tmp_path), tmp_path, cells, ["done", "to do", "to do (inputs changed: x)"], POSTS, 1
    )
    assert changed.seconds == pytest.approx(280.0)


def test_a_stage_past_its_usual_stop_counts_one_more_epoch(tmp_path):
    cells = _run_dir(tmp_path)
    metrics = cells[2].run_dir(tmp_path) / "metrics.jsonl"
    lines = [{"stage": "finetune", "epoch": e} for e in range(12)]
    metrics.write_text("".join(json.dumps(x) + "\n" for x in lines))
    e = estimate.estimate(_cfg(tmp_path), tmp_path, cells[2:], STATUSES[2:], POSTS, workers=1)
    assert e.seconds == pytest.approx(1 * 50 * 0.2)


def test_an_empty_runs_directory_falls_back_on_the_packaged_costs(tmp_path):
    cfg = _cfg(tmp_path / "runs")
    packaged = json.loads(estimate.PACKAGED.read_text())
    cell = Cell("en2zh", "acn", "-", 1)  # trains on CMNER's train split alone
    e = estimate.estimate(cfg, tmp_path / "runs", [cell], ["to do"], POSTS, workers=4)
    cost = packaged["stages"]["en2zh/acn/train"]
    epochs = min(cost["epochs"], cfg.acn.train.epochs)
    assert e.seconds == pytest.approx(50 * epochs * cost["seconds_per_post_epoch"])
    assert e.workers == 1  # one cell: run in the parent process
    assert e.peak_rss_mb == max(packaged["parent_rss_mb"], packaged["worker_rss_mb"]["acn"])
    assert e.source.startswith("the packaged reference-machine costs (")
    assert packaged["date"] in e.source and packaged["machine"] in e.source


def test_a_cell_without_any_cost_is_named_and_leaves_the_time_left_unsaid(tmp_path):
    cells = [Cell("en2zh", "umt", "-", 1)]
    e = estimate.estimate(_cfg(tmp_path), tmp_path, cells, ["to do"], POSTS, workers=1)
    assert (e.cells, e.unknown) == (0, ["en2zh/umt/- seed 1"])
    head, *why = estimate.render(e)
    assert head.endswith("peak memory about 0.5 GB (umt not measured)")
    assert " ".join(why).endswith("not counted, no cost measured yet: 1 umt cell")
    assert estimate.overall_line(1, 2, 90, e) == "cells 1/2 · 2 min elapsed"


def test_wall_time_gives_each_cell_in_order_to_the_first_free_worker():
    assert estimate.wall_time([0.0, 140.0, 70.0], 2) == 140.0
    assert estimate.wall_time([3.0, 3.0, 3.0], 2) == 6.0
    assert estimate.wall_time([5.0, 1.0, 1.0, 1.0], 2) == 5.0
    assert estimate.wall_time([], 3) == 0.0


def test_overall_line_and_durations():
    left = estimate.Estimate(35 * 60, 0.0, 5, 2, "")
    assert (
        estimate.overall_line(3, 8, 21 * 60, left)
        == "cells 3/8 · 21 min elapsed · about 35 min left"
    )
    assert estimate.overall_line(8, 8, 52 * 60, None) == "cells 8/8 · 52 min elapsed"
    assert [estimate.rounded_minutes(s) for s in (20, 31, 119 * 60, 125 * 60)] == [
        "<1 min", "1 min", "119 min", "2 h 05 min",
    ]  # fmt: skip


def test_plan_lines_say_time_memory_workers_and_where_from(tmp_path):
    e = estimate.Estimate(90 * 60, 4.5 * 1024, 8, 2, "6 finished stages in runs/")
    head, *why = estimate.render(e)
    assert head == "estimate: about 90 min for 8 cells left on 2 workers, peak memory about 4.5 GB"
    assert " ".join(why).startswith(
        "  from 6 finished stages in runs/; approximate: early stopping"
    )
    assert estimate.render(estimate.Estimate(0.0, 0.0, 0, 1, "")) == [
        "estimate: nothing left to train"
    ]


def test_packaged_costs_round_trip_through_to_json(tmp_path):
    costs = estimate.packaged()
    data = estimate.to_json(costs, "m", "d", "c")
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(data))
    again = estimate.packaged(path)
    assert again.stages == costs.stages
    assert again.worker_rss_mb == costs.worker_rss_mb
